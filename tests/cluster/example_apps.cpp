#include "tests/cluster/example_apps.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <thread>

namespace conclave::cluster_test {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::asio::ip::tcp;

std::string conclave_kv_path() { return CONCLAVE_KV_PATH; }
std::string conclave_lock_path() { return CONCLAVE_LOCK_PATH; }

HttpResult http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body, std::chrono::seconds timeout) {
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return HttpResult{static_cast<int>(res.result_int()), res.body()};
  } catch (const std::exception&) {
    return HttpResult{};
  }
}

ExampleApps::~ExampleApps() {
  const bool failed = ::testing::Test::HasFailure();
  for (auto& [id, app] : apps_) {
    app.process.reset();  // SIGKILL and reap
    if (failed) {
      std::cerr << "---- application of node " << id << " (" << log_path(id) << ") ----\n"
                << read_text_file(log_path(id));
    }
  }
}

std::string ExampleApps::log_path(std::uint64_t id) const {
  return cluster_.temp_dir() + "/" + tag_ + std::to_string(id) + ".log";
}

void ExampleApps::start(std::uint64_t id) {
  App& app = apps_[id];
  app.process.reset();
  app.port = free_port();
  app.process = std::make_unique<NodeProcess>(
      std::vector<std::string>{binary_, "--socket", cluster_.data_dir(id) + "/app.sock", "--http",
                               "127.0.0.1:" + std::to_string(app.port), "--name", tag_ + std::to_string(id)},
      log_path(id));
  const auto until = Clock::now() + kCommitDeadline;
  while (Clock::now() < until) {
    if (http_request(app.port, "GET", "/?stale", {}, std::chrono::seconds(2)).status != 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "the application of node " << id << " never answered HTTP on port " << app.port;
}

void ExampleApps::kill9(std::uint64_t id) { apps_.at(id).process->signal(SIGKILL); }

void ExampleApps::signal(std::uint64_t id, int sig) { apps_.at(id).process->signal(sig); }

bool ExampleApps::put(std::uint64_t id, const std::string& key, const std::string& value) {
  const auto until = Clock::now() + kCommitDeadline;
  HttpResult last;
  while (Clock::now() < until) {
    last = http_request(port(id), "PUT", "/kv/" + key, value);
    if (last.status >= 200 && last.status < 300) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "PUT " << key << " through node " << id << " never succeeded; last answer " << last.status << " "
                << last.body;
  return false;
}

std::optional<std::string> ExampleApps::get(std::uint64_t id, const std::string& key) {
  const auto until = Clock::now() + kCommitDeadline;
  HttpResult last;
  while (Clock::now() < until) {
    last = http_request(port(id), "GET", "/kv/" + key);
    if (last.status == 200) return last.body;
    if (last.status == 404) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "GET " << key << " through node " << id << " never answered; last answer " << last.status << " "
                << last.body;
  return std::nullopt;
}

}  // namespace conclave::cluster_test
