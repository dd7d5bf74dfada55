// A listening UNIX stream socket at a path the sidecar owns: claiming the
// path (a stale socket left by a dead process is removed; one a live process
// serves is refused, with the path), binding with the requested mode from
// birth (no window in which another user could connect), accepting
// connections, and removing the file again on stop.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace conclave::ipc {

struct UnixListenerOptions {
  std::string path;
  mode_t mode = 0600;
  // The group to give the socket (the process must belong to it); none:
  // the process's own.
  std::optional<gid_t> group;
  // For logs and errors: "admin socket", and the flag that sets the path.
  std::string what = "socket";
  std::string flag;
};

class UnixListener {
 public:
  using AcceptHandler = std::function<void(boost::asio::local::stream_protocol::socket)>;

  UnixListener(boost::asio::io_context& io, UnixListenerOptions options);
  ~UnixListener();
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  // Binds and starts accepting, handing each connection to `on_accept`.
  // Throws std::runtime_error saying what is wrong and what to do.
  void start(AcceptHandler on_accept);
  // Stops accepting and removes the socket file. Idempotent.
  void stop();
  const UnixListenerOptions& options() const { return options_; }

 private:
  void claim_path();
  void accept();

  boost::asio::io_context& io_;
  UnixListenerOptions options_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  AcceptHandler on_accept_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace conclave::ipc
