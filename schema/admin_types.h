// schema/admin.capnp as plain C++ values: what the admin server (ipc) hands
// the node and encodes, and what conclavectl's client decodes and prints.
// One definition for both ends, so a field added to the schema is added
// here once; admin_wire.h converts to and from the capnp readers and
// builders. Plain values because a capnp reader dies with its message
// buffer, and both ends keep what they got (a status to print, a reply
// answered long after the request's frame is gone).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace conclave::admin {

// schema/admin.capnp's ErrorCode, ordinal for ordinal (admin_wire.cpp checks
// it at compile time). A code added to the schema after this build arrives
// as its number, which to_string calls "unknown".
enum class ErrorCode : std::uint16_t {
  kNone = 0,
  kNotLeader = 1,
  kNoLeader = 2,
  kRejected = 3,  // the Raft core refused: see the reason
  kTimeout = 4,
  kMalformed = 5,
  kInternal = 6,
  kShuttingDown = 7,
};
// The schema's spelling ("notLeader"), for output.
const char* to_string(ErrorCode code);

struct Member {
  std::uint64_t id = 0;
  std::string address;
  bool voter = false;
  // Leader only: replication progress (zero elsewhere).
  std::uint64_t match = 0;
  std::uint64_t next = 0;
  std::string state;
  bool recently_active = false;
  std::uint64_t lag = 0;
  // When the answering node last received a Raft message from this member
  // (heard false: never since it started, or this is the answering node).
  bool heard = false;
  std::uint64_t heard_ago_ms = 0;
  // Leader only: a snapshot is on its way to this member.
  bool sending_snapshot = false;
};

struct Status {
  std::uint64_t node_id = 0;
  std::string cluster_id;
  std::string role;
  std::uint64_t term = 0;
  std::uint64_t leader = 0;
  std::uint64_t commit_index = 0;
  std::uint64_t applied_index = 0;
  std::uint64_t last_index = 0;
  std::uint64_t snapshot_index = 0;
  std::uint64_t durable_index = 0;
  std::vector<Member> members;

  const Member* member(std::uint64_t id) const {
    for (const auto& m : members) {
      if (m.id == id) return &m;
    }
    return nullptr;
  }
};

struct Committed {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
};

}  // namespace conclave::admin
