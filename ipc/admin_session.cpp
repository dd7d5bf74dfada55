// One admin connection: decoding requests from schema/admin.capnp, passing
// them to the node, encoding the node's replies, and writing them in order
// of completion.
#include "ipc/admin_session.h"

#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>

#include "ipc/admin_server.h"
#include "schema/admin.capnp.h"

namespace conclave::ipc {

namespace admin = conclave::schema::admin;

namespace {

admin::ErrorCode to_capnp(AdminError e) {
  switch (e) {
    case AdminError::kNone: return admin::ErrorCode::NONE;
    case AdminError::kNotLeader: return admin::ErrorCode::NOT_LEADER;
    case AdminError::kNoLeader: return admin::ErrorCode::NO_LEADER;
    case AdminError::kRejected: return admin::ErrorCode::REJECTED;
    case AdminError::kTimeout: return admin::ErrorCode::TIMEOUT;
    case AdminError::kMalformed: return admin::ErrorCode::MALFORMED;
    case AdminError::kInternal: return admin::ErrorCode::INTERNAL;
    case AdminError::kShuttingDown: return admin::ErrorCode::SHUTTING_DOWN;
  }
  return admin::ErrorCode::INTERNAL;
}

void fill_status(admin::Status::Builder out, const StatusInfo& s) {
  out.setNodeId(s.node_id);
  out.setClusterId(s.cluster_id);
  out.setRole(s.role);
  out.setTerm(s.term);
  out.setLeader(s.leader);
  out.setCommitIndex(s.commit_index);
  out.setAppliedIndex(s.applied_index);
  out.setLastIndex(s.last_index);
  out.setSnapshotIndex(s.snapshot_index);
  out.setDurableIndex(s.durable_index);
  auto members = out.initMembers(static_cast<unsigned>(s.members.size()));
  for (unsigned i = 0; i < s.members.size(); ++i) {
    const MemberInfo& m = s.members[i];
    auto b = members[i];
    b.setId(m.id);
    b.setAddress(m.address);
    b.setVoter(m.voter);
    b.setMatch(m.match);
    b.setNext(m.next);
    b.setState(m.state);
    b.setRecentlyActive(m.recently_active);
    b.setLag(m.lag);
  }
}

}  // namespace

AdminSession::AdminSession(AdminServer& server, boost::asio::local::stream_protocol::socket socket,
                           std::uint64_t number)
    : server_(&server), socket_(std::move(socket)), number_(number) {}

void AdminSession::start() {
  spdlog::debug("admin: session {} opened", number_);
  read_next();
}

void AdminSession::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(boost::asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  outbox_.clear();
  spdlog::debug("admin: session {} closed", number_);
  server_->session_closed(shared_from_this());
}

void AdminSession::read_next() {
  if (closed_ || closing_) return;
  async_read_frame(socket_, server_->options().frame_bytes_max,
                   [self = shared_from_this()](FrameResult r) { self->on_frame(std::move(r)); });
}

void AdminSession::on_frame(FrameResult result) {
  if (closed_) return;
  if (result.io_error) {
    if (result.io_error != boost::asio::error::eof && result.io_error != boost::asio::error::operation_aborted) {
      spdlog::debug("admin: session {}: {}", number_, result.io_error.message());
    }
    return close();
  }
  if (!result.protocol_error.empty() || !result.frame) {
    spdlog::warn("admin: session {} sent a bad frame ({}); closing it", number_, result.protocol_error);
    send(0, AdminReply::failure(AdminError::kMalformed, result.protocol_error +
                                                            "; send one schema/admin.capnp Request per frame"));
    return finish_after_writes();
  }
  try {
    dispatch(*result.frame);
  } catch (const kj::Exception& e) {
    std::string why = std::string("malformed request: ") + e.getDescription().cStr();
    spdlog::warn("admin: session {}: {}; closing it", number_, why);
    send(0, AdminReply::failure(AdminError::kMalformed, why));
    return finish_after_writes();
  }
  read_next();
}

Reply AdminSession::reply_for(std::uint64_t id) {
  ++in_flight_;
  std::weak_ptr<AdminSession> weak = weak_from_this();
  return [weak, id](AdminReply reply) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    --self->in_flight_;
    self->send(id, reply);
  };
}

void AdminSession::dispatch(Frame& frame) {
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
  }
  send(id, AdminReply::failure(AdminError::kMalformed, "unknown request type; this sidecar may be older than "
                                                       "your conclavectl"));
}

void AdminSession::send(std::uint64_t id, const AdminReply& reply) {
  if (closed_) return;
  // A client that does not read its answers must not grow our memory.
  if (outbox_.size() >= server_->options().requests_in_flight_max) {
    spdlog::warn("admin: session {} is not reading its responses; closing it", number_);
    return close();
  }
  capnp::MallocMessageBuilder message;
  auto r = message.initRoot<admin::Response>();
  r.setId(id);
  r.setError(to_capnp(reply.error));
  r.setReason(reply.reason);
  r.setLeaderHint(reply.leader_hint);
  r.setLeaderAddress(reply.leader_address);
  if (reply.status) {
    fill_status(r.initStatus(), *reply.status);
  } else if (reply.committed) {
    auto c = r.initCommitted();
    c.setIndex(reply.committed->index);
    c.setTerm(reply.committed->term);
  } else {
    r.setNone();
  }
  outbox_.push_back(encode_frame(message));
  write_next();
}

void AdminSession::write_next() {
  if (writing_ || closed_) return;
  if (outbox_.empty()) {
    if (closing_) close();
    return;
  }
  writing_ = true;
  const auto& frame = outbox_.front();
  boost::asio::async_write(socket_, boost::asio::buffer(frame.begin(), frame.size() * sizeof(capnp::word)),
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             self->writing_ = false;
                             if (self->closed_) return;
                             if (ec) return self->close();
                             self->outbox_.pop_front();
                             self->write_next();
                           });
}

void AdminSession::finish_after_writes() {
  closing_ = true;
  write_next();
}

}  // namespace conclave::ipc
