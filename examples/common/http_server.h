// The examples' HTTP face: a small Boost.Beast server, one thread per
// connection (bounded), that hands each request to a function and writes
// its answer. No Beast types leak to the examples' service code.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace conclave::examples {

struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // the target without its query
  std::string query;   // after '?', or empty
  std::string body;
};

struct HttpAnswer {
  unsigned status = 200;
  std::string body;
};

using HttpService = std::function<HttpAnswer(const HttpRequest&)>;

struct HttpEndpoint {
  std::string host;
  unsigned short port = 0;
};

// The value of `name` in a query string "a=1&b=2" (no percent-decoding),
// or nothing if absent.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

// "127.0.0.1:8080" -> {host, port}; throws std::invalid_argument.
HttpEndpoint parse_endpoint(std::string_view text);

// Serves until SIGINT or SIGTERM; returns then (connections still open are
// abandoned: the process is about to exit).
void serve_http(const HttpEndpoint& endpoint, HttpService service);

}  // namespace conclave::examples
