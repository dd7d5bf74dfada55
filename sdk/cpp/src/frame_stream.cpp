// Frame reading in three steps (first word, rest of the segment table, the
// segments) and an ordered write queue.
#include "frame_stream.h"

#include <cstring>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace conclave::detail {

namespace {

constexpr std::uint32_t kSegmentsMax = 512;
constexpr std::size_t kWordBytes = sizeof(capnp::word);

std::uint32_t load_le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

const unsigned char* bytes_of(const Frame& f) { return reinterpret_cast<const unsigned char*>(f.begin()); }

}  // namespace

FrameStream::FrameStream(Socket socket, OnFrame on_frame, OnClosed on_closed)
    : socket_(std::move(socket)), on_frame_(std::move(on_frame)), on_closed_(std::move(on_closed)) {}

void FrameStream::start() { read_first_word(); }

void FrameStream::pause() {
  paused_ = true;
  if (!write_error_.empty()) fail(write_error_);
}

void FrameStream::resume() {
  if (!paused_) return;
  paused_ = false;
  if (!reading_ && !closed_) read_first_word();
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

void FrameStream::read_first_word() {
  reading_ = true;
  incoming_ = kj::heapArray<capnp::word>(1);
  auto self = shared_from_this();
  boost::asio::async_read(socket_, boost::asio::buffer(incoming_.begin(), kWordBytes),
                          [self](boost::system::error_code ec, std::size_t) {
                            if (self->closed_) return;
                            if (ec) {
                              return self->fail(ec == boost::asio::error::eof ? "the sidecar closed the connection"
                                                                              : "reading from the sidecar: " +
                                                                                    ec.message());
                            }
                            std::uint64_t segments = std::uint64_t{load_le32(bytes_of(self->incoming_))} + 1;
                            if (segments > kSegmentsMax) {
                              return self->fail("the sidecar sent a frame of " + std::to_string(segments) +
                                                " segments");
                            }
                            self->read_table(static_cast<std::size_t>((segments + 2) / 2));
                          });
}

void FrameStream::read_table(std::size_t table_words) {
  table_words_ = table_words;
  auto table = kj::heapArray<capnp::word>(table_words);
  std::memcpy(table.begin(), incoming_.begin(), kWordBytes);
  incoming_ = std::move(table);
  if (table_words == 1) return read_body();
  auto self = shared_from_this();
  boost::asio::async_read(socket_,
                          boost::asio::buffer(incoming_.begin() + 1, (table_words - 1) * kWordBytes),
                          [self](boost::system::error_code ec, std::size_t) {
                            if (self->closed_) return;
                            if (ec) return self->fail("reading from the sidecar: " + ec.message());
                            self->read_body();
                          });
}

void FrameStream::read_body() {
  const unsigned char* table = bytes_of(incoming_);
  std::uint64_t segments = std::uint64_t{load_le32(table)} + 1;
  std::uint64_t words = 0;
  for (std::uint64_t i = 0; i < segments; ++i) words += load_le32(table + 4 + 4 * i);
  if (words * kWordBytes > kFrameBytesMax) {
    return fail("the sidecar sent a frame of " + std::to_string(words * kWordBytes) + " bytes (at most " +
                std::to_string(kFrameBytesMax) + ")");
  }
  auto frame = kj::heapArray<capnp::word>(table_words_ + static_cast<std::size_t>(words));
  std::memcpy(frame.begin(), incoming_.begin(), table_words_ * kWordBytes);
  incoming_ = std::move(frame);
  auto self = shared_from_this();
  boost::asio::async_read(socket_,
                          boost::asio::buffer(incoming_.begin() + table_words_, static_cast<std::size_t>(words) * kWordBytes),
                          [self](boost::system::error_code ec, std::size_t) {
                            if (self->closed_) return;
                            if (ec) return self->fail("reading from the sidecar: " + ec.message());
                            self->reading_ = false;
                            self->on_frame_(std::move(self->incoming_));
                            if (!self->closed_ && !self->paused_) self->read_first_word();
                          });
}

void FrameStream::write_failed(std::string why) {
  // The sidecar may have closed after sending what we have not read yet (a
  // `closing` with its reason, the end of a stream): let the reader reach
  // the end first. Unless it is paused, and would never get there.
  write_error_ = std::move(why);
  writing_ = false;
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
  auto self = shared_from_this();
  const Frame& front = outgoing_.front();
  boost::asio::async_write(socket_, boost::asio::buffer(front.begin(), front.size() * kWordBytes),
                           [self](boost::system::error_code ec, std::size_t) {
                             if (self->closed_) return;
                             if (ec) return self->write_failed("writing to the sidecar: " + ec.message());
                             self->outgoing_.pop_front();
                             self->write_next();
                           });
}

}  // namespace conclave::detail
