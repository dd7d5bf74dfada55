// One admin connection: reads Request frames, hands each to the
// AdminService, and writes each Response when the service replies. Owned by
// a shared_ptr so replies that arrive after the connection closed find a
// closed session rather than a dangling one.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <boost/asio/local/stream_protocol.hpp>
#include <capnp/message.h>

#include "ipc/admin_service.h"
#include "ipc/framing.h"

namespace conclave::ipc {

class AdminServer;

class AdminSession : public std::enable_shared_from_this<AdminSession> {
 public:
  AdminSession(AdminServer& server, boost::asio::local::stream_protocol::socket socket, std::uint64_t number);
  void start();
  // Closes now; unsent responses are dropped.
  void close();
  bool closed() const { return closed_; }

 private:
  void read_next();
  void on_frame(FrameResult result);
  void dispatch(Frame& frame);
  Reply reply_for(std::uint64_t id);
  void send(std::uint64_t id, const AdminReply& reply);
  void write_next();
  void finish_after_writes();

  AdminServer* server_;
  boost::asio::local::stream_protocol::socket socket_;
  std::uint64_t number_;
  std::deque<kj::Array<capnp::word>> outbox_;
  bool writing_ = false;
  bool closed_ = false;
  // Set after a malformed frame: close once the error response is written.
  bool closing_ = false;
  std::size_t in_flight_ = 0;
};

}  // namespace conclave::ipc
