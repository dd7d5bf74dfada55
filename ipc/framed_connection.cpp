#include "ipc/framed_connection.h"

#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>

#include <vector>

namespace conclave::ipc {

namespace {

constexpr std::size_t kWordBytes = sizeof(capnp::word);
// What one gathered write may take from the outbox.
constexpr std::size_t kWriteFramesMax = 256;
constexpr std::size_t kWriteBytesMax = 1 << 20;

}  // namespace

FramedConnection::FramedConnection(boost::asio::local::stream_protocol::socket socket, std::string label,
                                   std::size_t frame_bytes_max)
    : socket_(std::move(socket)),
      label_(std::move(label)),
      frame_bytes_max_(frame_bytes_max),
      reader_(frame_bytes_max) {}

void FramedConnection::start() {
  spdlog::debug("{} opened", label_);
  read_next();
}

void FramedConnection::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(boost::asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  outbox_.clear();
  queued_bytes_ = 0;
  spdlog::debug("{} closed", label_);
  on_closed();
}

void FramedConnection::finish_after_writes() {
  if (closed_) return;
  closing_ = true;
  write_next();
}

void FramedConnection::read_next() {
  if (closing()) return;
  if (!deliver_buffered()) return;
  reader_.async_fill(socket_, [self = shared_from_this()](boost::system::error_code ec) {
    if (self->closing()) return;
    if (ec) {
      if (ec != boost::asio::error::eof && ec != boost::asio::error::operation_aborted) {
        spdlog::debug("{}: {}", self->label_, ec.message());
      }
      return self->close();
    }
    self->read_next();
  });
}

bool FramedConnection::deliver_buffered() {
  for (;;) {
    framing::FrameReadResult r = reader_.next();
    if (r.needs_bytes()) return true;
    if (!r.ok()) {
      fail(r.protocol_error);
      return false;
    }
    if (!deliver(*r.frame)) return false;
  }
}

bool FramedConnection::deliver(Frame& frame) {
  try {
    on_frame(frame);
  } catch (const kj::Exception& e) {
    std::string why = std::string("malformed message: ") + e.getDescription().cStr();
    spdlog::warn("{}: {}; closing it", label_, why);
    on_protocol_error(why);
    finish_after_writes();
    return false;
  }
  return !closing();
}

void FramedConnection::fail(const std::string& why) {
  spdlog::warn("{} sent a bad frame ({}); closing it", label_, why);
  on_protocol_error(why);
  finish_after_writes();
}

void FramedConnection::queue(capnp::MessageBuilder& message) {
  enqueue(message);
  write_next();
}

void FramedConnection::enqueue(capnp::MessageBuilder& message) {
  if (closed_) return;
  outbox_.push_back(framing::encode_frame(message));
  queued_bytes_ += outbox_.back().size() * sizeof(capnp::word);
}

void FramedConnection::write_next() {
  if (writing_ || closed_) return;
  before_write();
  if (outbox_.empty()) {
    if (closing_) close();
    return;
  }
  writing_ = true;
  std::vector<boost::asio::const_buffer> buffers;
  std::size_t bytes = 0;
  for (const auto& frame : outbox_) {
    if (buffers.size() == kWriteFramesMax || (!buffers.empty() && bytes >= kWriteBytesMax)) break;
    buffers.push_back(framing::frame_buffer(frame));
    bytes += frame.size() * kWordBytes;
  }
  writing_frames_ = buffers.size();
  boost::asio::async_write(socket_, buffers, [self = shared_from_this(), bytes](boost::system::error_code ec, std::size_t) {
    self->writing_ = false;
    if (self->closed_) return;
    if (ec) return self->close();
    self->queued_bytes_ -= bytes;
    for (std::size_t i = 0; i < self->writing_frames_; ++i) self->outbox_.pop_front();
    self->writing_frames_ = 0;
    if (self->outbox_.empty() && !self->closing_) self->on_drained();
    self->write_next();
  });
}

}  // namespace conclave::ipc
