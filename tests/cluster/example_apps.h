// An example application (examples/kv's conclave-kv by default, or
// examples/lock's conclave-lock) attached to the nodes of a cluster test,
// one process per node on the node's application socket, each with its own
// HTTP port; and a small blocking HTTP client to talk to them. Declare an
// ExampleApps after its Cluster so the applications stop first; their logs
// are printed if the test failed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "tests/cluster/cluster.h"
#include "tests/cluster/node_process.h"

namespace conclave::cluster_test {

struct HttpResult {
  int status = 0;  // 0: no answer (connection refused, timed out)
  std::string body;
};

// One request to 127.0.0.1:port; no retry.
HttpResult http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = {}, std::chrono::seconds timeout = std::chrono::seconds(15));

std::string conclave_kv_path();
std::string conclave_lock_path();

class ExampleApps {
 public:
  // `tag` names the applications (<tag><node id>) and their logs, so that a
  // second set can run beside the first on the same nodes.
  explicit ExampleApps(Cluster& cluster, std::string binary = conclave_kv_path(), std::string tag = "app")
      : cluster_(cluster), binary_(std::move(binary)), tag_(std::move(tag)) {}
  ~ExampleApps();
  ExampleApps(const ExampleApps&) = delete;
  ExampleApps& operator=(const ExampleApps&) = delete;

  // Starts (or restarts) node `id`'s application on a fresh HTTP port, and
  // waits until it answers HTTP.
  void start(std::uint64_t id);
  void kill9(std::uint64_t id);
  // Sends node `id`'s application a signal (SIGSTOP and SIGCONT stall it).
  void signal(std::uint64_t id, int sig);
  std::uint16_t port(std::uint64_t id) const { return apps_.at(id).port; }

  // The kv example's requests.
  // PUT, retrying while the application or its sidecar is not ready (no
  // answer, or a 5xx), until the deadline. True once answered 2xx.
  bool put(std::uint64_t id, const std::string& key, const std::string& value);
  // A linearizable GET; nullopt for 404 (and a failed test for anything
  // but 200/404 at the deadline).
  std::optional<std::string> get(std::uint64_t id, const std::string& key);

 private:
  struct App {
    std::uint16_t port = 0;
    std::unique_ptr<NodeProcess> process;
  };
  std::string log_path(std::uint64_t id) const;

  Cluster& cluster_;
  std::string binary_;
  std::string tag_;
  std::map<std::uint64_t, App> apps_;
};

}  // namespace conclave::cluster_test
