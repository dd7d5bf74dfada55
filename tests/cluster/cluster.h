// The cluster test harness: real `conclaved` processes on loopback, each with
// a data directory, a free peer port and an admin socket in the test's temp
// directory. It starts and restarts nodes, signals them, polls their status
// and proposes through the admin client library, and on destruction
// SIGKILLs whatever still runs; if the test failed it prints each node's log
// and keeps the temp directory, else it removes it. With through_proxy,
// every connection between nodes passes through an in-process fault proxy
// (fault_proxy.h), so that a test can partition, isolate and heal nodes.
//
// Waits are bounded by generous deadlines that exist only to fail a hung
// test; no test asserts on how long something took.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/cluster/disk_log.h"
#include "tests/cluster/fault_proxy.h"
#include "tests/cluster/node_process.h"
#include "tools/conclavectl/admin_client.h"

namespace conclave::cluster_test {

// Deadlines for waits that should succeed. Long on purpose: a loaded
// 2-core CI machine runs several of these tests at once.
inline constexpr auto kLeaderDeadline = std::chrono::seconds(30);
inline constexpr auto kCommitDeadline = std::chrono::seconds(30);
inline constexpr auto kExitDeadline = std::chrono::seconds(20);

// Where the built binaries are (compile definitions from CMake).
std::string conclaved_path();
std::string conclavectl_path();

struct ClusterOptions {
  std::string cluster_id = "conclave-test";
  // Skip fsync (only for tests that are not about durability).
  bool no_fsync = true;
  std::uint32_t tick_ms = 20;
  // Appended to every node's command line.
  std::vector<std::string> extra_args;
  // Each node listens on a port of its own and advertises a port of the
  // fault proxy (fault_proxy.h) instead, so that every connection between
  // nodes passes through it and partition()/isolate() can cut them.
  bool through_proxy = false;
};

enum class StartMode {
  kInitialMembers,  // a founder: --initial-members lists every founder
  kSolo,            // --solo
  kJoin,            // --join <address of the join target>
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Reserves ids 1..n as founders (each with a free port) and starts them.
  void start_founders(int n);
  // Reserves the next id with a free port and data dir, without starting it.
  std::uint64_t add_node();
  // Gives node `id` another cluster id than the rest (a misconfigured node).
  void set_cluster_id(std::uint64_t id, std::string cluster_id) { node(id).cluster_id = std::move(cluster_id); }
  // Starts (or restarts) node `id`. Founders always get --initial-members
  // (a node with state ignores it, as an operator's unchanged unit file
  // would pass it); `join_to` is the node whose address --join names.
  void start(std::uint64_t id, StartMode mode = StartMode::kInitialMembers, std::uint64_t join_to = 0,
             const std::vector<std::string>& extra_args = {});
  // The command line start() would use.
  std::vector<std::string> command_line(std::uint64_t id, StartMode mode, std::uint64_t join_to,
                                        const std::vector<std::string>& extra_args) const;

  // Faults between nodes (the cluster must run through_proxy). partition()
  // cuts every link between a node of `a` and one of `b`, both ways, on top
  // of the cuts already made; isolate() cuts `id` from every other node;
  // heal() undoes every cut. Each returns once its rules are in force.
  void partition(const std::set<std::uint64_t>& a, const std::set<std::uint64_t>& b);
  void isolate(std::uint64_t id);
  void heal();
  FaultProxy& proxy();

  void signal(std::uint64_t id, int sig);
  void kill9(std::uint64_t id) { signal(id, 9); }
  bool running(std::uint64_t id);
  // Waits for node `id` to exit; fails the test and returns nullopt on timeout.
  std::optional<ExitStatus> wait_exit(std::uint64_t id, std::chrono::seconds deadline = kExitDeadline);
  // SIGTERM every running node and wait; SIGKILL those that do not exit.
  void stop_all();
  void kill_all();

  // Admin calls on one node.
  admin::Outcome<admin::Status> status(std::uint64_t id);
  admin::Outcome<admin::Response> call(std::uint64_t id, const admin::Request& request,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Polls until every node in `ids` (default: every running node) names the
  // same leader, and that leader, itself in `ids`, says it leads. Returns
  // its id, or 0 after failing the test at the deadline.
  std::uint64_t wait_for_leader(std::set<std::uint64_t> ids = {},
                                std::chrono::seconds deadline = kLeaderDeadline);
  // Proposes `data` through node `id`, retrying on errors (no leader yet, a
  // lost connection) until it is acknowledged; records the acknowledgement
  // in acked(). Fails the test at the deadline.
  std::optional<Acked> propose(std::uint64_t id, const std::string& data,
                               std::chrono::seconds deadline = kCommitDeadline);
  // Proposes "<tag> via node <id>" through each node of `ids` in turn, as
  // propose() does; false (the test failed) at the first that fails.
  bool propose_through_each(const std::set<std::uint64_t>& ids, const std::string& tag);
  // Waits until every node in `ids` (default: every running node) has
  // applied `index`: its own copy is durable then. (A commit index alone
  // may cover entries the node holds only in memory, which a stop right
  // after may rightly lose: the node never acknowledged them.)
  bool wait_for_commit(std::uint64_t index, std::set<std::uint64_t> ids = {},
                       std::chrono::seconds deadline = kCommitDeadline);
  // The largest acknowledged index so far.
  std::uint64_t max_acked() const;
  const std::vector<Acked>& acked() const { return acked_; }

  std::vector<std::uint64_t> ids() const;
  std::set<std::uint64_t> running_ids();
  // Where peers dial node `id` (the proxy's port when through_proxy).
  std::string peer_address(std::uint64_t id) const;
  std::uint16_t peer_port(std::uint64_t id) const;
  std::string admin_socket(std::uint64_t id) const;
  std::string data_dir(std::uint64_t id) const;
  std::string log_path(std::uint64_t id) const;
  std::string log_text(std::uint64_t id) const;
  const std::string& temp_dir() const { return temp_dir_; }
  const ClusterOptions& options() const { return options_; }
  // Reads a stopped node's data directory.
  DiskLog disk_log(std::uint64_t id) const { return read_disk_log(data_dir(id)); }
  // Reads the logs of the (stopped) nodes `ids` (default: every node) and
  // checks that each holds every acknowledged entry, acked() and
  // `also_acked` (acknowledgements the test collected itself), and that
  // they agree through the last of them. Returns the logs read.
  std::vector<DiskLog> expect_disk_logs_agree(std::set<std::uint64_t> ids = {},
                                              const std::vector<Acked>& also_acked = {}) const;

 private:
  struct Node {
    std::uint16_t port = 0;         // advertised
    std::uint16_t listen_port = 0;  // where the daemon listens: `port` unless proxied
    bool founder = false;
    std::string cluster_id;  // empty: options_.cluster_id
    std::unique_ptr<NodeProcess> process;
  };
  Node& node(std::uint64_t id);
  const Node& node(std::uint64_t id) const;
  void print_logs() const;

  ClusterOptions options_;
  std::string temp_dir_;
  std::map<std::uint64_t, Node> nodes_;
  std::vector<Acked> acked_;
  std::uint64_t proposals_ = 0;
  std::unique_ptr<FaultProxy> proxy_;  // set when options_.through_proxy
};

// A loopback TCP port that was free a moment ago (bind to port 0, read it
// back, close). Never the same port twice in one test process.
std::uint16_t free_port();

// Connects to 127.0.0.1:port and writes `bytes`; returns false if the
// connection could not be made. Used to send garbage to a peer port.
bool send_raw_tcp(std::uint16_t port, const std::string& bytes);

// The whole content of a text file (empty if it cannot be read).
std::string read_text_file(const std::string& path);

// Runs a command line, returning its exit status and its standard output
// (and standard error too, when `with_stderr`).
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult run_command(const std::vector<std::string>& argv, bool with_stderr = false);
// Runs conclavectl against node `id`'s admin socket; stderr joins the output
// unless `stdout_only` (to check that --json prints one object).
CommandResult run_conclavectl(const Cluster& cluster, std::uint64_t id, const std::vector<std::string>& args,
                              bool stdout_only = false);

}  // namespace conclave::cluster_test
