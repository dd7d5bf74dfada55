// Building every peer.capnp Frame the transport sends, and decoding the
// frames other than Raft messages (raft_codec.h does those) into the types of
// transport.h, with validation.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <kj/array.h>
#include <capnp/common.h>

#include "schema/peer.capnp.h"
#include "sidecar/peer/raft_codec.h"
#include "sidecar/peer/transport.h"

namespace conclave::peer {

kj::Array<capnp::word> challenge_frame(const std::string& nonce);
// `advertised` is where our peers should dial us ("host:port"); `nonce` is
// the acceptor's challenge, `own_nonce` ours for the welcome to answer.
kj::Array<capnp::word> hello_frame(const TransportOptions& options, const std::string& advertised,
                                   const std::string& nonce, const std::string& own_nonce,
                                   bool joining);
kj::Array<capnp::word> welcome_frame(raft::NodeId self, const std::string& proof, bool forward_batches);
kj::Array<capnp::word> refusal_frame(const std::string& reason);
kj::Array<capnp::word> raft_frame(const raft::Message& message);
// One chunk of the snapshot `install.snapshot` describes. The last chunk
// (done) carries the install message and the total byte count.
kj::Array<capnp::word> snapshot_chunk_frame(const raft::Message& install, std::uint64_t offset,
                                            const std::string& data, bool done);
kj::Array<capnp::word> forward_frame(const ForwardedProposal& proposal);
kj::Array<capnp::word> forward_result_frame(const ForwardResult& result);
// Several in one frame, for a peer whose welcome set forwardBatches.
kj::Array<capnp::word> forwards_frame(std::span<const ForwardedProposal> proposals);
kj::Array<capnp::word> forward_results_frame(std::span<const ForwardResult> results);
kj::Array<capnp::word> join_frame(const JoinRequest& request);
kj::Array<capnp::word> join_result_frame(const JoinResult& result);

// Chunks before the last carry only the snapshot's index and term in
// `meta`; the last carries the whole metadata (from its install message).
// The chunk's `from` is left for the connection to fill in and check.
Decoded<SnapshotChunk> decode_snapshot_chunk(schema::peer::SnapshotChunk::Reader in,
                                             std::size_t chunk_bytes_max);
ForwardedProposal decode_forward(schema::peer::ForwardedProposal::Reader in);
ForwardResult decode_forward_result(schema::peer::ForwardResult::Reader in);
Decoded<JoinRequest> decode_join(schema::peer::JoinRequest::Reader in);
JoinResult decode_join_result(schema::peer::JoinResult::Reader in);

}  // namespace conclave::peer
