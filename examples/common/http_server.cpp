// Boost.Beast, synchronous per connection: the examples' request handlers
// block on the SDK's futures, which a thread per connection makes simple.
#include "http_server.h"

#include <atomic>
#include <charconv>
#include <csignal>
#include <iostream>
#include <stdexcept>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace conclave::examples {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr int kConnectionsMax = 256;
std::atomic<int> connections{0};

HttpRequest request_of(const http::request<http::string_body>& r) {
  HttpRequest out;
  out.method = std::string(r.method_string());
  std::string_view target(r.target().data(), r.target().size());
  auto q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) out.query = std::string(target.substr(q + 1));
  out.body = r.body();
  return out;
}

void serve_connection(tcp::socket socket, const HttpService& service) {
  boost::beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    http::request<http::string_body> request;
    http::read(socket, buffer, request, ec);
    if (ec) break;
    HttpAnswer answer;
    try {
      answer = service(request_of(request));
    } catch (const std::exception& e) {
      answer = HttpAnswer{500, std::string(e.what()) + "\n"};
    }
    http::response<http::string_body> response{static_cast<http::status>(answer.status), request.version()};
    response.set(http::field::content_type, "text/plain");
    response.keep_alive(request.keep_alive());
    response.body() = std::move(answer.body);
    response.prepare_payload();
    http::write(socket, response, ec);
    if (ec || !request.keep_alive()) break;
  }
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

void accept_next(tcp::acceptor& acceptor, const HttpService& service) {
  acceptor.async_accept([&acceptor, &service](boost::system::error_code ec, tcp::socket socket) {
    if (ec) return;
    if (connections.load() >= kConnectionsMax) {
      socket.close(ec);  // over the bound: refuse rather than grow
    } else {
      ++connections;
      std::thread([socket = std::move(socket), &service]() mutable {
        serve_connection(std::move(socket), service);
        --connections;
      }).detach();
    }
    accept_next(acceptor, service);
  });
}

}  // namespace

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    return std::string(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
  }
  return std::nullopt;
}

HttpEndpoint parse_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) throw std::invalid_argument("expected host:port, got '" + std::string(text) + "'");
  HttpEndpoint e;
  e.host = std::string(text.substr(0, colon));
  auto port = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), e.port);
  if (ec != std::errc() || end != port.data() + port.size()) {
    throw std::invalid_argument("bad port in '" + std::string(text) + "'");
  }
  return e;
}

void serve_http(const HttpEndpoint& endpoint, HttpService service) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address(endpoint.host), endpoint.port));
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) { io.stop(); });
  std::cerr << "serving http on " << endpoint.host << ":" << acceptor.local_endpoint().port() << "\n";
  accept_next(acceptor, service);
  io.run();
}

}  // namespace conclave::examples
