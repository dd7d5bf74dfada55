// Buffered frame reading (each frame bounded before it is allocated) and an
// ordered, gathered write queue.
#include "frame_stream.h"

#include <cstring>
#include <vector>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace conclave::detail {

namespace {

constexpr std::uint32_t kSegmentsMax = 512;
constexpr std::size_t kWordBytes = sizeof(capnp::word);
// Holds hundreds of entries of a busy stream; a larger frame is read on its own.
constexpr std::size_t kReadBufferBytes = 64 << 10;
static_assert(kSegmentsMax * 4 + 8 < kReadBufferBytes, "a segment table always fits the buffer");
// What one gathered write may take from the queue.
constexpr std::size_t kWriteFramesMax = 256;
constexpr std::size_t kWriteBytesMax = 1 << 20;

std::uint32_t load_le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

}  // namespace

FrameStream::FrameStream(Socket socket, OnFrame on_frame, OnBatchEnd on_batch_end, OnClosed on_closed)
    : socket_(std::move(socket)),
      on_frame_(std::move(on_frame)),
      on_batch_end_(std::move(on_batch_end)),
      on_closed_(std::move(on_closed)),
      read_buffer_(new capnp::word[kReadBufferBytes / kWordBytes]) {}

unsigned char* FrameStream::read_bytes() { return reinterpret_cast<unsigned char*>(read_buffer_.get()); }

void FrameStream::start() { read_next(); }

void FrameStream::pause() {
  paused_ = true;
  if (!write_error_.empty()) fail(write_error_);
}

void FrameStream::resume() {
  if (!paused_) return;
  paused_ = false;
  // Buffered frames are delivered at once, and a frame's handler may drop
  // the owner's reference to this stream: hold one until it returns.
  auto self = shared_from_this();
  if (!reading_ && !closed_) read_next();
}

void FrameStream::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void FrameStream::fail(std::string why) {
  if (closed_) return;
  close();
  on_closed_(std::move(why));
}

void FrameStream::read_next() {
  const bool more = deliver_buffered();
  if (!closed_) on_batch_end_();
  if (!more) return;
  // What is left is the start of a frame: move it to the front, so the
  // buffer has room for the rest of any frame that fits in it.
  std::memmove(read_bytes(), read_bytes() + read_begin_, read_end_ - read_begin_);
  read_end_ -= read_begin_;
  read_begin_ = 0;
  reading_ = true;
  auto self = shared_from_this();
  socket_.async_read_some(boost::asio::buffer(read_bytes() + read_end_, kReadBufferBytes - read_end_),
                          [self](boost::system::error_code ec, std::size_t n) {
                            self->reading_ = false;
                            if (self->closed_) return;
                            if (ec) {
                              return self->fail(ec == boost::asio::error::eof ? "the sidecar closed the connection"
                                                                              : "reading from the sidecar: " +
                                                                                    ec.message());
                            }
                            self->read_end_ += n;
                            self->read_next();
                          });
}

bool FrameStream::deliver_buffered() {
  while (!closed_ && !paused_) {
    // read_begin_ is always a whole number of words in: frames are.
    const unsigned char* at = read_bytes() + read_begin_;
    const std::size_t available = read_end_ - read_begin_;
    if (available < kWordBytes) return true;
    const std::uint64_t segments = std::uint64_t{load_le32(at)} + 1;
    if (segments > kSegmentsMax) {
      fail("the sidecar sent a frame of " + std::to_string(segments) + " segments");
      return false;
    }
    const auto table_words = static_cast<std::size_t>((segments + 2) / 2);
    if (available < table_words * kWordBytes) return true;
    std::uint64_t words = 0;
    for (std::uint64_t i = 0; i < segments; ++i) words += load_le32(at + 4 + 4 * i);
    if (words * kWordBytes > kFrameBytesMax) {
      fail("the sidecar sent a frame of " + std::to_string(words * kWordBytes) + " bytes (at most " +
           std::to_string(kFrameBytesMax) + ")");
      return false;
    }
    const std::size_t total = table_words + static_cast<std::size_t>(words);
    if (total * kWordBytes > kReadBufferBytes) {
      read_large_frame(total);
      return false;
    }
    if (available < total * kWordBytes) return true;
    kj::ArrayPtr<const capnp::word> frame(reinterpret_cast<const capnp::word*>(at), total);
    read_begin_ += total * kWordBytes;
    on_frame_(frame);
  }
  return false;
}

void FrameStream::read_large_frame(std::size_t total_words) {
  auto frame = std::make_shared<Frame>(kj::heapArray<capnp::word>(total_words));
  const std::size_t have = read_end_ - read_begin_;
  std::memcpy(frame->begin(), read_bytes() + read_begin_, have);
  read_begin_ = read_end_ = 0;
  reading_ = true;
  auto self = shared_from_this();
  boost::asio::async_read(socket_,
                          boost::asio::buffer(reinterpret_cast<unsigned char*>(frame->begin()) + have,
                                              total_words * kWordBytes - have),
                          [self, frame](boost::system::error_code ec, std::size_t) {
                            self->reading_ = false;
                            if (self->closed_) return;
                            if (ec) return self->fail("reading from the sidecar: " + ec.message());
                            self->on_frame_(frame->asPtr());
                            if (self->closed_) return;
                            self->on_batch_end_();
                            if (!self->closed_ && !self->paused_) self->read_next();
                          });
}

void FrameStream::write_failed(std::string why) {
  // The sidecar may have closed after sending what we have not read yet (a
  // `closing` with its reason, the end of a stream): let the reader reach
  // the end first. Unless it is paused, and would never get there.
  write_error_ = std::move(why);
  writing_ = false;
  writing_frames_ = 0;
  outgoing_.clear();
  if (paused_ || !reading_) fail(write_error_);
}

void FrameStream::write(Frame frame) {
  if (closed_ || !write_error_.empty()) return;
  outgoing_.push_back(std::move(frame));
  if (!writing_) write_next();
}

void FrameStream::write_next() {
  if (outgoing_.empty() || closed_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  std::vector<boost::asio::const_buffer> buffers;
  std::size_t bytes = 0;
  for (const Frame& frame : outgoing_) {
    if (buffers.size() == kWriteFramesMax || (!buffers.empty() && bytes >= kWriteBytesMax)) break;
    buffers.push_back(boost::asio::buffer(frame.begin(), frame.size() * kWordBytes));
    bytes += frame.size() * kWordBytes;
  }
  writing_frames_ = buffers.size();
  auto self = shared_from_this();
  boost::asio::async_write(socket_, buffers, [self](boost::system::error_code ec, std::size_t) {
    if (self->closed_) return;
    if (ec) return self->write_failed("writing to the sidecar: " + ec.message());
    for (std::size_t i = 0; i < self->writing_frames_; ++i) self->outgoing_.pop_front();
    self->writing_frames_ = 0;
    self->write_next();
  });
}

}  // namespace conclave::detail
