// The peer.capnp codecs without a network: every field of a Raft message
// round-trips through a frame, and what the core must never see is refused.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include "schema/framing.h"
#include "sidecar/peer/frames.h"
#include "sidecar/peer/handshake.h"
#include "sidecar/peer/raft_codec.h"
#include "tests/unit/peer/message_samples.h"

namespace conclave::peer {
namespace {

namespace wire = schema::peer;
using testing::expect_same;
using testing::full_message;

// Decodes the Raft message in an encoded frame.
Decoded<raft::Message> through_frame(const kj::Array<capnp::word>& words) {
  capnp::FlatArrayMessageReader reader(words.asPtr(), framing::frame_reader_options(1u << 20));
  auto frame = reader.getRoot<wire::Frame>();
  EXPECT_EQ(frame.which(), wire::Frame::RAFT);
  return decode_raft_message(frame.getRaft());
}

TEST(PeerCodec, EveryFieldOfARaftMessageRoundTrips) {
  const raft::Message m = full_message(raft::NodeId(1), raft::NodeId(2));
  auto decoded = through_frame(raft_frame(m));
  ASSERT_TRUE(decoded) << decoded.error;
  expect_same(m, *decoded.value);
}

TEST(PeerCodec, EveryMessageTypeRoundTrips) {
  for (int t = 1; t <= 12; ++t) {
    raft::Message m = full_message(raft::NodeId(1), raft::NodeId(2));
    m.type = static_cast<raft::MessageType>(t);
    m.snapshot.reset();
    m.entries.clear();
    auto decoded = through_frame(raft_frame(m));
    ASSERT_TRUE(decoded) << decoded.error;
    expect_same(m, *decoded.value);
  }
}

// Builds a message with `mutate` applied to its wire form, and decodes it.
template <typename Mutate>
Decoded<raft::Message> decode_mutated(Mutate&& mutate) {
  capnp::MallocMessageBuilder builder;
  auto out = builder.initRoot<wire::RaftMessage>();
  encode_raft_message(full_message(raft::NodeId(1), raft::NodeId(2)), out);
  mutate(out);
  return decode_raft_message(out.asReader());
}

TEST(PeerCodec, UnknownMessageTypeIsRefused) {
  auto d = decode_mutated([](auto out) { out.setType(static_cast<wire::MessageType>(77)); });
  EXPECT_FALSE(d);
  EXPECT_NE(d.error.find("unknown Raft message type 77"), std::string::npos) << d.error;
  d = decode_mutated([](auto out) { out.setType(wire::MessageType::UNKNOWN); });
  EXPECT_FALSE(d);
}

TEST(PeerCodec, UnknownEntryTypeIsRefused) {
  auto d = decode_mutated(
      [](auto out) { out.getEntries()[1].setType(static_cast<wire::EntryType>(9)); });
  EXPECT_FALSE(d);
  EXPECT_NE(d.error.find("unknown type 9"), std::string::npos) << d.error;
}

TEST(PeerCodec, EntryAtIndexZeroIsRefused) {
  auto d = decode_mutated([](auto out) {
    auto entries = out.initEntries(1);
    entries[0].setIndex(0);
    entries[0].setType(wire::EntryType::NORMAL);
  });
  EXPECT_FALSE(d);
  EXPECT_NE(d.error.find("index 0"), std::string::npos) << d.error;
}

TEST(PeerCodec, NonContiguousEntriesAreRefused) {
  auto d = decode_mutated([](auto out) { out.getEntries()[2].setIndex(50); });
  EXPECT_FALSE(d);
  EXPECT_NE(d.error.find("not contiguous"), std::string::npos) << d.error;
}

TEST(PeerCodec, NodeZeroAndAbsurdConfigurationsAreRefused) {
  EXPECT_FALSE(decode_mutated([](auto out) { out.setFrom(0); }));
  auto d = decode_mutated([](auto out) { out.getSnapshot().getConfig().initVoters(2000); });
  EXPECT_FALSE(d);
  EXPECT_NE(d.error.find("2000 voters"), std::string::npos) << d.error;
  d = decode_mutated([](auto out) {
    auto learners = out.getSnapshot().getConfig().initLearners(1);
    learners.set(0, 2);  // already a voter
  });
  EXPECT_FALSE(d);
}

TEST(PeerCodec, LastSnapshotChunkMustCarryAMatchingInstallSnapshot) {
  raft::Message install = full_message(raft::NodeId(1), raft::NodeId(2));
  install.type = raft::MessageType::kInstallSnapshot;
  install.entries.clear();
  auto decode = [](const kj::Array<capnp::word>& words) {
    capnp::FlatArrayMessageReader reader(words.asPtr());
    return decode_snapshot_chunk(reader.getRoot<wire::Frame>().getSnapshotChunk(), 1u << 20);
  };
  auto good = decode(snapshot_chunk_frame(install, 100, "tail", true));
  ASSERT_TRUE(good) << good.error;
  EXPECT_EQ(good.value->total_bytes, 104u);
  EXPECT_EQ(good.value->meta, *install.snapshot);
  ASSERT_TRUE(good.value->install);
  expect_same(install, *good.value->install);

  raft::Message not_install = install;
  not_install.type = raft::MessageType::kAppend;
  EXPECT_FALSE(decode(snapshot_chunk_frame(not_install, 0, "x", true)));
  auto middle = decode(snapshot_chunk_frame(install, 5, "abc", false));
  ASSERT_TRUE(middle) << middle.error;
  EXPECT_FALSE(middle.value->install);
  EXPECT_EQ(middle.value->meta.index, install.snapshot->index);
  EXPECT_FALSE(decode(snapshot_chunk_frame(install, 0, std::string(2u << 20, 'x'), false)));
}

TEST(PeerCodec, FirstSnapshotChunkCarriesTheWholeMetadata) {
  raft::Message install = full_message(raft::NodeId(1), raft::NodeId(2));
  install.type = raft::MessageType::kInstallSnapshot;
  install.entries.clear();
  ASSERT_FALSE(install.snapshot->config.voters.empty());
  auto words = snapshot_chunk_frame(install, 0, "head", false);
  capnp::FlatArrayMessageReader reader(words.asPtr());
  auto first = decode_snapshot_chunk(reader.getRoot<wire::Frame>().getSnapshotChunk(), 1u << 20);
  ASSERT_TRUE(first) << first.error;
  EXPECT_EQ(first.value->meta, *install.snapshot) << "the receiver needs the configuration to begin its store";

  // A first chunk without it is refused.
  capnp::MallocMessageBuilder bare;
  auto chunk = bare.initRoot<wire::Frame>().initSnapshotChunk();
  chunk.setIndex(install.snapshot->index.value());
  chunk.setTerm(install.snapshot->term.value());
  EXPECT_FALSE(decode_snapshot_chunk(bare.getRoot<wire::Frame>().asReader().getSnapshotChunk(), 1u << 20));
}

TEST(PeerCodec, JoinResultRoundTripsWithTheRemovalNotice) {
  JoinResult notice{false, "removed from the cluster", raft::NodeId(1), "h:1", raft::Index(42)};
  auto words = join_result_frame(notice);
  capnp::FlatArrayMessageReader reader(words.asPtr());
  JoinResult back = decode_join_result(reader.getRoot<wire::Frame>().getJoinResult());
  EXPECT_EQ(back.removed_at, raft::Index(42));
  EXPECT_EQ(back.leader, raft::NodeId(1));
  EXPECT_EQ(back.leader_address, "h:1");
  JoinResult ordinary{true, "", raft::NodeId(1), "h:1"};
  auto words2 = join_result_frame(ordinary);
  capnp::FlatArrayMessageReader reader2(words2.asPtr());
  EXPECT_EQ(decode_join_result(reader2.getRoot<wire::Frame>().getJoinResult()).removed_at, raft::Index(0));
}

TEST(PeerHandshake, ProofDependsOnSecretNonceClusterAndNode) {
  const std::string nonce = make_nonce();
  EXPECT_EQ(nonce.size(), kNonceBytes);
  EXPECT_NE(nonce, make_nonce());
  const std::string p = hello_proof("secret", nonce, "c", raft::NodeId(1));
  EXPECT_EQ(p.size(), 32u);
  EXPECT_TRUE(proofs_equal(p, hello_proof("secret", nonce, "c", raft::NodeId(1))));
  EXPECT_FALSE(proofs_equal(p, hello_proof("secreT", nonce, "c", raft::NodeId(1))));
  EXPECT_FALSE(proofs_equal(p, hello_proof("secret", make_nonce(), "c", raft::NodeId(1))));
  EXPECT_FALSE(proofs_equal(p, hello_proof("secret", nonce, "d", raft::NodeId(1))));
  EXPECT_FALSE(proofs_equal(p, hello_proof("secret", nonce, "c", raft::NodeId(2))));
  EXPECT_FALSE(proofs_equal(p, ""));
  EXPECT_TRUE(hello_proof("", nonce, "c", raft::NodeId(1)).empty());
  // A hello's proof never passes for a welcome's.
  EXPECT_FALSE(proofs_equal(p, welcome_proof("secret", nonce, "c", raft::NodeId(1))));
  EXPECT_EQ(welcome_proof("secret", nonce, "c", raft::NodeId(1)).size(), 32u);
}

TEST(PeerHandshake, JudgeRefusesEachBadHelloWithItsReason) {
  const std::string nonce = make_nonce();
  auto hello = [&](std::uint64_t id) {
    HelloCheck h;
    h.protocol_version = 1;
    h.cluster_id = "c";
    h.node = raft::NodeId(id);
    h.proof = hello_proof("s", nonce, "c", h.node);
    return h;
  };
  auto judge = [&](const HelloCheck& h) {
    return judge_hello(h, 1, "c", raft::NodeId(2), "s", nonce,
                       [](raft::NodeId id) { return id == raft::NodeId(1); });
  };
  EXPECT_EQ(judge(hello(1)), "");
  HelloCheck h = hello(1);
  h.protocol_version = 2;
  EXPECT_NE(judge(h).find("protocol version 2 is not supported"), std::string::npos);
  h = hello(1);
  h.cluster_id = "d";
  EXPECT_NE(judge(h).find("cluster id 'd' does not match"), std::string::npos);
  EXPECT_NE(judge(hello(3)).find("node 3 is not a member"), std::string::npos);
  EXPECT_NE(judge(hello(2)).find("this node's own id"), std::string::npos);
  EXPECT_NE(judge(hello(0)).find("node id 0 is reserved"), std::string::npos);
  h = hello(1);
  h.proof[0] = static_cast<char>(h.proof[0] ^ 1);
  EXPECT_NE(judge(h).find("wrong cluster secret proof"), std::string::npos);
  // A joiner is admitted without being a member, but not without the secret.
  h = hello(3);
  h.joining = true;
  EXPECT_EQ(judge(h), "");
  h.proof.clear();
  EXPECT_NE(judge(h).find("wrong cluster secret proof"), std::string::npos);
}

}  // namespace
}  // namespace conclave::peer
