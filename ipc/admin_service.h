// What the admin socket asks of the node, in plain C++ types: the server
// (admin_server.h) decodes schema/admin.capnp requests into these calls and
// encodes the replies, so the node never touches Cap'n Proto builders and the
// server never touches the Raft core.
//
// Every call is made on the node's io_context thread and must be answered
// exactly once through its Reply, possibly much later (a proposal is answered
// when it commits). A Reply may be called after its connection has closed;
// it then does nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace conclave::ipc {

// Mirrors schema/admin.capnp's ErrorCode.
enum class AdminError : std::uint8_t {
  kNone = 0,
  kNotLeader,
  kNoLeader,
  kRejected,
  kTimeout,
  kMalformed,
  kInternal,
  kShuttingDown,
};

struct MemberInfo {
  std::uint64_t id = 0;
  std::string address;
  bool voter = false;
  // Leader only.
  std::uint64_t match = 0;
  std::uint64_t next = 0;
  std::string state;
  bool recently_active = false;
  std::uint64_t lag = 0;
};

struct StatusInfo {
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
  std::vector<MemberInfo> members;
};

struct Committed {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
};

struct AdminReply {
  AdminError error = AdminError::kNone;
  std::string reason;
  std::uint64_t leader_hint = 0;
  std::string leader_address;
  std::optional<StatusInfo> status;
  std::optional<Committed> committed;

  static AdminReply failure(AdminError code, std::string why) {
    AdminReply r;
    r.error = code;
    r.reason = std::move(why);
    return r;
  }
};

using Reply = std::function<void(AdminReply)>;

class AdminService {
 public:
  virtual ~AdminService() = default;
  virtual void admin_status(Reply reply) = 0;
  virtual void admin_propose(std::string data, Reply reply) = 0;
  virtual void admin_add_learner(std::uint64_t node, std::string address, Reply reply) = 0;
  virtual void admin_promote(std::uint64_t node, Reply reply) = 0;
  virtual void admin_remove(std::uint64_t node, Reply reply) = 0;
  virtual void admin_transfer_leader(std::uint64_t node, Reply reply) = 0;
};

}  // namespace conclave::ipc
