// One connection's frames: reads Cap'n Proto stream-framed messages from a
// UNIX socket (refusing one larger than the protocol's bound before
// allocating it) and writes queued frames in order. Lives on the I/O thread.
//
// Reading can be paused: the client stops reading while the handler is far
// behind, so the sidecar (not this process) holds the backlog.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/local/stream_protocol.hpp>

#include "wire.h"

namespace conclave::detail {

class FrameStream : public std::enable_shared_from_this<FrameStream> {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;
  using OnFrame = std::function<void(Frame)>;
  using OnClosed = std::function<void(std::string why)>;

  static constexpr std::size_t kFrameBytesMax = 8u << 20;  // schema/app.capnp: TRANSPORT

  FrameStream(Socket socket, OnFrame on_frame, OnClosed on_closed);

  void start();
  void pause();
  void resume();
  void write(Frame frame);
  // Closes the socket; no callback runs afterwards.
  void close();

 private:
  void read_first_word();
  void read_table(std::size_t table_words);
  void read_body();
  void fail(std::string why);
  void write_next();
  void write_failed(std::string why);

  Socket socket_;
  OnFrame on_frame_;
  OnClosed on_closed_;
  bool closed_ = false;
  bool paused_ = false;
  bool reading_ = false;
  Frame incoming_;
  std::size_t table_words_ = 0;
  std::deque<Frame> outgoing_;
  bool writing_ = false;
  std::string write_error_;  // set once a write failed
};

}  // namespace conclave::detail
