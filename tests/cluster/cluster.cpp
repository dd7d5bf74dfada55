// The cluster harness: node bookkeeping, command lines, admin polling, and
// teardown that prints the logs of a failed test.
#include "tests/cluster/cluster.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace conclave::cluster_test {

namespace fs = std::filesystem;

namespace {

// How often status is polled while waiting: often enough not to add much to
// a test's run, rarely enough not to load the daemons.
constexpr auto kPollInterval = std::chrono::milliseconds(50);
// Lines of each node's log printed when a test fails.
constexpr std::size_t kLogLinesPrinted = 200;

std::string make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/conclave-cluster-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
  return pattern;
}

}  // namespace

std::string conclaved_path() { return CONCLAVED_PATH; }
std::string conclavectl_path() { return CONCLAVECTL_PATH; }

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)), temp_dir_(make_temp_dir()) {
  if (options_.through_proxy) proxy_ = std::make_unique<FaultProxy>();
}

Cluster::~Cluster() {
  kill_all();
  if (::testing::Test::HasFailure()) {
    print_logs();
    std::cerr << "cluster test: kept " << temp_dir_ << " (data dirs and logs of the failed test)\n";
  } else {
    std::error_code ignored;
    fs::remove_all(temp_dir_, ignored);
  }
}

Cluster::Node& Cluster::node(std::uint64_t id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) throw std::logic_error("cluster test: no node " + std::to_string(id));
  return it->second;
}

const Cluster::Node& Cluster::node(std::uint64_t id) const {
  return const_cast<Cluster*>(this)->node(id);
}

std::uint64_t Cluster::add_node() {
  std::uint64_t id = nodes_.empty() ? 1 : nodes_.rbegin()->first + 1;
  Node& n = nodes_[id];
  n.port = free_port();
  n.listen_port = n.port;
  if (proxy_) {
    n.listen_port = free_port();
    proxy_->add_node(id, n.port, n.listen_port);
  }
  fs::create_directories(temp_dir_ + "/n" + std::to_string(id));
  return id;
}

void Cluster::start_founders(int n) {
  std::vector<std::uint64_t> founders;
  for (int i = 0; i < n; ++i) {
    std::uint64_t id = add_node();
    node(id).founder = true;
    founders.push_back(id);
  }
  for (auto id : founders) start(id);
}

std::vector<std::string> Cluster::command_line(std::uint64_t id, StartMode mode, std::uint64_t join_to,
                                               const std::vector<std::string>& extra_args) const {
  const Node& n = node(id);
  std::vector<std::string> argv = {
      conclaved_path(),
      "--id", std::to_string(id),
      "--cluster-id", n.cluster_id.empty() ? options_.cluster_id : n.cluster_id,
      "--data-dir", data_dir(id),
      "--peer-listen", "127.0.0.1:" + std::to_string(n.listen_port),
      "--advertise", peer_address(id),
      "--admin-socket", admin_socket(id),
      "--tick-ms", std::to_string(options_.tick_ms),
  };
  switch (mode) {
    case StartMode::kInitialMembers: {
      std::string members;
      for (const auto& [other, other_node] : nodes_) {
        if (!other_node.founder) continue;
        if (!members.empty()) members += ",";
        members += std::to_string(other) + "=" + peer_address(other);
      }
      if (!n.founder) throw std::logic_error("cluster test: node " + std::to_string(id) + " is not a founder");
      argv.insert(argv.end(), {"--initial-members", members});
      break;
    }
    case StartMode::kSolo: argv.push_back("--solo"); break;
    case StartMode::kJoin: argv.insert(argv.end(), {"--join", peer_address(join_to)}); break;
  }
  if (options_.no_fsync) argv.push_back("--no-fsync");
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  // conclaved wants plaintext peers said out loud; a test that gives TLS
  // files (tls_test.cpp) gets TLS.
  if (std::find(argv.begin(), argv.end(), "--tls-ca-file") == argv.end()) argv.push_back("--peer-plaintext");
  return argv;
}

void Cluster::start(std::uint64_t id, StartMode mode, std::uint64_t join_to,
                    const std::vector<std::string>& extra_args) {
  Node& n = node(id);
  if (n.process && n.process->running()) throw std::logic_error("cluster test: node " + std::to_string(id) + " runs");
  auto argv = command_line(id, mode, join_to, extra_args);
  {
    // A marker in the log, so restarts are easy to find when it is printed.
    std::ofstream log(log_path(id), std::ios::app);
    log << "==== cluster test: starting node " << id << ":";
    for (const auto& a : argv) log << ' ' << a;
    log << '\n';
  }
  n.process = std::make_unique<NodeProcess>(argv, log_path(id));
}

FaultProxy& Cluster::proxy() {
  if (!proxy_) throw std::logic_error("cluster test: faults between nodes need ClusterOptions::through_proxy");
  return *proxy_;
}

void Cluster::partition(const std::set<std::uint64_t>& a, const std::set<std::uint64_t>& b) {
  for (auto x : a) {
    for (auto y : b) {
      proxy().set_rule(x, y, LinkRule{.blocked = true});
      proxy().set_rule(y, x, LinkRule{.blocked = true});
    }
  }
}

void Cluster::isolate(std::uint64_t id) {
  std::set<std::uint64_t> rest;
  for (const auto& [other, n] : nodes_) {
    if (other != id) rest.insert(other);
  }
  partition({id}, rest);
}

void Cluster::heal() { proxy().heal(); }

void Cluster::signal(std::uint64_t id, int sig) {
  Node& n = node(id);
  if (n.process) n.process->signal(sig);
}

bool Cluster::running(std::uint64_t id) {
  Node& n = node(id);
  return n.process && n.process->running();
}

std::optional<ExitStatus> Cluster::wait_exit(std::uint64_t id, std::chrono::seconds deadline) {
  Node& n = node(id);
  if (!n.process) return std::nullopt;
  auto status = n.process->wait_exit(Clock::now() + deadline);
  if (!status) ADD_FAILURE() << "node " << id << " did not exit within " << deadline.count() << " s";
  return status;
}

void Cluster::stop_all() {
  for (auto id : running_ids()) signal(id, SIGTERM);
  const auto deadline = Clock::now() + kExitDeadline;
  for (auto& [id, n] : nodes_) {
    if (!n.process) continue;
    if (!n.process->wait_exit(deadline)) {
      ADD_FAILURE() << "node " << id << " ignored SIGTERM for " << kExitDeadline.count() << " s; killing it";
      n.process->signal(SIGKILL);
      n.process->wait_exit(Clock::now() + kExitDeadline);
    }
  }
}

void Cluster::kill_all() {
  for (auto& [id, n] : nodes_) {
    if (n.process) n.process->signal(SIGKILL);
  }
  for (auto& [id, n] : nodes_) {
    if (n.process) n.process->wait_exit(Clock::now() + kExitDeadline);
  }
}

admin::Outcome<admin::Response> Cluster::call(std::uint64_t id, const admin::Request& request,
                                              std::chrono::milliseconds timeout) {
  return admin::call_once(admin_socket(id), request, timeout);
}

admin::Outcome<admin::Status> Cluster::status(std::uint64_t id) {
  auto r = call(id, admin::StatusRequest{}, std::chrono::seconds(2));
  if (!r) return admin::Outcome<admin::Status>::failure(r.error());
  if (!r->ok()) return admin::Outcome<admin::Status>::failure(r->describe_error());
  auto* s = std::get_if<admin::Status>(&r->body);
  if (s == nullptr) return admin::Outcome<admin::Status>::failure("status answered without a status");
  return *s;
}

std::uint64_t Cluster::wait_for_leader(std::set<std::uint64_t> ids, std::chrono::seconds deadline) {
  const auto until = Clock::now() + deadline;
  std::string last_seen;
  for (;;) {
    std::set<std::uint64_t> asked = ids.empty() ? running_ids() : ids;
    std::optional<std::uint64_t> agreed;
    bool all_agree = !asked.empty();
    std::ostringstream seen;
    for (auto id : asked) {
      auto s = status(id);
      if (!s) {
        seen << " node " << id << ": " << s.error() << ";";
        all_agree = false;
        continue;
      }
      seen << " node " << id << ": " << s->role << " term " << s->term << " leader " << s->leader << ";";
      if (s->leader == 0 || (agreed && *agreed != s->leader)) all_agree = false;
      if (s->leader == id && s->role != "leader") all_agree = false;
      agreed = s->leader;
    }
    if (all_agree && agreed && asked.count(*agreed) != 0) return *agreed;
    last_seen = seen.str();
    if (Clock::now() >= until) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  ADD_FAILURE() << "no leader agreed on within " << deadline.count() << " s; last seen:" << last_seen;
  return 0;
}

std::optional<Acked> Cluster::propose(std::uint64_t id, const std::string& data, std::chrono::seconds deadline) {
  const auto until = Clock::now() + deadline;
  std::string last_error;
  ++proposals_;
  while (Clock::now() < until) {
    auto r = call(id, admin::ProposeRequest{data}, std::chrono::seconds(5));
    if (r && r->ok()) {
      auto* c = std::get_if<admin::Committed>(&r->body);
      if (c == nullptr) {
        ADD_FAILURE() << "node " << id << " answered a proposal without an index";
        return std::nullopt;
      }
      Acked a{c->index, data};
      acked_.push_back(a);
      return a;
    }
    last_error = r ? r->describe_error() : r.error();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "proposal \"" << data << "\" through node " << id << " not acknowledged within "
                << deadline.count() << " s; last error: " << last_error;
  return std::nullopt;
}

bool Cluster::propose_through_each(const std::set<std::uint64_t>& ids, const std::string& tag) {
  for (auto id : ids) {
    if (!propose(id, tag + " via node " + std::to_string(id))) return false;
  }
  return true;
}

bool Cluster::wait_for_commit(std::uint64_t index, std::set<std::uint64_t> ids, std::chrono::seconds deadline) {
  const auto until = Clock::now() + deadline;
  std::string last_seen;
  for (;;) {
    std::set<std::uint64_t> asked = ids.empty() ? running_ids() : ids;
    bool all = true;
    std::ostringstream seen;
    for (auto id : asked) {
      auto s = status(id);
      if (!s) {
        seen << " node " << id << ": " << s.error() << ";";
        all = false;
        continue;
      }
      seen << " node " << id << ": commit " << s->commit_index << ", applied " << s->applied_index << ";";
      if (s->applied_index < index) all = false;
    }
    if (all) return true;
    last_seen = seen.str();
    if (Clock::now() >= until) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  ADD_FAILURE() << "index " << index << " not applied everywhere within " << deadline.count()
                << " s; last seen:" << last_seen;
  return false;
}

std::uint64_t Cluster::max_acked() const {
  std::uint64_t m = 0;
  for (const auto& a : acked_) m = std::max(m, a.index);
  return m;
}

std::vector<DiskLog> Cluster::expect_disk_logs_agree(std::set<std::uint64_t> ids,
                                                     const std::vector<Acked>& also_acked) const {
  std::uint64_t through = max_acked();
  for (const auto& a : also_acked) through = std::max(through, a.index);
  std::vector<DiskLog> logs;
  for (auto id : this->ids()) {
    if (ids.empty() || ids.count(id) != 0) logs.push_back(disk_log(id));
  }
  for (const auto& log : logs) {
    SCOPED_TRACE(log.data_dir);
    expect_all_acked_present(log, acked_);
    expect_all_acked_present(log, also_acked);
    expect_logs_agree(logs.front(), log, through);
  }
  return logs;
}

std::vector<std::uint64_t> Cluster::ids() const {
  std::vector<std::uint64_t> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

std::set<std::uint64_t> Cluster::running_ids() {
  std::set<std::uint64_t> out;
  for (auto& [id, n] : nodes_) {
    if (n.process && n.process->running()) out.insert(id);
  }
  return out;
}

std::string Cluster::peer_address(std::uint64_t id) const { return "127.0.0.1:" + std::to_string(peer_port(id)); }
std::uint16_t Cluster::peer_port(std::uint64_t id) const { return node(id).port; }
std::string Cluster::admin_socket(std::uint64_t id) const {
  return temp_dir_ + "/n" + std::to_string(id) + "/admin.sock";
}
std::string Cluster::data_dir(std::uint64_t id) const { return temp_dir_ + "/n" + std::to_string(id) + "/data"; }
std::string Cluster::log_path(std::uint64_t id) const {
  return temp_dir_ + "/n" + std::to_string(id) + "/conclaved.log";
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Cluster::log_text(std::uint64_t id) const { return read_text_file(log_path(id)); }

void Cluster::print_logs() const {
  for (const auto& [id, n] : nodes_) {
    std::vector<std::string> lines;
    std::istringstream in(log_text(id));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::size_t from = lines.size() > kLogLinesPrinted ? lines.size() - kLogLinesPrinted : 0;
    std::cerr << "---- node " << id << " log (" << log_path(id) << ")";
    if (from > 0) std::cerr << ", last " << kLogLinesPrinted << " of " << lines.size() << " lines";
    if (n.process && n.process->exit_status()) std::cerr << ", " << n.process->exit_status()->describe();
    std::cerr << " ----\n";
    for (std::size_t i = from; i < lines.size(); ++i) std::cerr << lines[i] << '\n';
  }
}

}  // namespace conclave::cluster_test
