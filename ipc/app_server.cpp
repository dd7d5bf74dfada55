// The application socket's lifecycle: the listener (mode from config), the
// credentials check on every connection, and the set of open sessions.
#include "ipc/app_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "ipc/app_session.h"

namespace conclave::ipc {

namespace {

template <typename T>
bool contains(const std::vector<T>& v, T x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

AppServer::AppServer(boost::asio::io_context& io, AppServerOptions options, AppService& service)
    : options_(std::move(options)),
      service_(service),
      listener_(io, UnixListenerOptions{options_.path, options_.mode, options_.group, "application socket",
                                        "--app-socket"}) {}

AppServer::~AppServer() { stop(); }

std::string AppServer::refusal(uid_t uid, gid_t gid) const {
  if (options_.allowed_uids.empty() && options_.allowed_gids.empty()) {
    if (uid == 0 || uid == ::geteuid() || gid == options_.group.value_or(::getegid())) return {};
    return "uid " + std::to_string(uid) + " (gid " + std::to_string(gid) +
           ") is neither this sidecar's user, its socket's group nor root; add it to app_allowed_uids or "
           "app_allowed_gids";
  }
  if (contains(options_.allowed_uids, uid) || contains(options_.allowed_gids, gid)) return {};
  return "uid " + std::to_string(uid) + " (gid " + std::to_string(gid) +
         ") is not in app_allowed_uids or app_allowed_gids";
}

void AppServer::start() {
  listener_.start([this](boost::asio::local::stream_protocol::socket socket) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    std::string peer = "pid ?";
    std::string refused;
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      refused = "the sidecar could not read the connecting process's credentials";
    } else {
      peer = "pid " + std::to_string(cred.pid) + ", uid " + std::to_string(cred.uid);
      refused = refusal(cred.uid, cred.gid);
    }
    auto session = std::make_shared<AppSession>(*this, std::move(socket), next_session_++, peer);
    sessions_.insert(session);
    if (!refused.empty()) {
      spdlog::warn("{} ({}) refused: {}", session->label(), peer, refused);
      return session->refuse(AppError::kForbidden, refused);
    }
    if (sessions_.size() > options_.sessions_max) {
      spdlog::warn("{} ({}) refused: {} sessions are open already", session->label(), peer, sessions_.size() - 1);
      return session->refuse(AppError::kRejected, "too many applications are attached to this sidecar");
    }
    session->start();
  });
}

void AppServer::session_closed(const std::shared_ptr<AppSession>& session) { sessions_.erase(session); }

void AppServer::stop(const std::string& why) {
  if (stopped_) return;
  stopped_ = true;
  listener_.stop();
  auto sessions = sessions_;
  for (const auto& s : sessions) s->close(AppError::kShuttingDown, why);
}

}  // namespace conclave::ipc
