// The /metrics endpoint: a minimal HTTP/1.1 server (Boost.Beast) on the
// node's io_context, so a scrape reads the node's state on the node's own
// thread with no locking and no thread of its own.
//
// It answers GET /metrics with the text from `render` (Prometheus text
// format 0.0.4), 405 to another method on /metrics and 404 to any other
// path. Bounds, so a scraper gone wrong cannot hurt the node: a request's
// header and body are at most request_bytes_max; at most connections_max
// connections are open (one more is closed as soon as it is accepted); a
// connection idle (or stalled mid-request or mid-response) for idle_timeout
// is closed. Keep-alive is honoured, as Prometheus reuses its connection.
//
// No authentication: it listens on loopback unless configured otherwise
// (config.h, metrics_listen), and says so in the log when it does not.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

namespace conclave::node {

struct MetricsServerOptions {
  // An IP address (not a name) and a port; port 0 picks a free one (tests).
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::size_t connections_max = 4;
  std::size_t request_bytes_max = 8192;
  std::chrono::milliseconds idle_timeout{30000};
};

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  MetricsServer(boost::asio::io_context& io, MetricsServerOptions options, Render render);
  // Stops, if still serving.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and starts accepting. Throws std::runtime_error naming the
  // address and what to do when it cannot bind.
  void start();
  // Stops accepting and closes every connection; safe to call twice.
  void stop();
  // The bound port (after start()).
  std::uint16_t port() const;

 private:
  struct Shared;
  class Connection;
  static void accept(const std::shared_ptr<Shared>& shared);

  // Connections and pending handlers hold it, so none outlives what it uses.
  std::shared_ptr<Shared> shared_;
};

}  // namespace conclave::node
