// The Transport: the listening socket, the table of outbound connections by
// peer (and by address for joins), and the set of accepted connections. The
// connections themselves are outbound.cpp and inbound.cpp.
#include "sidecar/peer/transport.h"

#include <stdexcept>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sidecar/peer/frames.h"
#include "sidecar/peer/inbound.h"
#include "sidecar/peer/outbound.h"
#include "sidecar/peer/status_frames.h"
#include "sidecar/peer/tls.h"

namespace conclave::peer {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
// Accepted connections at once; more are closed at accept. A cluster has
// tens of nodes, so this only stops a flood.
constexpr std::size_t kInboundConnectionsMax = 512;
// Connections dialed by address for joins and join answers.
constexpr std::size_t kAddressedConnectionsMax = 64;
}  // namespace

class Transport::Impl {
 public:
  Impl(asio::io_context& io, TransportOptions options, TransportHandler& handler)
      : io_(io), options_(std::move(options)), handler_(handler), acceptor_(io), retry_(io) {
    make_context();
  }
  ~Impl() { stop(); }

  void start();
  void stop();
  std::uint16_t listen_port() const {
    error_code ec;
    auto endpoint = acceptor_.local_endpoint(ec);
    return ec ? 0 : endpoint.port();
  }
  void set_peer_addresses(const std::map<raft::NodeId, std::string>& addresses);
  // The connection that carries frames to `id`, or null when its address is unknown.
  std::shared_ptr<Outbound> peer(raft::NodeId id);
  std::shared_ptr<Outbound> addressed(std::map<std::string, std::shared_ptr<Outbound>>& table,
                                      const std::string& address, raft::NodeId expected,
                                      bool joining);
  void dropped(raft::NodeId id, const char* why);
  std::map<raft::NodeId, PeerCounters> counters() const;

  std::shared_ptr<PeerContext> ctx_;
  std::map<std::string, std::shared_ptr<Outbound>> joins_;    // by the member's address
  std::map<std::string, std::shared_ptr<Outbound>> answers_;  // by the joiner's address

 private:
  void make_context();
  void accept();

  asio::io_context& io_;
  const TransportOptions options_;
  TransportHandler& handler_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  std::map<raft::NodeId, std::string> addresses_;
  std::map<raft::NodeId, std::shared_ptr<Outbound>> peers_;
  std::map<const Inbound*, std::shared_ptr<Inbound>> inbound_;
  std::map<raft::NodeId, const Inbound*> inbound_by_node_;
  std::map<raft::NodeId, PeerCounters> unsent_;  // drops for peers without an address
};

void Transport::Impl::make_context() {
  ctx_ = std::make_shared<PeerContext>(io_, options_, handler_);
  ctx_->on_identified = [this](raft::NodeId node, const std::shared_ptr<Inbound>& conn) {
    auto it = inbound_by_node_.find(node);
    if (it != inbound_by_node_.end() && it->second != conn.get()) {
      auto old = inbound_.find(it->second);
      if (old != inbound_.end()) {
        std::shared_ptr<Inbound> keep = old->second;  // close() erases it from the table
        keep->close("replaced by a newer connection from the same node");
      }
    }
    inbound_by_node_[node] = conn.get();
  };
  ctx_->on_inbound_closed = [this](const Inbound* conn) {
    auto it = inbound_by_node_.find(conn->peer());
    if (it != inbound_by_node_.end() && it->second == conn) inbound_by_node_.erase(it);
    inbound_.erase(conn);
  };
}

void Transport::Impl::start() {
  if (ctx_->stopped) make_context();
  std::string host, port;
  if (!split_address(options_.listen_address, host, port)) {
    throw std::runtime_error(fmt::format(
        "peer: listen address '{}' is not host:port; fix listen_address in the config",
        options_.listen_address));
  }
  if (!options_.tls_ca_file.empty() || !options_.tls_cert_file.empty() ||
      !options_.tls_key_file.empty()) {
    if (options_.tls_ca_file.empty() || options_.tls_cert_file.empty() ||
        options_.tls_key_file.empty()) {
      throw std::runtime_error(
          "peer TLS: set all three of tls_ca_file, tls_cert_file and tls_key_file, or none");
    }
    ctx_->tls = make_tls_context(
        TlsFiles{options_.tls_ca_file, options_.tls_cert_file, options_.tls_key_file});
  }
  try {
    asio::ip::tcp::resolver resolver(io_);
    auto endpoint = resolver.resolve(host, port)->endpoint();
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    if (options_.socket_receive_buffer_bytes > 0) {
      // Set before listen so that accepted sockets inherit it and the TCP
      // window is negotiated with it.
      acceptor_.set_option(asio::socket_base::receive_buffer_size(
          static_cast<int>(options_.socket_receive_buffer_bytes)));
    }
    acceptor_.bind(endpoint);
    acceptor_.listen();
  } catch (const boost::system::system_error& e) {
    error_code ignored;
    acceptor_.close(ignored);
    throw std::runtime_error(fmt::format(
        "peer: cannot listen on {}: {}; check listen_address, or whether another process holds "
        "the port",
        options_.listen_address, e.code().message()));
  }
  ctx_->advertised_address = options_.advertised_address.empty()
                                 ? fmt::format("{}:{}", host, listen_port())
                                 : options_.advertised_address;
  if (options_.cluster_secret.empty()) {
    spdlog::warn("node {}: no cluster_secret configured: anyone who can reach {} and knows the "
                 "cluster id can join the conversation; set one in production",
                 ctx_->self(), options_.listen_address);
  }
  if (!ctx_->tls) {
    spdlog::warn("node {}: peer TLS is off (no tls_ca_file, tls_cert_file, tls_key_file): peer "
                 "traffic on {} is neither encrypted nor authenticated by certificate; configure "
                 "them in production",
                 ctx_->self(), options_.listen_address);
  }
  spdlog::info("node {}: peer transport listening on {} (advertised as {}{})", ctx_->self(),
               options_.listen_address, ctx_->advertised_address,
               ctx_->tls ? ", mutual TLS" : ", plaintext");
  accept();
}

void Transport::Impl::accept() {
  acceptor_.async_accept([this, ctx = ctx_](error_code ec, asio::ip::tcp::socket socket) {
    if (ctx->stopped) return;  // `this` may be gone; the context says so
    if (ec) {
      // Out of descriptors, say: wait a little rather than spin.
      spdlog::warn("node {}: accepting a peer connection failed: {}", ctx->self(), ec.message());
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([this, ctx](error_code ec2) {
        if (!ec2 && !ctx->stopped) accept();
      });
      return;
    }
    if (inbound_.size() >= kInboundConnectionsMax) {
      spdlog::warn("node {}: {} peer connections already open; closing a new one", ctx->self(),
                   inbound_.size());
    } else {
      auto conn = std::make_shared<Inbound>(ctx, std::move(socket));
      inbound_[conn.get()] = conn;
      conn->start();
    }
    accept();
  });
}

void Transport::Impl::stop() {
  if (ctx_->stopped) return;
  ctx_->stopped = true;
  error_code ignored;
  acceptor_.close(ignored);
  retry_.cancel();
  for (auto& [id, conn] : peers_) conn->close();
  for (auto& [address, conn] : joins_) conn->close();
  for (auto& [address, conn] : answers_) conn->close();
  for (auto& [ptr, conn] : inbound_) conn->close("");
  peers_.clear();
  joins_.clear();
  answers_.clear();
  inbound_.clear();
  inbound_by_node_.clear();
}

void Transport::Impl::set_peer_addresses(const std::map<raft::NodeId, std::string>& addresses) {
  for (auto it = peers_.begin(); it != peers_.end();) {
    auto now = addresses.find(it->first);
    if (now == addresses.end() || now->second != it->second->address()) {
      it->second->close();
      it = peers_.erase(it);
    } else {
      ++it;
    }
  }
  addresses_ = addresses;
  addresses_.erase(options_.self);
}

std::shared_ptr<Outbound> Transport::Impl::peer(raft::NodeId id) {
  if (ctx_->stopped) return nullptr;
  if (auto it = peers_.find(id); it != peers_.end()) return it->second;
  auto address = addresses_.find(id);
  if (address == addresses_.end()) return nullptr;
  auto conn = std::make_shared<Outbound>(ctx_, id, address->second, false);
  peers_.emplace(id, conn);
  return conn;
}

std::shared_ptr<Outbound> Transport::Impl::addressed(
    std::map<std::string, std::shared_ptr<Outbound>>& table, const std::string& address,
    raft::NodeId expected, bool joining) {
  if (ctx_->stopped) return nullptr;
  auto it = table.find(address);
  if (it != table.end() && it->second->expected() != expected) {
    it->second->close();  // the joiner restarted under another id
    table.erase(it);
    it = table.end();
  }
  if (it != table.end()) return it->second;
  if (table.size() >= kAddressedConnectionsMax) {
    table.begin()->second->close();
    table.erase(table.begin());
  }
  auto conn = std::make_shared<Outbound>(ctx_, expected, address, joining);
  table.emplace(address, conn);
  return conn;
}

void Transport::Impl::dropped(raft::NodeId id, const char* why) {
  ++unsent_[id].frames_dropped;
  spdlog::debug("node {}: frame to node {} dropped: {}", ctx_->self(), id.value(), why);
}

std::map<raft::NodeId, PeerCounters> Transport::Impl::counters() const {
  std::map<raft::NodeId, PeerCounters> out;
  for (const auto& [id, conn] : peers_) out[id] = conn->counters();
  for (const auto& [id, c] : unsent_) out[id].frames_dropped += c.frames_dropped;
  for (const auto& [id, c] : ctx_->received) {
    out[id].frames_received += c.frames_received;
    out[id].bytes_received += c.bytes_received;
  }
  return out;
}

Transport::Transport(asio::io_context& io, TransportOptions options, TransportHandler& handler)
    : impl_(std::make_unique<Impl>(io, std::move(options), handler)) {}
Transport::~Transport() = default;

void Transport::start() { impl_->start(); }
void Transport::stop() { impl_->stop(); }
std::uint16_t Transport::listen_port() const { return impl_->listen_port(); }

void Transport::set_peer_addresses(const std::map<raft::NodeId, std::string>& addresses) {
  impl_->set_peer_addresses(addresses);
}

void Transport::send(raft::Message message) {
  if (message.type == raft::MessageType::kInstallSnapshot) {
    spdlog::error("node {}: InstallSnapshot to node {} must go through send_snapshot; dropped",
                  impl_->ctx_->self(), message.to.value());
    return impl_->dropped(message.to, "InstallSnapshot without its snapshot");
  }
  message.from = impl_->ctx_->options.self;
  auto conn = impl_->peer(message.to);
  if (!conn) return impl_->dropped(message.to, "no address known");
  conn->send(raft_frame(message));
}

void Transport::send_snapshot(raft::Message message, SnapshotChunkSource source) {
  message.from = impl_->ctx_->options.self;
  auto conn = impl_->peer(message.to);
  if (!conn) return impl_->dropped(message.to, "no address known for a snapshot");
  if (!message.snapshot) {
    spdlog::error("node {}: snapshot to node {} without its metadata; dropped",
                  impl_->ctx_->self(), message.to.value());
    return impl_->dropped(message.to, "snapshot without metadata");
  }
  conn->send_snapshot(std::move(message), std::move(source));
}

bool Transport::send_forward(raft::NodeId to, ForwardedProposal proposal) {
  auto conn = impl_->peer(to);
  if (!conn) {
    impl_->dropped(to, "no address known");
    return false;
  }
  return conn->send_forward(std::move(proposal));
}

void Transport::send_forward_result(raft::NodeId to, ForwardResult result) {
  auto conn = impl_->peer(to);
  if (!conn) return impl_->dropped(to, "no address known");
  conn->send_forward_result(std::move(result));
}

void Transport::send_status_request(raft::NodeId to, StatusRequest request) {
  auto conn = impl_->peer(to);
  if (!conn) return impl_->dropped(to, "no address known");
  conn->send(status_request_frame(request));
}

void Transport::send_status_result(raft::NodeId to, const StatusResult& result) {
  auto conn = impl_->peer(to);
  if (!conn) return impl_->dropped(to, "no address known");
  conn->send(status_result_frame(result));
}

void Transport::send_join(const std::string& address, JoinRequest request) {
  auto conn = impl_->addressed(impl_->joins_, address, raft::kNoNode, true);
  if (conn) conn->send(join_frame(request));
}

void Transport::send_join_result(const JoinRequest& to, JoinResult result) {
  auto conn = impl_->peer(to.node);
  if (!conn || conn->address() != to.address) {
    conn = impl_->addressed(impl_->answers_, to.address, to.node, false);
  }
  if (conn) conn->send(join_result_frame(result));
}

std::map<raft::NodeId, PeerCounters> Transport::counters() const { return impl_->counters(); }

}  // namespace conclave::peer
