// One connection's frames: reads Cap'n Proto stream-framed messages from a
// UNIX socket (refusing one larger than the protocol's bound before
// allocating it) and writes queued frames in order. Lives on the I/O thread.
//
// Reading can be paused: the client stops reading while the handler is far
// behind, so the sidecar (not this process) holds the backlog.
//
// Both directions batch: reads fill a buffer and hand every complete frame
// in it over (then say the batch ended) before reading again, writes gather
// the queued frames into one system call. Every client is streamed every committed entry, so reading
// frame by frame (three reads each) was most of the SDK's system calls
// under load (conclave-bench).
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
  // The frame's words are valid only during the call.
  using OnFrame = std::function<void(kj::ArrayPtr<const capnp::word>)>;
  // Every frame of one read was handed over (also when delivery stopped
  // early: paused or a large frame's read started).
  using OnBatchEnd = std::function<void()>;
  using OnClosed = std::function<void(std::string why)>;

  static constexpr std::size_t kFrameBytesMax = 8u << 20;  // schema/app.capnp: TRANSPORT

  FrameStream(Socket socket, OnFrame on_frame, OnBatchEnd on_batch_end, OnClosed on_closed);

  void start();
  void pause();
  void resume();
  void write(Frame frame);
  // Closes the socket; no callback runs afterwards.
  void close();

 private:
  // Delivers what the buffer holds, then reads more unless paused or closed.
  void read_next();
  // False when delivery must stop: closed, paused, or a large frame's read
  // was started.
  bool deliver_buffered();
  void read_large_frame(std::size_t total_words);
  unsigned char* read_bytes();
  void fail(std::string why);
  void write_next();
  void write_failed(std::string why);

  Socket socket_;
  OnFrame on_frame_;
  OnBatchEnd on_batch_end_;
  OnClosed on_closed_;
  bool closed_ = false;
  bool paused_ = false;
  bool reading_ = false;
  std::unique_ptr<capnp::word[]> read_buffer_;  // words: frames are decoded in place
  std::size_t read_begin_ = 0;  // the first byte not yet delivered
  std::size_t read_end_ = 0;    // the end of what was read
  std::deque<Frame> outgoing_;
  std::size_t writing_frames_ = 0;  // the first frames of outgoing_, being written
  bool writing_ = false;
  std::string write_error_;  // set once a write failed
};

}  // namespace conclave::detail
