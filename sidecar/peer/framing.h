// Cap'n Proto standard stream framing over Boost.Asio streams: read one frame
// with its size bounded before anything is allocated, and encode one frame
// for writing. Used by the peer transport and meant for the application
// socket server too, so it is generic over the stream type (TCP or UNIX).
//
// The framing (capnp/serialize.h): a segment table — u32 segment count minus
// one, then one u32 size in words per segment, padded to a whole word — then
// the segments. We read the first word, then the rest of the table, add up
// the sizes and refuse the frame if it exceeds the bound, and only then
// allocate one word-aligned buffer for the whole frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/read.hpp>
#include <boost/system/error_code.hpp>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

namespace conclave::peer {

// capnp's own reader refuses more segments than this; so do we, before
// reading a table we would otherwise have to allocate for.
inline constexpr std::uint32_t kFrameSegmentsMax = 512;

// One received frame: the words and a reader over them, kept together
// because the reader points into the words.
class InboundFrame {
 public:
  InboundFrame(kj::Array<capnp::word> words, const capnp::ReaderOptions& options)
      : words_(std::move(words)), reader_(words_.asPtr(), options) {}
  InboundFrame(const InboundFrame&) = delete;
  InboundFrame& operator=(const InboundFrame&) = delete;

  template <typename T>
  typename T::Reader root() {
    return reader_.getRoot<T>();
  }
  std::size_t size_bytes() const { return words_.size() * sizeof(capnp::word); }

 private:
  kj::Array<capnp::word> words_;
  capnp::FlatArrayMessageReader reader_;
};

// The outcome of one read: an I/O error (the stream failed or ended), a
// protocol error (the bytes are not an acceptable frame; say why), or a frame.
struct FrameReadResult {
  boost::system::error_code io_error;
  std::string protocol_error;
  std::unique_ptr<InboundFrame> frame;
  bool ok() const { return !io_error && protocol_error.empty() && frame != nullptr; }
};

// Reader options for frames of at most frame_bytes_max: the traversal limit
// allows reading every word of the largest frame twice, which the decoders
// never need, and stops a frame built to make traversal quadratic.
capnp::ReaderOptions frame_reader_options(std::size_t frame_bytes_max);

// Parses the first word of a segment table. Returns the table's total size in
// words (including this word), or 0 with `error` set.
std::size_t segment_table_words(const unsigned char* first_word, std::string& error);
// Given the whole table, returns the frame's total size in words, or 0 with
// `error` set when it is malformed or larger than frame_bytes_max.
std::size_t frame_words(const unsigned char* table, std::size_t table_words,
                        std::size_t frame_bytes_max, std::string& error);

// Encodes a message as one frame, ready for an async_write.
kj::Array<capnp::word> encode_frame(capnp::MessageBuilder& message);
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

}  // namespace conclave::peer
