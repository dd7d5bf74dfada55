// Names of message types for logs, and the flow-control cost of a message.
#include "sidecar/raft/message.h"

namespace conclave::raft {

std::string_view to_string(MessageType type) {
  switch (type) {
    case MessageType::kPreVote: return "PreVote";
    case MessageType::kPreVoteResponse: return "PreVoteResponse";
    case MessageType::kVote: return "Vote";
    case MessageType::kVoteResponse: return "VoteResponse";
    case MessageType::kAppend: return "Append";
    case MessageType::kAppendResponse: return "AppendResponse";
    case MessageType::kHeartbeat: return "Heartbeat";
    case MessageType::kHeartbeatResponse: return "HeartbeatResponse";
    case MessageType::kInstallSnapshot: return "InstallSnapshot";
    case MessageType::kTimeoutNow: return "TimeoutNow";
    case MessageType::kReadIndex: return "ReadIndex";
    case MessageType::kReadIndexResponse: return "ReadIndexResponse";
  }
  return "Unknown";
}

std::size_t Message::payload_bytes() const {
  // A fixed header estimate plus each entry's data and framing.
  std::size_t bytes = 64;
  for (const Entry& e : entries) bytes += e.data.size() + 24;
  return bytes;
}

}  // namespace conclave::raft
