// ProxiedConnection: learning the dialer from its hello, then forwarding
// bytes unchanged, after the rule's delay. See proxied_connection.h.
#include "tests/cluster/proxied_connection.h"

#include <cstring>
#include <string>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <capnp/serialize.h>
#include <kj/array.h>

#include "schema/framing.h"
#include "schema/peer.capnp.h"

namespace conclave::cluster_test {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// A hello is a few hundred bytes; anything this large is not one, and is
// passed on for the daemon to refuse rather than buffered here.
constexpr std::size_t kHelloBytesMax = 64 * 1024;
constexpr std::size_t kWordBytes = sizeof(capnp::word);

}  // namespace

ProxiedConnection::ProxiedConnection(asio::ip::tcp::socket dialer, std::uint64_t dst, const LinkRules& rules)
    : dialer_(std::move(dialer)), target_(dialer_.get_executor()), dst_(dst), rules_(rules) {}

void ProxiedConnection::start(const asio::ip::tcp::endpoint& target) {
  target_.async_connect(target, [self = shared_from_this()](error_code ec) {
    if (ec || self->closed_) return self->close();
    // The acceptor speaks first (its challenge), so its side flows at once;
    // the dialer's side waits until its hello has named it.
    self->pump(self->to_dialer_);
    self->read_hello_table();
  });
}

void ProxiedConnection::close() {
  closed_ = true;
  error_code ignored;
  dialer_.close(ignored);
  target_.close(ignored);
  to_target_.delay.cancel();
  to_dialer_.delay.cancel();
}

void ProxiedConnection::read_hello_table() {
  // The segment table's first word says how long the table is.
  hello_.resize(kWordBytes);
  asio::async_read(dialer_, asio::buffer(hello_), [self = shared_from_this()](error_code ec, std::size_t) {
    if (ec || self->closed_) return self->close();
    std::string error;
    const std::size_t table_words = framing::segment_table_words(self->hello_.data(), error);
    if (table_words == 0) return self->pass_first_frame();
    self->hello_.resize(table_words * kWordBytes);
    asio::async_read(self->dialer_, asio::buffer(self->hello_.data() + kWordBytes, (table_words - 1) * kWordBytes),
                     [self, table_words](error_code ec2, std::size_t) {
                       if (ec2 || self->closed_) return self->close();
                       self->read_hello_body(table_words);
                     });
  });
}

void ProxiedConnection::read_hello_body(std::size_t table_words) {
  std::string error;
  const std::size_t total = framing::frame_words(hello_.data(), table_words, kHelloBytesMax, error);
  if (total == 0) return pass_first_frame();
  hello_.resize(total * kWordBytes);
  asio::async_read(dialer_, asio::buffer(hello_.data() + table_words * kWordBytes, (total - table_words) * kWordBytes),
                   [self = shared_from_this()](error_code ec, std::size_t) {
                     if (ec || self->closed_) return self->close();
                     self->learn_src();
                     self->pass_first_frame();
                   });
}

void ProxiedConnection::learn_src() {
  // Copied into words: capnp reads only word-aligned memory.
  auto words = kj::heapArray<capnp::word>(hello_.size() / kWordBytes);
  std::memcpy(words.begin(), hello_.data(), hello_.size());
  try {
    capnp::FlatArrayMessageReader reader(words.asPtr(), framing::frame_reader_options(kHelloBytesMax));
    auto frame = reader.getRoot<schema::peer::Frame>();
    if (frame.isHello()) src_ = frame.getHello().getNodeId();
  } catch (const kj::Exception&) {
    // Not a valid frame: src stays unknown and the daemon sees the bytes.
  }
}

void ProxiedConnection::pass_first_frame() {
  if (src_ != 0 && rules_.get(src_, dst_).blocked) return close();
  asio::async_write(target_, asio::buffer(hello_), [self = shared_from_this()](error_code ec, std::size_t) {
    if (ec || self->closed_) return self->close();
    self->pump(self->to_target_);
  });
}

void ProxiedConnection::pump(Pipe& pipe) {
  pipe.from.async_read_some(asio::buffer(pipe.buffer), [self = shared_from_this(), &pipe](error_code ec, std::size_t n) {
    if (ec || self->closed_) return self->close();
    const auto delay = self->rules_.get(self->src_, self->dst_).delay;
    if (delay.count() == 0) return self->forward(pipe, n);
    pipe.delay.expires_after(delay);
    pipe.delay.async_wait([self, &pipe, n](error_code ec2) {
      if (ec2 || self->closed_) return self->close();
      self->forward(pipe, n);
    });
  });
}

void ProxiedConnection::forward(Pipe& pipe, std::size_t n) {
  // One chunk at a time: the next read waits for this write, so a slow
  // reader on one side pushes back on the other, as a real link would.
  asio::async_write(pipe.to, asio::buffer(pipe.buffer.data(), n), [self = shared_from_this(), &pipe](error_code ec, std::size_t) {
    if (ec || self->closed_) return self->close();
    self->pump(pipe);
  });
}

}  // namespace conclave::cluster_test
