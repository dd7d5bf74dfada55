// One client connection on a UNIX stream socket that speaks Cap'n Proto
// frames: the read loop (bounded before allocation), the write loop (frames
// sent in the order queued), and the two ways to end
// (close now, or close once what is queued has been written, so a client
// hears why it is being dropped). The admin and application sessions are
// subclasses that only decode and dispatch.
//
// BATCHING. Reads fill a buffer (framing::FrameReader) and every complete
// frame in it is handed to on_frame in one handler, before the next read. A client that pipelines
// requests (an SDK with many proposals in flight) then has them all
// proposed before the node's drain runs, so one fdatasync covers the whole
// burst; reading frame by frame let a drain, and its fdatasync, run between
// any two proposals. Writes likewise gather every queued frame (up to a
// bound) into one system call.
//
// Owned by a shared_ptr: replies that arrive after the connection closed
// find a closed connection rather than a dangling one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <boost/asio/local/stream_protocol.hpp>
#include <capnp/message.h>

#include "schema/stream_framing.h"

namespace conclave::ipc {

// What the sessions receive: one frame, already bounded and parsed.
using Frame = framing::InboundFrame;

class FramedConnection : public std::enable_shared_from_this<FramedConnection> {
 public:
  // `label` names the connection in logs ("admin session 3").
  FramedConnection(boost::asio::local::stream_protocol::socket socket, std::string label,
                   std::size_t frame_bytes_max);
  virtual ~FramedConnection() = default;
  FramedConnection(const FramedConnection&) = delete;
  FramedConnection& operator=(const FramedConnection&) = delete;

  // Starts reading.
  void start();
  // Closes now; unsent frames are dropped. Idempotent.
  void close();
  // Stops reading and closes once every queued frame is written.
  void finish_after_writes();
  bool closed() const { return closed_; }
  bool closing() const { return closing_ || closed_; }
  const std::string& label() const { return label_; }
  // Bytes queued and not yet written.
  std::size_t queued_bytes() const { return queued_bytes_; }
  std::size_t queued_frames() const { return outbox_.size(); }

 protected:
  // Queues one frame for writing.
  void queue(capnp::MessageBuilder& message);
  // Queues one frame without starting a write (for before_write).
  void enqueue(capnp::MessageBuilder& message);
  // Starts a write if none is running (after messages were set aside for
  // before_write).
  void flush() { write_next(); }
  // A write is about to start: the last chance to queue messages set aside
  // so that those arriving during a write go out together.
  virtual void before_write() {}
  // A complete frame arrived. Throwing kj::Exception (a malformed message)
  // is handed to on_protocol_error.
  virtual void on_frame(Frame& frame) = 0;
  // The bytes were not an acceptable frame or message: queue an error for
  // the client; the connection is then closed after writes.
  virtual void on_protocol_error(const std::string& why) = 0;
  // The outbox became empty (a slow reader caught up).
  virtual void on_drained() {}
  // The connection closed (called once).
  virtual void on_closed() {}

 private:
  void read_next();
  // Hands every complete frame already read to on_frame; false once the
  // connection is closing (a bad frame, or on_frame ended it).
  bool deliver_buffered();
  bool deliver(Frame& frame);
  void fail(const std::string& why);
  void write_next();

  boost::asio::local::stream_protocol::socket socket_;
  std::string label_;
  std::size_t frame_bytes_max_;
  framing::FrameReader reader_;
  std::deque<kj::Array<capnp::word>> outbox_;
  std::size_t queued_bytes_ = 0;
  std::size_t writing_frames_ = 0;  // the outbox's first frames, being written
  bool writing_ = false;
  bool closed_ = false;
  bool closing_ = false;
};

}  // namespace conclave::ipc
