// Stream framing for the admin socket: segment-table arithmetic with bounds,
// and the three-step asynchronous read (first word, rest of table, body).
#include "ipc/framing.h"

#include <algorithm>
#include <cstring>

#include <boost/asio/buffer.hpp>
#include <boost/asio/read.hpp>

namespace conclave::ipc {

namespace {

constexpr std::uint32_t kSegmentsMax = 512;

std::uint32_t load_le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

capnp::ReaderOptions reader_options(std::size_t frame_bytes_max) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = std::max<std::uint64_t>(frame_bytes_max / sizeof(capnp::word) * 2, 1u << 16);
  options.nestingLimit = 64;
  return options;
}

struct ReadState {
  boost::asio::local::stream_protocol::socket* socket;
  std::size_t frame_bytes_max;
  FrameHandler handler;
  unsigned char first[sizeof(capnp::word)];
  kj::Array<capnp::word> table;
  kj::Array<capnp::word> words;
  std::size_t table_words = 0;

  void fail(boost::system::error_code ec, std::string protocol_error) {
    FrameResult r;
    r.io_error = ec;
    r.protocol_error = std::move(protocol_error);
    handler(std::move(r));
  }
};

void read_body(std::shared_ptr<ReadState> st) {
  std::string error;
  std::size_t total =
      frame_words_of(reinterpret_cast<const unsigned char*>(st->table.begin()), st->table_words, st->frame_bytes_max,
                     error);
  if (total == 0) return st->fail({}, error);
  st->words = kj::heapArray<capnp::word>(total);
  std::memcpy(st->words.begin(), st->table.begin(), st->table_words * sizeof(capnp::word));
  auto body = boost::asio::buffer(st->words.begin() + st->table_words, (total - st->table_words) * sizeof(capnp::word));
  boost::asio::async_read(*st->socket, body, [st](boost::system::error_code ec, std::size_t) {
    if (ec) return st->fail(ec, {});
    FrameResult r;
    try {
      r.frame = std::make_unique<Frame>(std::move(st->words), reader_options(st->frame_bytes_max));
    } catch (const kj::Exception& e) {
      r.protocol_error = std::string("malformed frame: ") + e.getDescription().cStr();
    }
    st->handler(std::move(r));
  });
}

}  // namespace

std::size_t table_words_of(const unsigned char* first_word, std::string& error) {
  std::uint64_t segments = std::uint64_t{load_le32(first_word)} + 1;
  if (segments > kSegmentsMax) {
    error = "frame claims " + std::to_string(segments) + " segments (at most " + std::to_string(kSegmentsMax) + ")";
    return 0;
  }
  return static_cast<std::size_t>((segments + 2) / 2);
}

std::size_t frame_words_of(const unsigned char* table, std::size_t table_words, std::size_t frame_bytes_max,
                           std::string& error) {
  std::uint64_t segments = std::uint64_t{load_le32(table)} + 1;
  std::uint64_t total = table_words;
  for (std::uint64_t i = 0; i < segments; ++i) total += load_le32(table + 4 + 4 * i);
  if (total * sizeof(capnp::word) > frame_bytes_max) {
    error = "frame of " + std::to_string(total * sizeof(capnp::word)) + " bytes exceeds the limit of " +
            std::to_string(frame_bytes_max) + " bytes";
    return 0;
  }
  if (total == table_words) {
    error = "frame has no content";
    return 0;
  }
  return static_cast<std::size_t>(total);
}

void async_read_frame(boost::asio::local::stream_protocol::socket& socket, std::size_t frame_bytes_max,
                      FrameHandler handler) {
  auto st = std::make_shared<ReadState>();
  st->socket = &socket;
  st->frame_bytes_max = frame_bytes_max;
  st->handler = std::move(handler);
  boost::asio::async_read(socket, boost::asio::buffer(st->first, sizeof st->first),
                          [st](boost::system::error_code ec, std::size_t) {
                            if (ec) return st->fail(ec, {});
                            std::string error;
                            st->table_words = table_words_of(st->first, error);
                            if (st->table_words == 0) return st->fail({}, error);
                            st->table = kj::heapArray<capnp::word>(st->table_words);
                            std::memcpy(st->table.begin(), st->first, sizeof st->first);
                            if (st->table_words == 1) return read_body(st);
                            auto rest = boost::asio::buffer(st->table.begin() + 1,
                                                            (st->table_words - 1) * sizeof(capnp::word));
                            boost::asio::async_read(*st->socket, rest,
                                                    [st](boost::system::error_code ec2, std::size_t) {
                                                      if (ec2) return st->fail(ec2, {});
                                                      read_body(st);
                                                    });
                          });
}

kj::Array<capnp::word> encode_frame(capnp::MessageBuilder& message) { return capnp::messageToFlatArray(message); }

}  // namespace conclave::ipc
