// The admin socket's lifecycle: the listener (mode 0600) and the set of
// open sessions.
#include "ipc/admin_server.h"

#include <spdlog/spdlog.h>

#include "ipc/admin_session.h"

namespace conclave::ipc {

AdminServer::AdminServer(boost::asio::io_context& io, AdminServerOptions options, AdminService& service)
    : options_(std::move(options)),
      service_(service),
      listener_(io, UnixListenerOptions{options_.path, 0600, std::nullopt, "admin socket", "--admin-socket"}) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  listener_.start([this](boost::asio::local::stream_protocol::socket socket) {
    if (sessions_.size() >= options_.sessions_max) {
      spdlog::warn("admin: refusing a connection: {} sessions are open already", sessions_.size());
      return;
    }
    auto session = std::make_shared<AdminSession>(*this, std::move(socket), next_session_++);
    sessions_.insert(session);
    session->start();
  });
}

void AdminServer::session_closed(const std::shared_ptr<AdminSession>& session) { sessions_.erase(session); }

void AdminServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  listener_.stop();
  // close() calls session_closed, which erases from the set: iterate a copy.
  auto sessions = sessions_;
  for (const auto& s : sessions) s->close();
  sessions_.clear();
}

}  // namespace conclave::ipc
