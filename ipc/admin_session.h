// One admin connection: decodes Request frames, hands each to the
// AdminService, and queues each Response when the service replies.
#pragma once

#include <cstdint>
#include <memory>

#include "ipc/admin_service.h"
#include "ipc/framed_connection.h"

namespace conclave::ipc {

class AdminServer;

class AdminSession final : public FramedConnection {
 public:
  AdminSession(AdminServer& server, boost::asio::local::stream_protocol::socket socket, std::uint64_t number);

 private:
  void on_frame(Frame& frame) override;
  void on_protocol_error(const std::string& why) override;
  void on_closed() override;
  Reply reply_for(std::uint64_t id);
  void send(std::uint64_t id, const AdminReply& reply);

  AdminServer* server_;
  std::size_t in_flight_ = 0;
};

}  // namespace conclave::ipc
