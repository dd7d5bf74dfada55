// Cap'n Proto standard stream framing, the part that needs no I/O library:
// the bounds a segment table must meet before a frame is allocated, the
// reader options for a received frame, and encoding. Every Conclave stream
// speaks this framing: the peer transport (TCP), the admin and application
// sockets (UNIX), and conclavectl's blocking admin client, which is why it
// lives beside the schemas and not in one of those layers. The asynchronous
// reader over any Boost.Asio stream is stream_framing.h.
//
// The framing (capnp/serialize.h): a segment table — u32 segment count minus
// one, then one u32 size in words per segment, padded to a whole word — then
// the segments. A reader takes the first word, then the rest of the table,
// adds up the sizes and refuses the frame if it exceeds its bound, and only
// then allocates one word-aligned buffer for the whole frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

namespace conclave::framing {

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

// Reader options for frames of at most frame_bytes_max: the traversal limit
// allows reading every word of the largest frame twice, which the decoders
// never need, and stops a frame built to make traversal quadratic.
capnp::ReaderOptions frame_reader_options(std::size_t frame_bytes_max);

// Parses the first word of a segment table. Returns the table's total size in
// words (including this word), or 0 with `error` set.
std::size_t segment_table_words(const unsigned char* first_word, std::string& error);
// Given the whole table, returns the frame's total size in words, or 0 with
// `error` set when it is empty or larger than frame_bytes_max.
std::size_t frame_words(const unsigned char* table, std::size_t table_words, std::size_t frame_bytes_max,
                        std::string& error);

// The builder of one outgoing message. Its first segment is a per-thread
// scratch array reused by every message, where capnp's default allocates
// and zeroes 8 KiB per message (a fifth of a busy leader's time went to
// malloc and free). A builder may ask for a first segment of a given size
// (a message known to be big, built in one segment rather than in a chain
// of growing ones): the scratch grows to it, up to 4 MiB, and stays that
// size, where a large zeroed allocation per message cost page faults and
// the allocator returning pages to the kernel. A builder made while
// another is alive on the same thread, or asked for more than the bound,
// allocates its own. Encode before it goes out of scope.
class FrameBuilder {
 public:
  FrameBuilder() : FrameBuilder(0) {}
  explicit FrameBuilder(std::size_t first_segment_words);
  ~FrameBuilder();
  FrameBuilder(const FrameBuilder&) = delete;
  FrameBuilder& operator=(const FrameBuilder&) = delete;

  template <typename T>
  typename T::Builder init_root() {
    return message_->initRoot<T>();
  }
  capnp::MessageBuilder& message() { return *message_; }

 private:
  bool scratch_;
  std::optional<capnp::MallocMessageBuilder> message_;
};

// Encodes a message as one frame, ready to write.
kj::Array<capnp::word> encode_frame(capnp::MessageBuilder& message);

}  // namespace conclave::framing
