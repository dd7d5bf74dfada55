// One application connection: decodes ToSidecar frames (schema/app.capnp),
// enforces the protocol's order (attach first, ids where requests need them,
// none where notices must not have them), hands each message to the
// AppService, and encodes the node's answers and stream events as
// FromSidecar frames.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ipc/app_service.h"
#include "ipc/framed_connection.h"

namespace conclave::ipc {

class AppServer;

class AppSession final : public FramedConnection, public AppStream {
 public:
  AppSession(AppServer& server, boost::asio::local::stream_protocol::socket socket, std::uint64_t number,
             std::string peer);

  // Refuses the connection: a `closing` with the reason, then close.
  void refuse(AppError code, const std::string& reason);

  // AppStream
  void send(const AppEvent& event) override;
  void send_entries(std::span<const EntryView> entries) override;
  std::size_t queued_bytes() const override { return FramedConnection::queued_bytes(); }
  void close(AppError code, const std::string& reason) override;
  bool closed() const override { return FramedConnection::closing(); }
  const std::string& label() const override { return FramedConnection::label(); }

 private:
  void on_frame(Frame& frame) override;
  void on_protocol_error(const std::string& why) override;
  void on_drained() override;
  void on_closed() override;
  std::shared_ptr<AppSession> self();
  AppReplyFn reply_for(std::uint64_t id);
  void answer(std::uint64_t id, AppAnswer answer);
  void before_write() override;
  // Queues the answers set aside: one `answers` frame for several to an
  // application that reads them, else one frame each. Before any other
  // message, so the order of answers and stream is the order they came.
  void encode_waiting_answers();
  // A protocol violation: tell the application why, log it, close.
  void violation(const std::string& why);
  // Closes a session whose application stopped reading.
  void check_backlog();

  AppServer* server_;
  std::string peer_;
  bool attach_sent_ = false;
  bool attached_ = false;
  // The application reads `entries` and `answers` (Attach.batches).
  bool batches_ = false;
  std::vector<std::pair<std::uint64_t, AppAnswer>> waiting_answers_;
  std::size_t in_flight_ = 0;
};

}  // namespace conclave::ipc
