// LocalCluster: temp dirs, free loopback ports, fork+exec of conclaved.
#include "local_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace conclave::bench {

namespace {

namespace fs = std::filesystem;

// How long the nodes get to exit on SIGTERM before they are killed.
constexpr auto kStopGrace = std::chrono::seconds(5);

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error(std::string("bind to a free loopback port: ") + std::strerror(errno));
  return ntohs(addr.sin_port);
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  // Everything is prepared before fork, failures reported here: the
  // benchmark has threads, so the child may only make async-signal-safe
  // calls (dup2, prctl, execv).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) throw std::runtime_error("open " + log_path + ": " + std::strerror(errno));
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = null < 0 ? -1 : ::fork();
  if (pid == 0) {
    // Dies with the benchmark, however it ends.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    // dup2 clears close-on-exec on the copies: only 0, 1 and 2 survive exec.
    if (::dup2(null, 0) < 0 || ::dup2(log, 1) < 0 || ::dup2(log, 2) < 0) ::_exit(125);
    ::execv(args[0], args.data());
    const char* msg = "conclave-bench: exec of conclaved failed\n";
    (void)!::write(2, msg, std::strlen(msg));
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(log);
  if (null >= 0) ::close(null);
  if (pid < 0) throw std::runtime_error(std::string("starting conclaved: ") + std::strerror(fork_errno));
  return pid;
}

}  // namespace

LocalCluster::LocalCluster(LocalClusterOptions options) : options_(std::move(options)) {
  if (options_.nodes < 1) throw std::runtime_error("--nodes must be at least 1");
  if (::access(options_.conclaved_path.c_str(), X_OK) != 0) {
    throw std::runtime_error("no executable conclaved at '" + options_.conclaved_path +
                             "'; build the conclaved target or pass --conclaved PATH");
  }
  std::string pattern = options_.temp_base + "/conclave-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
  dir_ = pattern;

  std::vector<std::uint16_t> ports;
  std::string members;
  for (int id = 1; id <= options_.nodes; ++id) {
    ports.push_back(free_port());
    if (!members.empty()) members += ",";
    members += std::to_string(id) + "=127.0.0.1:" + std::to_string(ports.back());
    fs::create_directories(node_dir(id));
  }
  for (int id = 1; id <= options_.nodes; ++id) {
    const std::string address = "127.0.0.1:" + std::to_string(ports[static_cast<std::size_t>(id - 1)]);
    std::vector<std::string> argv = {
        options_.conclaved_path,
        "--id", std::to_string(id),
        "--cluster-id", "bench",
        "--data-dir", node_dir(id) + "/data",
        "--peer-listen", address,
        "--advertise", address,
        "--admin-socket", node_dir(id) + "/admin.sock",
        "--app-socket", node_dir(id) + "/app.sock",
        "--initial-members", members,
        "--log-level", "warn",
        // A throwaway cluster on loopback: TLS would only add its cost to
        // what is measured.
        "--peer-plaintext",
    };
    if (!options_.fsync) argv.push_back("--no-fsync");
    if (!options_.preallocate) {
      argv.push_back("--log-preallocate");
      argv.push_back("false");
    }
    pids_.push_back(spawn(argv, node_dir(id) + "/conclaved.log"));
    reaped_.push_back(false);
  }
}

LocalCluster::~LocalCluster() {
  for (std::size_t i = 0; i < pids_.size(); ++i) {
    if (!reaped_[i]) ::kill(pids_[i], SIGTERM);
  }
  const auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  for (std::size_t i = 0; i < pids_.size(); ++i) {
    while (!reaped_[i]) {
      int status = 0;
      pid_t r = ::waitpid(pids_[i], &status, WNOHANG);
      if (r != 0) {
        reaped_[i] = true;
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) ::kill(pids_[i], SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (!keep_) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

std::string LocalCluster::node_dir(int id) const { return dir_ + "/n" + std::to_string(id); }

std::vector<std::string> LocalCluster::app_sockets() const {
  std::vector<std::string> out;
  for (int id = 1; id <= options_.nodes; ++id) out.push_back(node_dir(id) + "/app.sock");
  return out;
}

std::string LocalCluster::exited_node() {
  for (std::size_t i = 0; i < pids_.size(); ++i) {
    if (reaped_[i]) return "node " + std::to_string(i + 1) + " exited";
    int status = 0;
    if (::waitpid(pids_[i], &status, WNOHANG) == pids_[i]) {
      reaped_[i] = true;
      std::string how = WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                            : "exited with code " + std::to_string(WEXITSTATUS(status));
      return "node " + std::to_string(i + 1) + " " + how;
    }
  }
  return {};
}

std::string LocalCluster::log_tails(std::size_t lines) const {
  std::string out;
  for (int id = 1; id <= options_.nodes; ++id) {
    const std::string path = node_dir(id) + "/conclaved.log";
    std::ifstream in(path);
    std::deque<std::string> tail;
    for (std::string line; std::getline(in, line);) {
      tail.push_back(line);
      if (tail.size() > lines) tail.pop_front();
    }
    out += "---- " + path + " ----\n";
    for (const auto& l : tail) out += l + "\n";
  }
  return out;
}

}  // namespace conclave::bench
