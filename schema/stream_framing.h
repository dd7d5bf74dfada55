// Reading Cap'n Proto stream frames from any Boost.Asio stream (TCP for the
// peer transport, UNIX for the admin and application sockets), each bounded
// by schema/framing.h before anything is allocated, and the buffer to write
// one frame with.
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
struct FrameReadResult {
  boost::system::error_code io_error;
  std::string protocol_error;
  std::unique_ptr<InboundFrame> frame;
  bool ok() const { return !io_error && protocol_error.empty() && frame != nullptr; }
};

// The bytes of an encoded frame, for an async_write.
inline boost::asio::const_buffer frame_buffer(const kj::Array<capnp::word>& frame) {
  return boost::asio::buffer(frame.begin(), frame.size() * sizeof(capnp::word));
}

namespace detail {
struct FrameReadState {
  unsigned char first[sizeof(capnp::word)];
  kj::Array<capnp::word> words;
  std::size_t table_words = 0;
};
}  // namespace detail

// Reads one frame from `stream` and calls handler(FrameReadResult). The
// stream must outlive the read (the caller's connection object owns both).
template <typename Stream, typename Handler>
void async_read_frame(Stream& stream, std::size_t frame_bytes_max, Handler handler) {
  auto state = std::make_shared<detail::FrameReadState>();
  boost::asio::async_read(
      stream, boost::asio::buffer(state->first, sizeof state->first),
      [&stream, frame_bytes_max, state, handler = std::move(handler)](
          boost::system::error_code ec, std::size_t) mutable {
        FrameReadResult result;
        if (ec) {
          result.io_error = ec;
          return handler(std::move(result));
        }
        state->table_words = segment_table_words(state->first, result.protocol_error);
        if (state->table_words == 0) return handler(std::move(result));
        // The table's other words go into a scratch array first; the frame
        // buffer is allocated only once its total size is known and allowed.
        auto table = kj::heapArray<capnp::word>(state->table_words);
        std::memcpy(table.begin(), state->first, sizeof state->first);
        auto rest = boost::asio::buffer(table.begin() + 1,
                                        (state->table_words - 1) * sizeof(capnp::word));
        auto on_table = [&stream, frame_bytes_max, state, table = std::move(table),
                         handler = std::move(handler)](boost::system::error_code ec2,
                                                       std::size_t) mutable {
          FrameReadResult r;
          if (ec2) {
            r.io_error = ec2;
            return handler(std::move(r));
          }
          const std::size_t total =
              frame_words(reinterpret_cast<const unsigned char*>(table.begin()),
                          state->table_words, frame_bytes_max, r.protocol_error);
          if (total == 0) return handler(std::move(r));
          state->words = kj::heapArray<capnp::word>(total);
          std::memcpy(state->words.begin(), table.begin(),
                      state->table_words * sizeof(capnp::word));
          auto body = boost::asio::buffer(state->words.begin() + state->table_words,
                                          (total - state->table_words) * sizeof(capnp::word));
          boost::asio::async_read(
              stream, body,
              [state, frame_bytes_max, handler = std::move(handler)](
                  boost::system::error_code ec3, std::size_t) mutable {
                FrameReadResult r3;
                if (ec3) {
                  r3.io_error = ec3;
                  return handler(std::move(r3));
                }
                try {
                  r3.frame = std::make_unique<InboundFrame>(
                      std::move(state->words), frame_reader_options(frame_bytes_max));
                } catch (const kj::Exception& e) {
                  r3.protocol_error = std::string("malformed frame: ") + e.getDescription().cStr();
                }
                handler(std::move(r3));
              });
        };
        if (state->table_words == 1) {
          on_table(boost::system::error_code{}, 0);
        } else {
          boost::asio::async_read(stream, rest, std::move(on_table));
        }
      });
}

}  // namespace conclave::framing
