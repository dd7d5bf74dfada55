// A blocking test client for the sidecar's UNIX-socket servers: it writes
// Cap'n Proto frames and reads them back while running the server's
// io_context (which the test owns) in between, so one thread drives both.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "schema/stream_framing.h"

namespace conclave::ipc::testing {

class FrameClient {
 public:
  FrameClient(boost::asio::io_context& server_io, const std::string& path) : server_io_(server_io) {
    socket_.connect(boost::asio::local::stream_protocol::endpoint(path));
  }

  template <typename Root>
  void send(const std::function<void(typename Root::Builder)>& fill) {
    capnp::MallocMessageBuilder message;
    fill(message.initRoot<Root>());
    auto frame = framing::encode_frame(message);
    write_raw(frame.begin(), frame.size() * sizeof(capnp::word));
  }
  void write_raw(const void* bytes, std::size_t n) { boost::asio::write(socket_, boost::asio::buffer(bytes, n)); }

  // Runs the server loop until a whole frame has arrived; null if the
  // connection ended (or nothing came within a generous bound).
  std::unique_ptr<framing::InboundFrame> receive() {
    std::unique_ptr<framing::InboundFrame> frame;
    bool done = false;
    framing::async_read_frame(reader_, socket_, [&](framing::FrameReadResult r) {
      frame = std::move(r.frame);
      done = true;
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done && std::chrono::steady_clock::now() < deadline) {
      server_io_.poll();
      io_.poll();
      io_.restart();
      server_io_.restart();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return frame;
  }

 private:
  boost::asio::io_context& server_io_;
  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::socket socket_{io_};
  framing::FrameReader reader_{16u << 20};
};

}  // namespace conclave::ipc::testing
