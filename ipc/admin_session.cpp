// One admin connection: decoding requests from schema/admin.capnp, passing
// them to the node, encoding the node's replies, and writing them in order
// of completion.
#include "ipc/admin_session.h"

#include <spdlog/spdlog.h>

#include "ipc/admin_server.h"
#include "schema/admin.capnp.h"
#include "schema/admin_wire.h"

namespace conclave::ipc {

namespace admin = conclave::schema::admin;

AdminSession::AdminSession(AdminServer& server, boost::asio::local::stream_protocol::socket socket,
                           std::uint64_t number)
    : FramedConnection(std::move(socket), "admin session " + std::to_string(number),
                       server.options().frame_bytes_max),
      server_(&server) {}

void AdminSession::on_closed() {
  server_->session_closed(std::static_pointer_cast<AdminSession>(shared_from_this()));
}

void AdminSession::on_protocol_error(const std::string& why) {
  send(0, AdminReply::failure(AdminError::kMalformed, why + "; send one schema/admin.capnp Request per frame"));
}

Reply AdminSession::reply_for(std::uint64_t id) {
  ++in_flight_;
  std::weak_ptr<AdminSession> weak = std::static_pointer_cast<AdminSession>(shared_from_this());
  return [weak, id](AdminReply reply) {
    auto self = weak.lock();
    if (!self || self->closed()) return;
    --self->in_flight_;
    self->send(id, reply);
  };
}

void AdminSession::on_frame(Frame& frame) {
  auto request = frame.root<admin::Request>();
  std::uint64_t id = request.getId();
  if (in_flight_ >= server_->options().requests_in_flight_max) {
    send(id, AdminReply::failure(AdminError::kRejected,
                                 "too many requests in flight on this connection (" +
                                     std::to_string(in_flight_) + "); wait for answers before sending more"));
    return;
  }
  AdminService& service = server_->service();
  switch (request.which()) {
    case admin::Request::STATUS:
      return service.admin_status(reply_for(id));
    case admin::Request::PROPOSE: {
      auto data = request.getPropose();
      return service.admin_propose(std::string(data.asChars().begin(), data.size()), reply_for(id));
    }
    case admin::Request::ADD_LEARNER: {
      auto a = request.getAddLearner();
      return service.admin_add_learner(a.getNodeId(), a.getAddress(), reply_for(id));
    }
    case admin::Request::PROMOTE:
      return service.admin_promote(request.getPromote(), reply_for(id));
    case admin::Request::REMOVE:
      return service.admin_remove(request.getRemove(), reply_for(id));
    case admin::Request::TRANSFER_LEADER:
      return service.admin_transfer_leader(request.getTransferLeader(), reply_for(id));
    case admin::Request::SNAPSHOT:
      return service.admin_snapshot(reply_for(id));
    case admin::Request::CLUSTER_STATUS:
      return service.admin_cluster_status(reply_for(id));
  }
  send(id, AdminReply::failure(AdminError::kMalformed, "unknown request type; this sidecar may be older than "
                                                       "your conclavectl"));
}

void AdminSession::send(std::uint64_t id, const AdminReply& reply) {
  if (closed()) return;
  // A client that does not read its answers must not grow our memory.
  if (queued_frames() >= server_->options().requests_in_flight_max) {
    spdlog::warn("{} is not reading its responses; closing it", label());
    return close();
  }
  capnp::MallocMessageBuilder message;
  auto r = message.initRoot<admin::Response>();
  r.setId(id);
  r.setError(conclave::admin::to_wire(reply.error));
  r.setReason(reply.reason);
  r.setLeaderHint(reply.leader_hint);
  r.setLeaderAddress(reply.leader_address);
  if (reply.status) {
    conclave::admin::to_wire(*reply.status, r.initStatus());
  } else if (reply.committed) {
    conclave::admin::to_wire(*reply.committed, r.initCommitted());
  } else {
    r.setNone();
  }
  queue(message);
}

}  // namespace conclave::ipc
