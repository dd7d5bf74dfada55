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
#include <utility>

#include "schema/admin_types.h"

namespace conclave::ipc {

// The protocol's plain values, shared with conclavectl (schema/admin_types.h),
// under the names the node already uses.
using AdminError = conclave::admin::ErrorCode;
using MemberInfo = conclave::admin::Member;
using StatusInfo = conclave::admin::Status;
using Committed = conclave::admin::Committed;

// One answer: an error with its reason and leader hint, or a status, or a
// committed index. The client's admin::Response holds the same with a
// variant; optionals here let the node fill it field by field.
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
  virtual void admin_snapshot(Reply reply) = 0;
  // The leader's status, asked of the leader by a follower (admin.capnp
  // clusterStatus).
  virtual void admin_cluster_status(Reply reply) = 0;
};

}  // namespace conclave::ipc
