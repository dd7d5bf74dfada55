// Tests of the /metrics HTTP server: what it answers (200 with the rendered
// text, 404, 405), keep-alive, and its bounds (request size, connection
// count, idle connections closed). The server runs on its own io_context in
// a thread; the test talks to it with a blocking Beast client.
#include "sidecar/node/metrics_server.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace conclave::node {
namespace {

namespace http = boost::beast::http;
using boost::asio::ip::tcp;

class MetricsServerTest : public ::testing::Test {
 protected:
  void start(MetricsServerOptions options = {}) {
    server_ = std::make_unique<MetricsServer>(io_, options, [this] {
      ++renders_;
      return std::string("conclave_up 1\n");
    });
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      boost::asio::post(io_, [this] { server_->stop(); });
      thread_.join();  // run() returns once the server's handlers are done
    }
  }

  tcp::socket connect() {
    tcp::socket socket(client_io_);
    socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server_->port()));
    return socket;
  }
  http::response<http::string_body> request(tcp::socket& socket, http::verb verb, const std::string& target) {
    http::request<http::empty_body> req(verb, target, 11);
    req.set(http::field::host, "127.0.0.1");
    http::write(socket, req);
    http::response<http::string_body> res;
    http::read(socket, buffer_, res);
    return res;
  }
  // True once the server closed the connection (a read ends at EOF).
  static bool closed_by_server(tcp::socket& socket) {
    char byte = 0;
    boost::system::error_code ec;
    socket.read_some(boost::asio::buffer(&byte, 1), ec);
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

  boost::asio::io_context io_;
  boost::asio::io_context client_io_;
  std::unique_ptr<MetricsServer> server_;
  std::thread thread_;
  boost::beast::flat_buffer buffer_;
  std::atomic<int> renders_{0};  // written on the server's thread
};

TEST_F(MetricsServerTest, AnswersGetMetricsWithTheRenderedText) {
  start();
  tcp::socket socket = connect();
  auto res = request(socket, http::verb::get, "/metrics");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "conclave_up 1\n");
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  // Keep-alive: the same connection serves the next scrape; parameters are ignored.
  res = request(socket, http::verb::get, "/metrics?debug=1");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(renders_, 2);
}

TEST_F(MetricsServerTest, OtherPathsAre404AndOtherMethods405) {
  start();
  tcp::socket socket = connect();
  EXPECT_EQ(request(socket, http::verb::get, "/").result(), http::status::not_found);
  EXPECT_EQ(request(socket, http::verb::get, "/metricsx").result(), http::status::not_found);
  auto res = request(socket, http::verb::post, "/metrics");
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
  EXPECT_EQ(res[http::field::allow], "GET");
  EXPECT_EQ(renders_, 0);
}

TEST_F(MetricsServerTest, ClosesAConnectionWhoseRequestIsTooLarge) {
  MetricsServerOptions options;
  options.request_bytes_max = 256;
  start(options);
  tcp::socket socket = connect();
  const std::string huge = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(1024, 'a') + "\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(huge));
  EXPECT_TRUE(closed_by_server(socket));
  EXPECT_EQ(renders_, 0);
}

TEST_F(MetricsServerTest, ClosesConnectionsBeyondTheBoundAndKeepsServingTheOthers) {
  MetricsServerOptions options;
  options.connections_max = 1;
  start(options);
  tcp::socket first = connect();
  ASSERT_EQ(request(first, http::verb::get, "/metrics").result(), http::status::ok);
  tcp::socket second = connect();
  EXPECT_TRUE(closed_by_server(second));
  EXPECT_EQ(request(first, http::verb::get, "/metrics").result(), http::status::ok);
}

TEST_F(MetricsServerTest, ClosesIdleConnections) {
  MetricsServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(50);
  start(options);
  tcp::socket socket = connect();
  ASSERT_EQ(request(socket, http::verb::get, "/metrics").result(), http::status::ok);
  // Nothing more is sent: the server hangs up (the read blocks until it does).
  EXPECT_TRUE(closed_by_server(socket));
}

TEST(MetricsServer, RefusesAnAddressItCannotBind) {
  boost::asio::io_context io;
  MetricsServerOptions options;
  options.host = "192.0.2.1";  // TEST-NET-1: not an address of this machine
  MetricsServer server(io, options, [] { return std::string(); });
  EXPECT_THROW(server.start(), std::runtime_error);
  options.host = "localhost";  // names are not resolved
  MetricsServer named(io, options, [] { return std::string(); });
  EXPECT_THROW(named.start(), std::runtime_error);
}

}  // namespace
}  // namespace conclave::node
