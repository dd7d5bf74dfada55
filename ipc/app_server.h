// The application socket: a UNIX stream socket serving schema/app.capnp to
// the applications on this node. Created mode 0660; each connecting
// process's credentials (SO_PEERCRED) are checked against the allowed uids
// and gids before a byte is read, and a refused process is told why.
//
// Bounds: a frame is at most 8 MiB; a session has at most
// requests_in_flight_max unanswered requests (beyond that, requests are
// refused with an error); a session whose unsent bytes exceed
// queued_bytes_max (an application that stopped reading) is closed. The
// node feeds the stream only while a session's queue is under the
// high-water mark, so a slow reader costs memory for at most that much.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "ipc/app_service.h"
#include "ipc/unix_listener.h"

namespace conclave::ipc {

struct AppServerOptions {
  std::string path;
  mode_t mode = 0660;
  // The socket's group (see UnixListenerOptions::group).
  std::optional<gid_t> group;
  // Who may attach. Both empty: this process's own uid, root, and members of
  // the socket's group (what the socket's mode already allows).
  std::vector<uid_t> allowed_uids;
  std::vector<gid_t> allowed_gids;
  std::size_t frame_bytes_max = 8u << 20;
  std::size_t requests_in_flight_max = 1u << 16;
  std::size_t queued_bytes_max = 256u << 20;
  std::size_t sessions_max = 64;
};

class AppSession;

class AppServer {
 public:
  AppServer(boost::asio::io_context& io, AppServerOptions options, AppService& service);
  ~AppServer();
  AppServer(const AppServer&) = delete;
  AppServer& operator=(const AppServer&) = delete;

  // Binds and starts accepting. Throws std::runtime_error saying what to do.
  void start();
  // Stops accepting; every session is sent `closing` and closed.
  void stop(const std::string& why = "the sidecar is stopping");

  void session_closed(const std::shared_ptr<AppSession>& session);
  AppService& service() { return service_; }
  const AppServerOptions& options() const { return options_; }

 private:
  // Why the process at the other end may not attach; empty if it may.
  std::string refusal(uid_t uid, gid_t gid) const;

  AppServerOptions options_;
  AppService& service_;
  UnixListener listener_;
  std::set<std::shared_ptr<AppSession>> sessions_;
  std::uint64_t next_session_ = 1;
  bool stopped_ = false;
};

}  // namespace conclave::ipc
