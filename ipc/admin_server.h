// The admin socket: a UNIX stream socket serving schema/admin.capnp to
// conclavectl. Each connection is a session that reads Request frames and
// writes Response frames; requests are passed to an AdminService (the node)
// and answered whenever it replies, in any order.
//
// The socket file is created with mode 0600 (administration is as powerful
// as the data directory). A stale socket file left by a dead process is
// removed at start; a socket another live process is serving is not, and
// start() refuses with the path. A malformed or oversized frame is answered
// with an error (id 0) and that connection is closed; other sessions carry on.
//
// Bounds: a frame is at most 1 MiB; a session has at most
// requests_in_flight_max unanswered requests (beyond that, requests are
// refused with an error rather than queued), and its unsent responses are
// bounded the same way (a client that stops reading is disconnected).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "ipc/admin_service.h"
#include "ipc/unix_listener.h"

namespace conclave::ipc {

struct AdminServerOptions {
  std::string path;
  std::size_t frame_bytes_max = 1u << 20;
  std::size_t requests_in_flight_max = 1024;
  std::size_t sessions_max = 64;
};

class AdminSession;

class AdminServer {
 public:
  AdminServer(boost::asio::io_context& io, AdminServerOptions options, AdminService& service);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and starts accepting. Throws std::runtime_error saying what is
  // wrong (the path is served by a live process, is not a socket, cannot be
  // bound).
  void start();
  // Stops accepting, closes every session, removes the socket file.
  void stop();

  // Called by sessions.
  void session_closed(const std::shared_ptr<AdminSession>& session);
  AdminService& service() { return service_; }
  const AdminServerOptions& options() const { return options_; }

 private:
  AdminServerOptions options_;
  AdminService& service_;
  UnixListener listener_;
  std::set<std::shared_ptr<AdminSession>> sessions_;
  std::uint64_t next_session_ = 1;
  bool stopped_ = false;
};

}  // namespace conclave::ipc
