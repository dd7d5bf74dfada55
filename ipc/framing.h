// Cap'n Proto standard stream framing on a UNIX stream socket, for the admin
// socket: read one frame, bounded in size before anything is allocated, and
// encode one frame for writing.
//
// The peer transport has the same helper (sidecar/peer/framing.h), written
// at the same time; this one exists so ipc does not depend on the peer layer.
// They should become one shared helper.
//
// The framing (capnp/serialize.h): u32 segment count minus one, one u32 size
// in words per segment, padded to a whole word, then the segments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/system/error_code.hpp>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

namespace conclave::ipc {

// One received frame; owns the words the reader points into.
class Frame {
 public:
  Frame(kj::Array<capnp::word> words, const capnp::ReaderOptions& options)
      : words_(std::move(words)), reader_(words_.asPtr(), options) {}
  template <typename T>
  typename T::Reader root() {
    return reader_.getRoot<T>();
  }

 private:
  kj::Array<capnp::word> words_;
  capnp::FlatArrayMessageReader reader_;
};

struct FrameResult {
  boost::system::error_code io_error;  // the stream failed or ended
  std::string protocol_error;          // the bytes are not an acceptable frame
  std::unique_ptr<Frame> frame;
};

using FrameHandler = std::function<void(FrameResult)>;

// Reads one frame of at most frame_bytes_max bytes. The socket must outlive
// the read (the session owns it and keeps itself alive in the handler).
void async_read_frame(boost::asio::local::stream_protocol::socket& socket, std::size_t frame_bytes_max,
                      FrameHandler handler);

// Given the first word and, once read, the whole segment table: the table's
// size in words, and the frame's total size in words. 0 means refused, with
// `error` saying why. Exposed for tests.
std::size_t table_words_of(const unsigned char* first_word, std::string& error);
std::size_t frame_words_of(const unsigned char* table, std::size_t table_words, std::size_t frame_bytes_max,
                           std::string& error);

kj::Array<capnp::word> encode_frame(capnp::MessageBuilder& message);

}  // namespace conclave::ipc
