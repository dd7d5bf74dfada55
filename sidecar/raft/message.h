// The messages Raft cores exchange. One flat struct rather than a variant:
// the transport (peer.capnp) and the simulator copy it field by field, and a
// field that a type does not use stays at its default.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "sidecar/raft/types.h"

namespace conclave::raft {

enum class MessageType : std::uint8_t {
  // Elections. A pre-vote asks "would you vote for me at term+1?" without
  // anyone changing term, so a partitioned node cannot force elections.
  kPreVote = 1,
  kPreVoteResponse = 2,
  kVote = 3,
  kVoteResponse = 4,
  // Replication. An InstallSnapshot is answered with a kAppendResponse whose
  // match_index is the snapshot's index.
  kAppend = 5,
  kAppendResponse = 6,
  kHeartbeat = 7,
  kHeartbeatResponse = 8,
  kInstallSnapshot = 9,
  // Leadership transfer: "start an election now, the leader agrees".
  kTimeoutNow = 10,
  // ReadIndex from a follower's core to the leader's, and the answer.
  kReadIndex = 11,
  kReadIndexResponse = 12,
};

std::string_view to_string(MessageType type);

struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from;
  NodeId to;
  Term term;

  // kAppend: the entries follow (prev_index, prev_term); commit is the
  // leader's commit index. kHeartbeat: commit only.
  Index prev_index;
  Term prev_term;
  std::vector<Entry> entries;
  Index commit;

  // kPreVote / kVote: the candidate's last log position. transfer is set when
  // the election was started by kTimeoutNow, so voters disregard the leader
  // they have heard from recently.
  Index last_log_index;
  Term last_log_term;
  bool transfer = false;

  // Responses. kAppendResponse accepted: match_index is the last index the
  // follower now holds in agreement with the leader. Rejected: prev_index is
  // the rejected append's prev_index, and the hint lets the leader skip a
  // whole term of mismatching entries at once: hint_term is the follower's
  // term at prev_index and hint_index the first index of that term; when the
  // follower's log is simply shorter, hint_term is zero and hint_index its
  // last index.
  bool reject = false;
  Index match_index;
  Index hint_index;
  Term hint_term;

  // kHeartbeat / kHeartbeatResponse: the leader's read round, echoed back.
  // kReadIndex / kReadIndexResponse: the caller's context; read_index is the
  // index after which a local read is linearizable.
  std::uint64_t context = 0;
  Index read_index;

  // kInstallSnapshot: what the snapshot covers. The transport streams the
  // snapshot's bytes in chunks beside this message and steps the receiving
  // core only once the whole snapshot is durable on the receiver.
  std::optional<SnapshotMeta> snapshot;

  // Bytes this message costs on the wire, roughly; used for flow control.
  std::size_t payload_bytes() const;
};

inline Message make_message(MessageType type, NodeId to, Term term) {
  Message m;
  m.type = type;
  m.to = to;
  m.term = term;
  return m;
}

}  // namespace conclave::raft
