// The SDK's only contact with Cap'n Proto: ToSidecar frames built from plain
// values, FromSidecar frames turned into plain values (copied out, so the
// frame's buffer can go as soon as it is decoded).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/common.h>
#include <kj/array.h>

#include "conclave/client.h"

namespace conclave::detail {

using Frame = kj::Array<capnp::word>;

struct Attached {
  std::uint32_t version = 0;
  NodeId node_id = 0;
  std::string cluster_id;
  NodeId leader = 0;
  Index commit_index = 0;
};

struct Answer {
  enum class Kind { none, attached, committed, read_index, status };
  std::uint64_t id = 0;
  ErrorCode code = ErrorCode::none;
  std::string reason;
  Kind kind = Kind::none;
  Attached attached;
  Index index = 0;  // committed or read index
  Term term = 0;
  Status status;
};

// One message of the ordered stream (or closing, which ends it).
struct StreamEvent {
  enum class Kind { bootstrap, join, join_chunk, entry, arrive, depart, acclimated, snapshot, closing, passed };
  Kind kind = Kind::bootstrap;
  Index index = 0;
  Term term = 0;
  std::uint64_t bytes = 0;  // join: the snapshot's size; join_chunk: its offset
  bool done = false;
  std::string data;  // entry, join_chunk
  NodeId node = 0;
  std::string address;
  ErrorCode code = ErrorCode::none;  // closing
  std::string reason;                // closing
};

// Decodes one FromSidecar frame: the answers it holds, appended to
// `answers`, or the stream events, appended to `events` (one, or several for
// `answers` and `entries`). Throws Error(malformed) for a frame that is not
// a FromSidecar we know.
void decode(kj::ArrayPtr<const capnp::word> words, std::vector<Answer>& answers, std::vector<StreamEvent>& events);

Frame encode_attach(std::uint64_t id, std::string_view name, Index applied);
Frame encode_propose(std::uint64_t id, std::uint64_t session, std::uint64_t seq, std::uint64_t floor,
                     std::string_view data);
Frame encode_barrier(std::uint64_t id);
Frame encode_status(std::uint64_t id);
Frame encode_applied(Index applied);
// `failed`, when not empty, ends the chunks with the reason the state could
// not be produced (done must be set).
Frame encode_snapshot_chunk(std::uint64_t id, Index index, std::string_view data, bool done,
                            std::string_view failed = {});

std::uint32_t protocol_version();

}  // namespace conclave::detail
