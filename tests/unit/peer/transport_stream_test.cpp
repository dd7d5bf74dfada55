// Transports on loopback, continued: a snapshot of several MiB streamed in
// chunks (intact, in order, with a heartbeat overtaking the tail of the
// stream), forwarded proposals and their results, the join round trip, and
// the lifecycle: peers removed from the address map, stop and start again.
#include "sidecar/peer/transport.h"

#include <gtest/gtest.h>

#include "tests/unit/peer/message_samples.h"
#include "tests/unit/peer/transport_harness.h"

namespace conclave::peer {
namespace {

namespace asio = boost::asio;
using raft::NodeId;
using namespace testing;

// Deterministic snapshot bytes: byte i is a function of i, so a chunk at the
// wrong offset cannot pass for the right one.
std::string snapshot_bytes(std::size_t size) {
  std::string s(size, '\0');
  std::uint32_t x = 2463534242u;
  for (std::size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

TEST(PeerTransport, ASnapshotStreamsInChunksWhileHeartbeatsGetThrough) {
  asio::io_context io;
  TransportOptions oa = options_for(1);
  oa.snapshot_chunk_bytes = 256u << 10;
  // Loopback's kernel buffers hold megabytes; keep the sender's small so
  // that what this test sees is the transport's pacing, not the kernel's.
  oa.socket_send_buffer_bytes = 64u << 10;
  TransportOptions ob = options_for(2);
  ob.socket_receive_buffer_bytes = 64u << 10;
  TestNode a(io, oa), b(io, ob);
  introduce({&a, &b});

  const std::string data = snapshot_bytes((6u << 20) + 12345);
  // The source hands out 700 KiB pieces, which the transport splits into
  // 256 KiB chunks; it counts how far ahead of the receiver it is read.
  std::size_t served = 0;
  std::size_t max_ahead = 0;
  SnapshotChunkSource source = [&]() -> std::optional<std::string> {
    std::size_t received = 0;
    for (const auto& c : b.recorder.chunks) received += c.data.size();
    max_ahead = std::max(max_ahead, served - std::min(served, received));
    const std::size_t n = std::min<std::size_t>(700u << 10, data.size() - served);
    std::string piece = data.substr(served, n);
    served += n;
    return piece;  // empty at the end
  };
  raft::Message install = full_message(a.id(), b.id());
  install.type = raft::MessageType::kInstallSnapshot;
  install.entries.clear();
  // Once the stream is under way, a heartbeat must not wait for its end:
  // send one the moment the first chunk arrives.
  b.recorder.chunk_hook = [&](const SnapshotChunk& c) {
    if (c.offset == 0) a.transport->send(heartbeat(a.id(), b.id(), 99));
  };
  a.transport->send_snapshot(install, source);
  ASSERT_TRUE(run_until(io, [&] { return !b.recorder.chunks.empty() && b.recorder.chunks.back().done; }));

  const auto& chunks = b.recorder.chunks;
  std::string assembled;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].offset, assembled.size()) << "chunk " << i;
    EXPECT_LE(chunks[i].data.size(), 256u << 10);
    EXPECT_EQ(chunks[i].from, a.id());
    EXPECT_EQ(chunks[i].meta.index, install.snapshot->index);
    EXPECT_EQ(chunks[i].done, i + 1 == chunks.size());
    assembled += chunks[i].data;
  }
  EXPECT_TRUE(assembled == data) << "snapshot bytes differ";
  EXPECT_GE(chunks.size(), 25u);
  EXPECT_EQ(chunks.back().total_bytes, data.size());
  EXPECT_EQ(chunks.back().meta, *install.snapshot);
  ASSERT_TRUE(chunks.back().install);
  expect_same(install, *chunks.back().install);

  // The heartbeat arrived while chunks were still coming.
  ASSERT_EQ(b.recorder.raft.size(), 1u);
  EXPECT_EQ(b.recorder.raft[0].context, 99u);
  const auto& ev = b.recorder.events;
  const long heartbeat_at = std::find(ev.begin(), ev.end(), "raft") - ev.begin();
  const long chunks_after = static_cast<long>(ev.size()) - 1 - heartbeat_at;
  EXPECT_GT(chunks_after, static_cast<long>(chunks.size()) / 2)
      << "the heartbeat (event " << heartbeat_at << " of " << ev.size()
      << ") waited behind most of the snapshot";
  // The source was never read far ahead of what had arrived: the stream is
  // paced by the connection (two queued chunks, one 700 KiB piece being
  // split, and the kernel's buffers), not read into memory whole.
  EXPECT_LT(max_ahead, 3u << 20) << "read ahead " << max_ahead << " bytes";
}

TEST(PeerTransport, ASnapshotSourceThatFailsAbortsTheStreamOnly) {
  asio::io_context io;
  TestNode a(io, options_for(1)), b(io, options_for(2));
  introduce({&a, &b});
  int calls = 0;
  raft::Message install = full_message(a.id(), b.id());
  install.type = raft::MessageType::kInstallSnapshot;
  install.entries.clear();
  a.transport->send_snapshot(install, [&]() -> std::optional<std::string> {
    if (++calls == 1) return std::string(1000, 'x');
    return std::nullopt;  // e.g. the file failed its checksum
  });
  a.transport->send(heartbeat(a.id(), b.id(), 1));
  ASSERT_TRUE(run_until(io, [&] { return !b.recorder.raft.empty(); }));
  ASSERT_EQ(b.recorder.chunks.size(), 1u);
  EXPECT_FALSE(b.recorder.chunks[0].done);
  EXPECT_TRUE(a.counters_for(b.id()).connected);
}

TEST(PeerTransport, ForwardedProposalAndItsResultRoundTrip) {
  asio::io_context io;
  TestNode follower(io, options_for(1)), leader(io, options_for(2));
  introduce({&follower, &leader});
  ForwardedProposal p{17, std::string("pro\0posal", 9), 0xabcdef, 42};
  follower.transport->send_forward(leader.id(), p);
  ASSERT_TRUE(run_until(io, [&] { return !leader.recorder.forwards.empty(); }));
  const auto& [from, got] = leader.recorder.forwards[0];
  EXPECT_EQ(from, follower.id());
  EXPECT_EQ(got.request_id, 17u);
  EXPECT_EQ(got.data, p.data);
  EXPECT_EQ(got.client_session, 0xabcdefu);
  EXPECT_EQ(got.sequence, 42u);

  leader.transport->send_forward_result(follower.id(), ForwardResult{17, raft::Index(5), raft::Term(3), "", NodeId(2)});
  leader.transport->send_forward_result(follower.id(), ForwardResult{18, {}, {}, "not the leader; try node 3", NodeId(3)});
  ASSERT_TRUE(run_until(io, [&] { return follower.recorder.forward_results.size() == 2; }));
  const auto& ok = follower.recorder.forward_results[0];
  EXPECT_EQ(ok.first, leader.id());
  EXPECT_EQ(ok.second.request_id, 17u);
  EXPECT_EQ(ok.second.index, raft::Index(5));
  EXPECT_EQ(ok.second.term, raft::Term(3));
  EXPECT_TRUE(ok.second.error.empty());
  const auto& bad = follower.recorder.forward_results[1].second;
  EXPECT_EQ(bad.error, "not the leader; try node 3");
  EXPECT_EQ(bad.leader_hint, NodeId(3));
}

// Forwards (and results) that wait for a write go out together: here all
// of them wait for the connection, so each kind takes one frame to a node
// that reads lists, and one frame each to one that does not.
TEST(PeerTransport, WaitingForwardsAndResultsTravelInOneFrameToANodeThatReadsThem) {
  for (bool batches : {true, false}) {
    SCOPED_TRACE(batches ? "to a node that reads lists" : "to an older node");
    asio::io_context io;
    TransportOptions fo = options_for(1), lo = options_for(2);
    fo.welcome_forward_batches = batches;
    lo.welcome_forward_batches = batches;
    TestNode follower(io, fo), leader(io, lo);
    introduce({&follower, &leader});
    constexpr std::uint64_t kCount = 100;
    for (std::uint64_t i = 1; i <= kCount; ++i) {
      ASSERT_TRUE(follower.transport->send_forward(leader.id(), ForwardedProposal{i, "p" + std::to_string(i), 7, i}));
      leader.transport->send_forward_result(follower.id(), ForwardResult{i, raft::Index(i), raft::Term(2), "", {}});
    }
    ASSERT_TRUE(run_until(io, [&] {
      return leader.recorder.forwards.size() == kCount && follower.recorder.forward_results.size() == kCount;
    }));
    for (std::uint64_t i = 1; i <= kCount; ++i) {
      const auto& [from, p] = leader.recorder.forwards[i - 1];
      EXPECT_EQ(from, follower.id());
      EXPECT_EQ(p.request_id, i);
      EXPECT_EQ(p.data, "p" + std::to_string(i));
      EXPECT_EQ(p.sequence, i);
      const auto& [by, r] = follower.recorder.forward_results[i - 1];
      EXPECT_EQ(by, leader.id());
      EXPECT_EQ(r.request_id, i);
      EXPECT_EQ(r.index, raft::Index(i));
    }
    EXPECT_EQ(follower.counters_for(leader.id()).frames_sent, batches ? 1u : kCount);
    EXPECT_EQ(leader.counters_for(follower.id()).frames_sent, batches ? 1u : kCount);
  }
}

// A list is cut below the largest frame a node accepts.
TEST(PeerTransport, ALongListOfForwardsIsCutIntoFramesANodeAccepts) {
  asio::io_context io;
  TransportOptions fo = options_for(1), lo = options_for(2);
  fo.frame_bytes_max = lo.frame_bytes_max = 256u << 10;
  TestNode follower(io, fo), leader(io, lo);
  introduce({&follower, &leader});
  const std::string data(20u << 10, 'd');
  for (std::uint64_t i = 1; i <= 40; ++i) {
    ASSERT_TRUE(follower.transport->send_forward(leader.id(), ForwardedProposal{i, data, 0, 0}));
  }
  ASSERT_TRUE(run_until(io, [&] { return leader.recorder.forwards.size() == 40; }));
  for (std::uint64_t i = 1; i <= 40; ++i) EXPECT_EQ(leader.recorder.forwards[i - 1].second.request_id, i);
  const auto sent = follower.counters_for(leader.id()).frames_sent;
  EXPECT_GE(sent, 7u) << "800 KiB in lists of at most 128 KiB";
  EXPECT_LT(sent, 40u);
}

TEST(PeerTransport, AJoinerIsAnsweredAtTheAddressItGave) {
  asio::io_context io;
  TestNode member(io, options_for(2)), other(io, options_for(3));
  introduce({&member, &other});
  TestNode joiner(io, options_for(7));
  joiner.recorder.accept_anyone = true;  // waiting to be contacted
  ASSERT_FALSE(member.recorder.accepts_peer(NodeId(7)));

  joiner.transport->send_join(member.address(), JoinRequest{NodeId(7), joiner.address()});
  ASSERT_TRUE(run_until(io, [&] { return !member.recorder.joins.empty(); }));
  const JoinRequest request = member.recorder.joins[0];
  EXPECT_EQ(request.node, NodeId(7));
  EXPECT_EQ(request.address, joiner.address());

  member.transport->send_join_result(
      request, JoinResult{false, "not the leader", NodeId(3), other.address()});
  ASSERT_TRUE(run_until(io, [&] { return !joiner.recorder.join_results.empty(); }));
  const JoinResult& r = joiner.recorder.join_results[0];
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.error, "not the leader");
  EXPECT_EQ(r.leader, NodeId(3));
  EXPECT_EQ(r.leader_address, other.address());

  // Asked again at the leader, which accepts.
  joiner.transport->send_join(r.leader_address, JoinRequest{NodeId(7), joiner.address()});
  ASSERT_TRUE(run_until(io, [&] { return !other.recorder.joins.empty(); }));
  other.transport->send_join_result(other.recorder.joins[0], JoinResult{true, "", NodeId(3), other.address()});
  ASSERT_TRUE(run_until(io, [&] { return joiner.recorder.join_results.size() == 2; }));
  EXPECT_TRUE(joiner.recorder.join_results[1].accepted);
  // The joiner's connections carried only joins: no Raft traffic reached anyone.
  EXPECT_TRUE(member.recorder.raft.empty());
  EXPECT_TRUE(other.recorder.raft.empty());
}

TEST(PeerTransport, APeerRemovedFromTheAddressMapIsDisconnectedAndNotDialed) {
  asio::io_context io;
  TestNode a(io, options_for(1)), b(io, options_for(2));
  introduce({&a, &b});
  a.transport->send(heartbeat(a.id(), b.id(), 1));
  ASSERT_TRUE(run_until(io, [&] { return b.recorder.raft.size() == 1; }));
  a.transport->set_peer_addresses({});
  EXPECT_FALSE(a.counters_for(b.id()).connected);
  a.transport->send(heartbeat(a.id(), b.id(), 2));
  EXPECT_EQ(a.counters_for(b.id()).frames_dropped, 1u);
  // Listed again, it is dialed again.
  a.transport->set_peer_addresses({{b.id(), b.address()}});
  a.transport->send(heartbeat(a.id(), b.id(), 3));
  ASSERT_TRUE(run_until(io, [&] { return b.recorder.raft.size() == 2; }));
  EXPECT_EQ(b.recorder.raft[1].context, 3u);
}

TEST(PeerTransport, AStoppedTransportCanStartAgain) {
  asio::io_context io;
  TestNode a(io, options_for(1)), b(io, options_for(2));
  introduce({&a, &b});
  a.transport->send(heartbeat(a.id(), b.id(), 1));
  ASSERT_TRUE(run_until(io, [&] { return b.recorder.raft.size() == 1; }));
  b.transport->stop();
  a.transport->stop();
  a.transport->send(heartbeat(a.id(), b.id(), 2));  // dropped: stopped
  EXPECT_GE(a.counters_for(b.id()).frames_dropped, 1u);
  ASSERT_TRUE(run_until(io, [&] { return true; }));
  b.transport->start();  // a new port: tell a
  a.transport->start();
  a.transport->set_peer_addresses({{b.id(), b.address()}});
  a.transport->send(heartbeat(a.id(), b.id(), 3));
  ASSERT_TRUE(run_until(io, [&] { return b.recorder.raft.size() == 2; }));
  EXPECT_EQ(b.recorder.raft[1].context, 3u);
}

}  // namespace
}  // namespace conclave::peer
