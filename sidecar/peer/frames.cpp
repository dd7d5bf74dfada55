// Frame builders and the decoders of non-Raft frames. See frames.h.
#include "sidecar/peer/frames.h"

#include <fmt/format.h>

#include "schema/framing.h"
#include "sidecar/peer/handshake.h"

namespace conclave::peer {
namespace {

namespace wire = schema::peer;

capnp::Data::Reader as_data(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(s.data()), s.size());
}

std::string to_string(capnp::Data::Reader data) {
  return std::string(reinterpret_cast<const char*>(data.begin()), data.size());
}

// Builds a frame with `fill` and encodes it; `words` is what it will take
// at most, when that may exceed the builder's default (see FrameBuilder).
template <typename Fill>
kj::Array<capnp::word> build(Fill&& fill, std::size_t words = 0) {
  framing::FrameBuilder message(words);
  fill(message.init_root<wire::Frame>());
  return framing::encode_frame(message.message());
}

std::size_t words_for(std::size_t bytes) { return (bytes + sizeof(capnp::word) - 1) / sizeof(capnp::word); }

}  // namespace

kj::Array<capnp::word> challenge_frame(const std::string& nonce) {
  return build([&](wire::Frame::Builder f) { f.initChallenge().setNonce(as_data(nonce)); });
}

kj::Array<capnp::word> hello_frame(const TransportOptions& options, const std::string& advertised,
                                   const std::string& nonce, const std::string& own_nonce,
                                   bool joining) {
  return build([&](wire::Frame::Builder f) {
    auto hello = f.initHello();
    hello.setProtocolVersion(wire::PROTOCOL_VERSION);
    hello.setClusterId(options.cluster_id);
    hello.setNodeId(options.self.value());
    hello.setAdvertisedAddress(advertised);
    hello.setProof(
        as_data(hello_proof(options.cluster_secret, nonce, options.cluster_id, options.self)));
    hello.setJoining(joining);
    hello.setNonce(as_data(own_nonce));
  });
}

kj::Array<capnp::word> welcome_frame(raft::NodeId self, const std::string& proof, bool forward_batches) {
  return build([&](wire::Frame::Builder f) {
    auto welcome = f.initWelcome();
    welcome.setNodeId(self.value());
    welcome.setProof(as_data(proof));
    welcome.setForwardBatches(forward_batches);
  });
}

kj::Array<capnp::word> refusal_frame(const std::string& reason) {
  return build([&](wire::Frame::Builder f) { f.initRefusal().setReason(reason); });
}

kj::Array<capnp::word> raft_frame(const raft::Message& message) {
  // The message's fixed part, then per entry its struct (four words) and
  // its data: AppendEntries built in one segment.
  std::size_t words = 64;
  for (const raft::Entry& e : message.entries) words += 4 + words_for(e.data.size());
  return build([&](wire::Frame::Builder f) { encode_raft_message(message, f.initRaft()); }, words);
}

kj::Array<capnp::word> snapshot_chunk_frame(const raft::Message& install, std::uint64_t offset,
                                            const std::string& data, bool done) {
  return build([&](wire::Frame::Builder f) {
    auto chunk = f.initSnapshotChunk();
    chunk.setIndex(install.snapshot ? install.snapshot->index.value() : 0);
    chunk.setTerm(install.snapshot ? install.snapshot->term.value() : 0);
    chunk.setOffset(offset);
    chunk.setData(as_data(data));
    chunk.setDone(done);
    if (offset == 0 && install.snapshot) encode_snapshot_meta(*install.snapshot, chunk.initMeta());
    if (done) {
      encode_raft_message(install, chunk.initMessage());
      chunk.setTotalBytes(offset + data.size());
    }
  });
}

namespace {

void fill_forward(wire::ForwardedProposal::Builder out, const ForwardedProposal& p) {
  out.setRequestId(p.request_id);
  out.setData(as_data(p.data));
  out.setClientSession(p.client_session);
  out.setSequence(p.sequence);
}

void fill_result(wire::ForwardResult::Builder out, const ForwardResult& r) {
  out.setRequestId(r.request_id);
  out.setIndex(r.index.value());
  out.setTerm(r.term.value());
  out.setError(r.error);
  out.setLeaderHint(r.leader_hint.value());
}

}  // namespace

kj::Array<capnp::word> forward_frame(const ForwardedProposal& p) {
  return build([&](wire::Frame::Builder f) { fill_forward(f.initForward(), p); });
}

kj::Array<capnp::word> forward_result_frame(const ForwardResult& r) {
  return build([&](wire::Frame::Builder f) { fill_result(f.initForwardResult(), r); });
}

kj::Array<capnp::word> forwards_frame(std::span<const ForwardedProposal> proposals) {
  // One first segment for the whole list: per proposal its struct (three
  // words, one pointer) and its data.
  std::size_t words = 8;
  for (const auto& p : proposals) words += 4 + words_for(p.data.size());
  return build(
      [&](wire::Frame::Builder f) {
        auto list = f.initForwards(static_cast<unsigned>(proposals.size()));
        for (unsigned i = 0; i < proposals.size(); ++i) fill_forward(list[i], proposals[i]);
      },
      words);
}

kj::Array<capnp::word> forward_results_frame(std::span<const ForwardResult> results) {
  return build([&](wire::Frame::Builder f) {
    auto list = f.initForwardResults(static_cast<unsigned>(results.size()));
    for (unsigned i = 0; i < results.size(); ++i) fill_result(list[i], results[i]);
  });
}

kj::Array<capnp::word> join_frame(const JoinRequest& r) {
  return build([&](wire::Frame::Builder f) {
    auto out = f.initJoin();
    out.setNodeId(r.node.value());
    out.setAddress(r.address);
  });
}

kj::Array<capnp::word> join_result_frame(const JoinResult& r) {
  return build([&](wire::Frame::Builder f) {
    auto out = f.initJoinResult();
    out.setAccepted(r.accepted);
    out.setError(r.error);
    out.setLeaderId(r.leader.value());
    out.setLeaderAddress(r.leader_address);
    out.setRemovedAt(r.removed_at.value());
  });
}

Decoded<SnapshotChunk> decode_snapshot_chunk(wire::SnapshotChunk::Reader in,
                                             std::size_t chunk_bytes_max) {
  SnapshotChunk chunk;
  chunk.meta.index = raft::Index(in.getIndex());
  chunk.meta.term = raft::Term(in.getTerm());
  chunk.offset = in.getOffset();
  if (in.getData().size() > chunk_bytes_max) {
    return {std::nullopt, fmt::format("snapshot chunk of {} bytes (at most {} expected)",
                                      in.getData().size(), chunk_bytes_max)};
  }
  if (chunk.offset > UINT64_MAX - in.getData().size()) {
    return {std::nullopt, "snapshot chunk offset overflows"};
  }
  chunk.data = to_string(in.getData());
  chunk.done = in.getDone();
  if (chunk.offset == 0) {
    if (!in.hasMeta()) return {std::nullopt, "first snapshot chunk without the snapshot's metadata"};
    auto meta = decode_snapshot_meta(in.getMeta());
    if (!meta) return {std::nullopt, "first snapshot chunk: " + meta.error};
    if (meta.value->index != chunk.meta.index || meta.value->term != chunk.meta.term) {
      return {std::nullopt, "first snapshot chunk: its metadata names another snapshot than the chunk"};
    }
    chunk.meta = std::move(*meta.value);
  }
  if (!chunk.done) return {std::move(chunk), {}};

  chunk.total_bytes = in.getTotalBytes();
  if (chunk.total_bytes != chunk.offset + chunk.data.size()) {
    return {std::nullopt, fmt::format("last snapshot chunk ends at byte {} but claims {} in all",
                                      chunk.offset + chunk.data.size(), chunk.total_bytes)};
  }
  if (!in.hasMessage()) return {std::nullopt, "last snapshot chunk without its InstallSnapshot"};
  auto install = decode_raft_message(in.getMessage());
  if (!install) return {std::nullopt, "last snapshot chunk: " + install.error};
  if (install.value->type != raft::MessageType::kInstallSnapshot || !install.value->snapshot) {
    return {std::nullopt, "last snapshot chunk carries a message that is not an InstallSnapshot"};
  }
  const raft::SnapshotMeta& meta = *install.value->snapshot;
  if (meta.index != chunk.meta.index || meta.term != chunk.meta.term) {
    return {std::nullopt,
            fmt::format("snapshot chunks for index {} term {} end with an InstallSnapshot for "
                        "index {} term {}",
                        chunk.meta.index.value(), chunk.meta.term.value(), meta.index.value(),
                        meta.term.value())};
  }
  chunk.meta = meta;
  chunk.install = std::move(install.value);
  return {std::move(chunk), {}};
}

ForwardedProposal decode_forward(wire::ForwardedProposal::Reader in) {
  return ForwardedProposal{in.getRequestId(), to_string(in.getData()), in.getClientSession(),
                           in.getSequence()};
}

ForwardResult decode_forward_result(wire::ForwardResult::Reader in) {
  return ForwardResult{in.getRequestId(), raft::Index(in.getIndex()), raft::Term(in.getTerm()),
                       in.getError().cStr(), raft::NodeId(in.getLeaderHint())};
}

Decoded<JoinRequest> decode_join(wire::JoinRequest::Reader in) {
  if (in.getNodeId() == 0) return {std::nullopt, "join request for node id 0"};
  if (in.getAddress().size() == 0 || in.getAddress().size() > kAddressBytesMax) {
    return {std::nullopt, "join request without a usable address"};
  }
  return {JoinRequest{raft::NodeId(in.getNodeId()), in.getAddress().cStr()}, {}};
}

JoinResult decode_join_result(wire::JoinResult::Reader in) {
  return JoinResult{in.getAccepted(), in.getError().cStr(), raft::NodeId(in.getLeaderId()),
                    in.getLeaderAddress().cStr(), raft::Index(in.getRemovedAt())};
}

}  // namespace conclave::peer
