// One TCP connection through the fault proxy: a node (src) dialing the node
// behind the proxy (dst). The proxy listens where dst is advertised and does
// not know who dialed, so it learns src from the dialer's first frame, the
// handshake's hello (schema/peer.capnp), which it decodes with the peer
// library's framing and then passes on unchanged. Every byte, in both
// directions, is forwarded as it came; the rule for (src, dst) may delay it,
// and a blocked rule closes the connection (see fault_proxy.h for why).
//
// All of it runs on the proxy's single I/O thread, so there are no locks.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tests/cluster/link_rules.h"

namespace conclave::cluster_test {

class ProxiedConnection : public std::enable_shared_from_this<ProxiedConnection> {
 public:
  ProxiedConnection(boost::asio::ip::tcp::socket dialer, std::uint64_t dst, const LinkRules& rules);
  ProxiedConnection(const ProxiedConnection&) = delete;
  ProxiedConnection& operator=(const ProxiedConnection&) = delete;

  // Dials dst's real listen address and starts forwarding.
  void start(const boost::asio::ip::tcp::endpoint& target);
  // Closes both sides; pending reads, writes and delays end with an error.
  void close();
  bool closed() const { return closed_; }
  // The dialing node, once its hello has been read (0 before, and for a
  // dialer whose first frame is not a hello: garbage is passed on for the
  // daemon to refuse, under no rule).
  std::uint64_t src() const { return src_; }
  std::uint64_t dst() const { return dst_; }

 private:
  // One direction of the connection: bytes read from `from` are written to `to`.
  struct Pipe {
    Pipe(boost::asio::ip::tcp::socket& f, boost::asio::ip::tcp::socket& t)
        : from(f), to(t), delay(f.get_executor()) {}
    boost::asio::ip::tcp::socket& from;
    boost::asio::ip::tcp::socket& to;
    boost::asio::steady_timer delay;
    std::array<unsigned char, 64 * 1024> buffer{};
  };

  void read_hello_table();
  void read_hello_body(std::size_t table_words);
  // Decodes the whole first frame (in hello_) and learns src from it.
  void learn_src();
  // Forwards what was read of the first frame and starts the dialer's pipe,
  // unless the rule for (src, dst) now blocks the pair.
  void pass_first_frame();
  void pump(Pipe& pipe);
  void forward(Pipe& pipe, std::size_t n);

  boost::asio::ip::tcp::socket dialer_;
  boost::asio::ip::tcp::socket target_;
  std::uint64_t dst_;
  std::uint64_t src_ = 0;
  const LinkRules& rules_;
  std::vector<unsigned char> hello_;  // the first frame's bytes, as read
  Pipe to_target_{dialer_, target_};
  Pipe to_dialer_{target_, dialer_};
  bool closed_ = false;
};

}  // namespace conclave::cluster_test
