// The admin socket's lifecycle: claiming the path (removing a stale socket,
// refusing a live one), binding with mode 0600, accepting sessions.
#include "ipc/admin_server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "ipc/admin_session.h"

namespace conclave::ipc {

using boost::asio::local::stream_protocol;

namespace {

// Is a live process serving the socket at `path`? A connect that succeeds
// says yes; ECONNREFUSED says the file is a leftover of a dead process.
bool socket_is_live(boost::asio::io_context& io, const std::string& path) {
  stream_protocol::socket probe(io);
  boost::system::error_code ec;
  probe.connect(stream_protocol::endpoint(path), ec);
  return !ec;
}

}  // namespace

AdminServer::AdminServer(boost::asio::io_context& io, AdminServerOptions options, AdminService& service)
    : io_(io), options_(std::move(options)), service_(service), acceptor_(io) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  const std::string& path = options_.path;
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    throw std::runtime_error("admin socket path '" + path + "' is too long for a UNIX socket (at most " +
                             std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                             " bytes); choose a shorter --admin-socket");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::runtime_error("admin socket path '" + path +
                               "' exists and is not a socket; move it away or choose another --admin-socket");
    }
    if (socket_is_live(io_, path)) {
      throw std::runtime_error("admin socket '" + path +
                               "' is served by another live process; stop it, or give this node its own "
                               "--admin-socket");
    }
    spdlog::info("admin: removing stale socket {} left by a process that is gone", path);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      throw std::runtime_error("cannot remove stale admin socket '" + path + "': " + std::strerror(errno));
    }
  }
  // The umask makes the socket 0600 from birth, so there is no window in
  // which another user could connect; chmod afterwards states it explicitly.
  mode_t old_mask = ::umask(0177);
  boost::system::error_code ec;
  acceptor_.open(stream_protocol(), ec);
  if (!ec) acceptor_.bind(stream_protocol::endpoint(path), ec);
  ::umask(old_mask);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot serve the admin socket at '" + path + "': " + ec.message() +
                             "; check that its directory exists and is writable");
  }
  ::chmod(path.c_str(), 0600);
  started_ = true;
  spdlog::info("admin: serving {}", path);
  accept();
}

void AdminServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, stream_protocol::socket socket) {
    if (stopped_) return;
    if (ec) {
      if (ec == boost::asio::error::operation_aborted) return;
      spdlog::warn("admin: accept failed: {}", ec.message());
    } else if (sessions_.size() >= options_.sessions_max) {
      spdlog::warn("admin: refusing a connection: {} sessions are open already", sessions_.size());
    } else {
      auto session = std::make_shared<AdminSession>(*this, std::move(socket), next_session_++);
      sessions_.insert(session);
      session->start();
    }
    accept();
  });
}

void AdminServer::session_closed(const std::shared_ptr<AdminSession>& session) { sessions_.erase(session); }

void AdminServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  // close() calls session_closed, which erases from the set: iterate a copy.
  auto sessions = sessions_;
  for (const auto& s : sessions) s->close();
  sessions_.clear();
  if (started_) ::unlink(options_.path.c_str());
}

}  // namespace conclave::ipc
