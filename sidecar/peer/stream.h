// One peer connection's byte stream: a TCP socket, or TLS over it when the
// transport has a TLS context. Inbound and Outbound read and write through
// it (framing::FrameReader, asio::async_write) without caring which.
// The choice is made at run time, so only plain completion handlers (what
// the connections pass) are supported, not completion tokens.
#pragma once

#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

namespace conclave::peer {

class PeerStream {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;
  using Tls = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

  // `tls` null: plaintext.
  PeerStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* tls) {
    if (tls != nullptr) {
      tls_.emplace(std::move(socket), *tls);
    } else {
      plain_.emplace(std::move(socket));
    }
  }
  PeerStream(const PeerStream&) = delete;
  PeerStream& operator=(const PeerStream&) = delete;

  boost::asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
  executor_type get_executor() { return socket().get_executor(); }
  bool tls() const { return tls_.has_value(); }
  // The OpenSSL connection, or null in plaintext.
  SSL* native_handle() { return tls_ ? tls_->native_handle() : nullptr; }

  // The TLS handshake in `role`; in plaintext, calls handler({}) at once
  // (posted, never inline).
  template <typename Handler>
  void async_handshake(Tls::handshake_type role, Handler&& handler) {
    if (tls_) {
      tls_->async_handshake(role, std::forward<Handler>(handler));
    } else {
      boost::asio::post(get_executor(), [h = std::forward<Handler>(handler)]() mutable {
        h(boost::system::error_code{});
      });
    }
  }

  template <typename Buffers, typename Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_read_some(buffers, std::forward<Handler>(handler));
    }
  }

  template <typename Buffers, typename Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_write_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_write_some(buffers, std::forward<Handler>(handler));
    }
  }

  // Abrupt close (no TLS close_notify): the peers' protocol never relies on
  // a clean end, and a refused peer gets its refusal frame first.
  void close() {
    boost::system::error_code ignored;
    socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

 private:
  std::optional<boost::asio::ip::tcp::socket> plain_;
  std::optional<Tls> tls_;
};

}  // namespace conclave::peer
