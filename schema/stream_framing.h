// Reading Cap'n Proto stream frames from any Boost.Asio stream (TCP for the
// peer transport, UNIX for the admin and application sockets), each bounded
// by schema/framing.h before anything is allocated, and the buffer to write
// one frame with.
//
// BATCHING. FrameReader reads as much as the stream has into one buffer and
// hands out every complete frame in it before the next read. A connection
// that loops over next() until it asks for more bytes handles a whole burst
// (a follower's forwarded proposals, a client's pipelined requests, a
// leader's appends) in one completion handler, so the node's drain, and its
// fdatasync, runs once for the burst rather than once per frame.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/read.hpp>
#include <boost/system/error_code.hpp>
#include <kj/array.h>

#include "schema/framing.h"

namespace conclave::framing {

// The outcome of one read: an I/O error (the stream failed or ended), a
// protocol error (the bytes are not an acceptable frame; say why), or a frame.
// With none of the three, FrameReader::next() needs more bytes.
struct FrameReadResult {
  boost::system::error_code io_error;
  std::string protocol_error;
  std::unique_ptr<InboundFrame> frame;
  bool ok() const { return !io_error && protocol_error.empty() && frame != nullptr; }
  bool needs_bytes() const { return !io_error && protocol_error.empty() && frame == nullptr; }
};

// The bytes of an encoded frame, for an async_write.
inline boost::asio::const_buffer frame_buffer(const kj::Array<capnp::word>& frame) {
  return boost::asio::buffer(frame.begin(), frame.size() * sizeof(capnp::word));
}

// Holds a few hundred small frames; a larger frame is read on its own.
inline constexpr std::size_t kFrameReadBufferBytes = 64 << 10;
// A segment table is bounded (kFrameSegmentsMax) below the buffer's size,
// so it always fits once read.
static_assert(kFrameSegmentsMax * 4 + 8 < kFrameReadBufferBytes);

// A buffered reader of frames from one stream. Not thread-safe; one fill at
// a time. After a protocol error the stream is out of step: close it.
class FrameReader {
 public:
  explicit FrameReader(std::size_t frame_bytes_max)
      : frame_bytes_max_(frame_bytes_max),
        buffer_(kj::heapArray<capnp::word>(kFrameReadBufferBytes / sizeof(capnp::word))) {}
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // The next frame already read (result.frame), or why the bytes are not an
  // acceptable frame (result.protocol_error), or neither: fill first.
  FrameReadResult next() {
    FrameReadResult r;
    if (large_ready_) {
      large_ready_ = false;
      parse(std::move(large_), r);
      return r;
    }
    const std::size_t total = head_words(r.protocol_error);
    if (total == 0 || total * kWord > capacity() || total * kWord > buffered_bytes()) return r;
    auto words = kj::heapArray<capnp::word>(total);
    std::memcpy(words.begin(), bytes() + begin_, total * kWord);
    begin_ += total * kWord;
    parse(std::move(words), r);
    return r;
  }

  // Reads from `stream`: what it has (at least one byte), or, when the frame
  // at the head is larger than the buffer, the rest of that frame. Then
  // handler(error_code). The reader and the stream must outlive the fill
  // (the connection that owns both keeps itself alive in its handler).
  template <typename Stream, typename Handler>
  void async_fill(Stream& stream, Handler handler) {
    std::memmove(bytes(), bytes() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    std::string ignored;
    const std::size_t total = head_words(ignored);
    if (total * kWord > capacity()) {
      large_ = kj::heapArray<capnp::word>(total);
      std::memcpy(large_.begin(), bytes(), end_);
      auto rest = boost::asio::buffer(reinterpret_cast<unsigned char*>(large_.begin()) + end_, total * kWord - end_);
      begin_ = end_ = 0;
      boost::asio::async_read(stream, rest,
                              [this, handler = std::move(handler)](boost::system::error_code ec, std::size_t) mutable {
                                large_ready_ = !ec;
                                handler(ec);
                              });
      return;
    }
    stream.async_read_some(boost::asio::buffer(bytes() + end_, capacity() - end_),
                           [this, handler = std::move(handler)](boost::system::error_code ec, std::size_t n) mutable {
                             end_ += n;
                             handler(ec);
                           });
  }

  // Bytes read and not yet handed out as frames.
  std::size_t buffered_bytes() const { return end_ - begin_; }

 private:
  static constexpr std::size_t kWord = sizeof(capnp::word);

  unsigned char* bytes() { return reinterpret_cast<unsigned char*>(buffer_.begin()); }
  const unsigned char* bytes() const { return reinterpret_cast<const unsigned char*>(buffer_.begin()); }
  std::size_t capacity() const { return buffer_.size() * kWord; }

  // The size in words of the frame at the head of the buffer, once its
  // segment table is read and allowed; 0 until then, or with `error` set.
  std::size_t head_words(std::string& error) const {
    const std::size_t available = buffered_bytes();
    if (available < kWord) return 0;
    const unsigned char* at = bytes() + begin_;
    const std::size_t table_words = segment_table_words(at, error);
    if (table_words == 0 || available < table_words * kWord) return 0;
    return frame_words(at, table_words, frame_bytes_max_, error);
  }

  void parse(kj::Array<capnp::word> words, FrameReadResult& r) const {
    try {
      r.frame = std::make_unique<InboundFrame>(std::move(words), frame_reader_options(frame_bytes_max_));
    } catch (const kj::Exception& e) {
      r.protocol_error = std::string("malformed frame: ") + e.getDescription().cStr();
    }
  }

  std::size_t frame_bytes_max_;
  kj::Array<capnp::word> buffer_;
  std::size_t begin_ = 0;  // the first byte not yet handed out
  std::size_t end_ = 0;    // the end of what was read
  // A frame larger than the buffer, read straight into its own array.
  kj::Array<capnp::word> large_;
  bool large_ready_ = false;
};

// Calls handler(FrameReadResult) with the next frame from `reader`, reading
// from `stream` as needed: at once, before returning, when the reader holds
// one already. For connections that want one frame at a time (handshakes,
// tests); a connection that serves a stream loops over next() instead.
template <typename Stream, typename Handler>
void async_read_frame(FrameReader& reader, Stream& stream, Handler handler) {
  FrameReadResult r = reader.next();
  if (!r.needs_bytes()) return handler(std::move(r));
  reader.async_fill(stream, [&reader, &stream, handler = std::move(handler)](boost::system::error_code ec) mutable {
    if (ec) {
      FrameReadResult failed;
      failed.io_error = ec;
      return handler(std::move(failed));
    }
    async_read_frame(reader, stream, std::move(handler));
  });
}

}  // namespace conclave::framing
