// The /metrics HTTP server: an acceptor and a few connections, each reading
// one request at a time with Beast's parser (bounded) and answering it.
#include "sidecar/node/metrics_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <set>
#include <stdexcept>

namespace conclave::node {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;

struct MetricsServer::Shared {
  Shared(boost::asio::io_context& io, MetricsServerOptions o, Render r)
      : options(std::move(o)), render(std::move(r)), acceptor(io), retry(io) {}
  MetricsServerOptions options;
  Render render;
  tcp::acceptor acceptor;
  // After a failed accept (out of descriptors), a pause before the next, so
  // the loop does not spin.
  boost::asio::steady_timer retry;
  // Connections register themselves, so stop() can close them.
  std::set<Connection*> open;
  bool stopped = false;
};

class MetricsServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<Shared> shared)
      : shared_(std::move(shared)), stream_(std::move(socket)), buffer_(shared_->options.request_bytes_max) {
    shared_->open.insert(this);
  }
  ~Connection() { shared_->open.erase(this); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_->options.request_bytes_max));
    parser_->body_limit(shared_->options.request_bytes_max);
    stream_.expires_after(shared_->options.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  // Pending operations end with an error, and the last handler frees this.
  void close() { stream_.close(); }

 private:
  void on_read(beast::error_code ec) {
    // End of stream, the idle timeout, an oversized or malformed request:
    // nothing useful to answer, so just close.
    if (ec) return close();
    const auto& request = parser_->get();
    response_ = answer(request);
    response_.version(request.version());
    response_.keep_alive(request.keep_alive());
    response_.set(http::field::server, "conclaved");
    response_.prepare_payload();
    stream_.expires_after(shared_->options.idle_timeout);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
      if (write_ec || !self->response_.keep_alive() || self->shared_->stopped) return self->close();
      self->read();
    });
  }

  http::response<http::string_body> answer(const http::request<http::string_body>& request) {
    http::response<http::string_body> response;
    std::string_view target(request.target().data(), request.target().size());
    target = target.substr(0, target.find('?'));  // a scraper may add parameters; none are used
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    if (target != "/metrics") {
      response.result(http::status::not_found);
      response.body() = "not found: the metrics are at /metrics\n";
    } else if (request.method() != http::verb::get) {
      response.result(http::status::method_not_allowed);
      response.set(http::field::allow, "GET");
      response.body() = "only GET is served here\n";
    } else {
      try {
        response.body() = shared_->render();
        response.result(http::status::ok);
        response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      } catch (const std::exception& e) {
        // A bug in collecting metrics must not take the node down with it.
        spdlog::error("metrics: rendering /metrics failed: {}", e.what());
        response.result(http::status::internal_server_error);
        response.body() = "rendering the metrics failed; see the node's log\n";
      }
    }
    return response;
  }

  std::shared_ptr<Shared> shared_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

MetricsServer::MetricsServer(boost::asio::io_context& io, MetricsServerOptions options, Render render)
    : shared_(std::make_shared<Shared>(io, std::move(options), std::move(render))) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::start() {
  const MetricsServerOptions& o = shared_->options;
  const std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  const std::string where = host + ":" + std::to_string(o.port);
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(o.host, ec);
  if (ec) throw std::runtime_error("metrics_listen: '" + o.host + "' is not an IP address; give one, e.g. 127.0.0.1");
  tcp::acceptor& acceptor = shared_->acceptor;
  const tcp::endpoint endpoint(address, o.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot serve metrics on " + where + ": " + ec.message() +
                             "; choose another metrics_listen address or port, or leave it empty to turn "
                             "metrics off");
  }
  const std::string bound = host + ":" + std::to_string(port());
  if (address.is_loopback()) {
    spdlog::info("metrics: serving /metrics on {}", bound);
  } else {
    spdlog::warn("metrics: serving /metrics on {}, which is not loopback: anyone who can reach it reads the "
                 "node's state (there is no authentication)",
                 bound);
  }
  accept(shared_);
}

void MetricsServer::accept(const std::shared_ptr<Shared>& shared) {
  shared->acceptor.async_accept([shared](boost::system::error_code ec, tcp::socket socket) {
    if (shared->stopped) return;
    if (ec) {
      // Out of descriptors and the like: keep serving; the scraper retries.
      spdlog::warn("metrics: accepting a connection failed: {}; retrying in a second", ec.message());
      shared->retry.expires_after(std::chrono::seconds(1));
      shared->retry.async_wait([shared](boost::system::error_code wait_ec) {
        if (!wait_ec && !shared->stopped) accept(shared);
      });
      return;
    }
    if (shared->open.size() >= shared->options.connections_max) {
      spdlog::debug("metrics: {} connections are open already; closing a new one", shared->open.size());
      socket.close(ec);
    } else {
      std::make_shared<Connection>(std::move(socket), shared)->read();
    }
    accept(shared);
  });
}

void MetricsServer::stop() {
  if (shared_->stopped) return;
  shared_->stopped = true;
  boost::system::error_code ec;
  shared_->acceptor.close(ec);
  shared_->retry.cancel();
  // Closing cancels their operations; each is freed when its handler ends.
  const std::set<Connection*> open = shared_->open;
  for (Connection* c : open) c->close();
}

std::uint16_t MetricsServer::port() const {
  boost::system::error_code ec;
  auto endpoint = shared_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

}  // namespace conclave::node
