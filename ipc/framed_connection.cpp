#include "ipc/framed_connection.h"

#include <spdlog/spdlog.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <cstring>
#include <vector>

namespace conclave::ipc {

namespace {

constexpr std::size_t kWordBytes = sizeof(capnp::word);
// Holds a few hundred small requests; a larger frame is read on its own.
constexpr std::size_t kReadBufferBytes = 64 << 10;
// What one gathered write may take from the outbox.
constexpr std::size_t kWriteFramesMax = 256;
constexpr std::size_t kWriteBytesMax = 1 << 20;

}  // namespace

FramedConnection::FramedConnection(boost::asio::local::stream_protocol::socket socket, std::string label,
                                   std::size_t frame_bytes_max)
    : socket_(std::move(socket)),
      label_(std::move(label)),
      frame_bytes_max_(frame_bytes_max),
      read_buffer_(new unsigned char[kReadBufferBytes]) {}

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
  // What is left is the start of a frame: move it to the front, so the
  // buffer always has room for the rest of any frame that fits in it.
  std::memmove(read_buffer_.get(), read_buffer_.get() + read_begin_, read_end_ - read_begin_);
  read_end_ -= read_begin_;
  read_begin_ = 0;
  socket_.async_read_some(
      boost::asio::buffer(read_buffer_.get() + read_end_, kReadBufferBytes - read_end_),
      [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        if (self->closing()) return;
        if (ec) {
          if (ec != boost::asio::error::eof && ec != boost::asio::error::operation_aborted) {
            spdlog::debug("{}: {}", self->label_, ec.message());
          }
          return self->close();
        }
        self->read_end_ += n;
        self->read_next();
      });
}

bool FramedConnection::deliver_buffered() {
  for (;;) {
    const unsigned char* at = read_buffer_.get() + read_begin_;
    const std::size_t available = read_end_ - read_begin_;
    if (available < kWordBytes) return true;
    std::string error;
    const std::size_t table_words = framing::segment_table_words(at, error);
    if (table_words == 0) {
      fail(error);
      return false;
    }
    // The table is bounded (kFrameSegmentsMax) far below the buffer's size,
    // so it always fits once read.
    static_assert(framing::kFrameSegmentsMax * 4 + 8 < kReadBufferBytes);
    if (available < table_words * kWordBytes) return true;
    const std::size_t total = framing::frame_words(at, table_words, frame_bytes_max_, error);
    if (total == 0) {
      fail(error);
      return false;
    }
    if (total * kWordBytes > kReadBufferBytes) {
      read_large_frame(total);
      return false;
    }
    if (available < total * kWordBytes) return true;
    auto words = kj::heapArray<capnp::word>(total);
    std::memcpy(words.begin(), at, total * kWordBytes);
    read_begin_ += total * kWordBytes;
    if (!deliver(std::move(words))) return false;
  }
}

void FramedConnection::read_large_frame(std::size_t total_words) {
  auto words = std::make_shared<kj::Array<capnp::word>>(kj::heapArray<capnp::word>(total_words));
  const std::size_t have = read_end_ - read_begin_;
  std::memcpy(words->begin(), read_buffer_.get() + read_begin_, have);
  read_begin_ = read_end_ = 0;
  auto rest = boost::asio::buffer(reinterpret_cast<unsigned char*>(words->begin()) + have,
                                  total_words * kWordBytes - have);
  boost::asio::async_read(socket_, rest,
                          [self = shared_from_this(), words](boost::system::error_code ec, std::size_t) {
                            if (self->closing()) return;
                            if (ec) return self->close();
                            if (self->deliver(std::move(*words))) self->read_next();
                          });
}

bool FramedConnection::deliver(kj::Array<capnp::word> words) {
  std::unique_ptr<Frame> frame;
  try {
    frame = std::make_unique<Frame>(std::move(words), framing::frame_reader_options(frame_bytes_max_));
  } catch (const kj::Exception& e) {
    fail(std::string("malformed frame: ") + e.getDescription().cStr());
    return false;
  }
  try {
    on_frame(*frame);
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
  if (closed_) return;
  outbox_.push_back(framing::encode_frame(message));
  queued_bytes_ += outbox_.back().size() * sizeof(capnp::word);
  write_next();
}

void FramedConnection::write_next() {
  if (writing_ || closed_) return;
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
