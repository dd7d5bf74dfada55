#include "ipc/unix_listener.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

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

UnixListener::UnixListener(boost::asio::io_context& io, UnixListenerOptions options)
    : io_(io), options_(std::move(options)), acceptor_(io) {}

UnixListener::~UnixListener() { stop(); }

void UnixListener::claim_path() {
  const std::string& path = options_.path;
  const std::string& what = options_.what;
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    throw std::runtime_error(what + " path '" + path + "' is too long for a UNIX socket (at most " +
                             std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes); choose a shorter " +
                             options_.flag);
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode)) {
    throw std::runtime_error(what + " path '" + path + "' exists and is not a socket; move it away or choose another " +
                             options_.flag);
  }
  if (socket_is_live(io_, path)) {
    throw std::runtime_error(what + " '" + path + "' is served by another live process; stop it, or give this node " +
                             "its own " + options_.flag);
  }
  spdlog::info("removing stale {} {} left by a process that is gone", what, path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw std::runtime_error("cannot remove stale " + what + " '" + path + "': " + std::strerror(errno));
  }
}

void UnixListener::start(AcceptHandler on_accept) {
  claim_path();
  on_accept_ = std::move(on_accept);
  const std::string& path = options_.path;
  // The umask makes the socket carry the mode from birth; chmod afterwards
  // states it explicitly (bind honours the umask only).
  mode_t old_mask = ::umask(static_cast<mode_t>(~options_.mode & 0777));
  boost::system::error_code ec;
  acceptor_.open(stream_protocol(), ec);
  if (!ec) acceptor_.bind(stream_protocol::endpoint(path), ec);
  ::umask(old_mask);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot serve the " + options_.what + " at '" + path + "': " + ec.message() +
                             "; check that its directory exists and is writable");
  }
  ::chmod(path.c_str(), options_.mode);
  if (options_.group && ::chown(path.c_str(), static_cast<uid_t>(-1), *options_.group) != 0) {
    const std::string why = std::strerror(errno);
    acceptor_.close(ec);
    ::unlink(path.c_str());
    throw std::runtime_error("cannot give the " + options_.what + " at '" + path + "' to group " +
                             std::to_string(*options_.group) + ": " + why +
                             " (the sidecar's user must be a member of that group)");
  }
  started_ = true;
  spdlog::info("{}: serving {} (mode {:04o}{})", options_.what, path, static_cast<unsigned>(options_.mode),
               options_.group ? ", group " + std::to_string(*options_.group) : std::string());
  accept();
}

void UnixListener::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, stream_protocol::socket socket) {
    if (stopped_) return;
    if (ec) {
      if (ec == boost::asio::error::operation_aborted) return;
      spdlog::warn("{}: accept failed: {}", options_.what, ec.message());
    } else {
      on_accept_(std::move(socket));
    }
    accept();
  });
}

void UnixListener::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  if (started_) ::unlink(options_.path.c_str());
}

}  // namespace conclave::ipc
