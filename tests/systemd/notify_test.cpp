// conclaved and systemd's notification protocol (sd_notify(3)), tested the
// way systemd sees it: the test owns a datagram socket, starts a real
// conclaved with NOTIFY_SOCKET and WATCHDOG_USEC pointing at it, and reads
// what arrives. Also: the example configuration parses, and the STATUS line
// reads as documented.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sidecar/node/config.h"
#include "sidecar/node/service_manager.h"
#include "tests/support/free_port.h"
#include "tests/support/read_file.h"
#include "tests/support/spawn.h"
#include "tools/conclavectl/admin_client.h"

namespace conclave::systemd_test {
namespace {

using test_support::free_port;
using test_support::read_file;

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Every wait below is bounded by this, and only a failure waits that long.
constexpr auto kPatience = std::chrono::seconds(30);
// systemd's WatchdogSec, as the daemon receives it; it pings every half.
constexpr milliseconds kWatchdog{200};

// A directory under /tmp (short: a UNIX socket path has 108 bytes), removed
// afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/conclave-systemd-XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The service manager's end: a datagram socket collecting notifications.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      throw std::runtime_error("bind " + path + ": " + std::strerror(errno));
    }
  }
  ~NotifySocket() { ::close(fd_); }
  const std::string& path() const { return path_; }

  // The next notification, or nothing once `timeout` passes without one.
  std::optional<std::string> next(milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n < 0) return std::nullopt;
    std::string message(buffer, static_cast<std::size_t>(n));
    received.push_back(message);
    return message;
  }
  // Waits for a notification with a line for which `wanted` holds; returns
  // that line.
  std::optional<std::string> wait_for_line(const std::function<bool(const std::string&)>& wanted) {
    const auto deadline = Clock::now() + kPatience;
    while (Clock::now() < deadline) {
      auto message = next(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
      if (!message) break;
      std::istringstream lines(*message);
      for (std::string line; std::getline(lines, line);) {
        if (wanted(line)) return line;
      }
    }
    return std::nullopt;
  }
  std::optional<std::string> wait_for_line(const std::string& exact) {
    return wait_for_line([&](const std::string& line) { return line == exact; });
  }
  // Reads whatever has already arrived.
  void drain() {
    while (next(milliseconds(0))) {
    }
  }

  std::vector<std::string> received;

 private:
  std::string path_;
  int fd_ = -1;
};

// A conclaved started as systemd would start it for a Type=notify unit with
// WatchdogSec=: NOTIFY_SOCKET and WATCHDOG_USEC in its environment.
// WATCHDOG_PID is left out: sd_watchdog_enabled() then applies the watchdog
// to whichever process reads it, which is the daemon itself.
class Daemon {
 public:
  Daemon(const std::string& binary, const std::vector<std::string>& args, const std::string& notify_socket,
         const std::vector<std::string>& extra_env, const std::string& log_path)
      : log_path_(log_path) {
    std::vector<std::string> argv{binary};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env{"NOTIFY_SOCKET=" + notify_socket,
                                 "WATCHDOG_USEC=" + std::to_string(kWatchdog.count() * 1000)};
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    pid_ = test_support::spawn_logged(argv, env, log_path);
  }
  ~Daemon() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (::testing::Test::HasFailure()) std::cerr << "---- conclaved's log\n" << read_file(log_path_) << "----\n";
  }
  void signal(int sig) { ::kill(pid_, sig); }
  // The exit status (as waitpid gives it), or nothing if it still runs at the
  // deadline.
  std::optional<int> wait_exit() {
    const auto deadline = Clock::now() + kPatience;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return status;
      }
      ::usleep(10000);
    }
    return std::nullopt;
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// A solo node with everything in `dir`, ticking fast.
std::vector<std::string> solo_node_args(const TempDir& dir) {
  return {"--id", "1", "--cluster-id", "systemd-test", "--data-dir", dir.path() + "/data", "--solo",
          "--peer-listen", "127.0.0.1:" + std::to_string(free_port()), "--admin-socket", dir.path() + "/admin.sock",
          "--app-socket", dir.path() + "/app.sock", "--tick-ms", "10", "--peer-plaintext"};
}

// SIGTERM, as `systemctl stop` sends: STOPPING=1, then exit code 0.
void stop_and_expect_stopping(Daemon& daemon, NotifySocket& notify) {
  daemon.signal(SIGTERM);
  ASSERT_TRUE(notify.wait_for_line("STOPPING=1")) << "no STOPPING=1 after SIGTERM";
  auto exit_status = daemon.wait_exit();
  ASSERT_TRUE(exit_status) << "conclaved still runs after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*exit_status) && WEXITSTATUS(*exit_status) == 0) << "exit status " << *exit_status;
}

void skip_without_systemd_support() {
#if !CONCLAVE_HAVE_SYSTEMD
  GTEST_SKIP() << "conclaved was built without libsystemd (libsystemd-dev), so it sends no notifications";
#endif
}

TEST(SystemdNotify, ReadyStatusWatchdogAndStopping) {
  skip_without_systemd_support();
  if (::testing::Test::IsSkipped()) return;
  TempDir dir;
  NotifySocket notify(dir.path() + "/notify.sock");
  std::vector<std::string> args = solo_node_args(dir);
  args.push_back("--no-fsync");
  Daemon daemon(CONCLAVED_PATH, args, notify.path(), {}, dir.path() + "/conclaved.log");

  ASSERT_TRUE(notify.wait_for_line("READY=1")) << "no READY=1";
  // READY=1 comes once both sockets listen.
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/admin.sock"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/app.sock"));
  // A solo node elects itself; its STATUS line says so.
  auto status = notify.wait_for_line([](const std::string& line) { return starts_with(line, "STATUS=leader, "); });
  ASSERT_TRUE(status) << "no STATUS line naming the leader role";
  // Founding the cluster took term 1; the election, a later one.
  EXPECT_TRUE(status->ends_with(", leader node 1")) << *status;
  for (int ping = 0; ping < 3; ++ping) {
    ASSERT_TRUE(notify.wait_for_line("WATCHDOG=1")) << "watchdog ping " << ping << " never came";
  }

  stop_and_expect_stopping(daemon, notify);
}

// A stalled disk must not look healthy: a watchdog ping waits for the
// outstanding fsync (Node::after_sync), so while one hangs no WATCHDOG=1
// leaves and systemd would restart the node.
// conclaved_hanging_sync is conclaved over a filesystem whose syncs block
// while a trigger file exists (hanging_filesystem.cpp).
TEST(SystemdNotify, WatchdogPingsStopWhileADiskSyncHangs) {
  skip_without_systemd_support();
  if (::testing::Test::IsSkipped()) return;
  TempDir dir;
  NotifySocket notify(dir.path() + "/notify.sock");
  const std::string trigger = dir.path() + "/hang-syncs";
  // fsync on: with --no-fsync nothing would sync.
  Daemon daemon(CONCLAVED_HANGING_SYNC_PATH, solo_node_args(dir), notify.path(),
                {"CONCLAVE_TEST_HANG_SYNC_WHILE=" + trigger}, dir.path() + "/conclaved.log");
  ASSERT_TRUE(notify.wait_for_line("READY=1")) << "no READY=1";
  ASSERT_TRUE(notify.wait_for_line([](const std::string& line) { return starts_with(line, "STATUS=leader, "); }))
      << "the solo node never became leader";
  ASSERT_TRUE(notify.wait_for_line("WATCHDOG=1")) << "no watchdog ping before the hang";

  // An idle leader writes nothing; a proposal makes it append and sync. Its
  // answer cannot come while the sync hangs, so the call's failure is expected.
  std::ofstream(trigger) << "hang\n";
  (void)admin::call_once(dir.path() + "/admin.sock", admin::ProposeRequest{"a write to sync"}, milliseconds(500));
  const auto deadline = Clock::now() + kPatience;
  while (!std::filesystem::exists(trigger + ".hung") && Clock::now() < deadline) ::usleep(10000);
  ASSERT_TRUE(std::filesystem::exists(trigger + ".hung")) << "no sync began while the trigger existed";
  // The sync is outstanding now: whatever was sent before is already
  // queued, and nothing may follow while the sync hangs.
  notify.drain();
  const std::size_t before = notify.received.size();
  for (int window = 0; window < 5; ++window) {
    auto message = notify.next(kWatchdog);
    EXPECT_FALSE(message) << "a notification while a sync hangs: " << *message;
  }
  EXPECT_EQ(notify.received.size(), before);

  std::filesystem::remove(trigger);
  ASSERT_TRUE(notify.wait_for_line("WATCHDOG=1")) << "no watchdog ping once the sync returned";
  stop_and_expect_stopping(daemon, notify);
}

TEST(SystemdStatus, SaysRoleTermAndLeader) {
  EXPECT_EQ(node::describe_status(raft::Role::kLeader, raft::Term(3), raft::NodeId(1)), "leader, term 3, leader node 1");
  EXPECT_EQ(node::describe_status(raft::Role::kFollower, raft::Term(4), raft::kNoNode),
            "follower, term 4, no leader known");
}

// systemd/example.toml holds only keys conclaved knows, of the right types,
// and puts its state and sockets where conclave@.service gives it room.
TEST(SystemdExampleConfig, ParsesAndUsesTheUnitsDirectories) {
  const std::string path = std::string(CONCLAVE_SYSTEMD_DIR) + "/example.toml";
  node::NodeConfig config;
  ASSERT_NO_THROW(node::apply_toml(config, read_file(path), path));
  // StateDirectory=conclave/%i and RuntimeDirectory=conclave/%i, for one instance name.
  const std::filesystem::path data_dir(config.data_dir);
  EXPECT_EQ(data_dir.parent_path(), "/var/lib/conclave");
  const std::filesystem::path runtime_dir = std::filesystem::path("/run/conclave") / data_dir.filename();
  EXPECT_EQ(std::filesystem::path(config.app_socket).parent_path(), runtime_dir);
  EXPECT_EQ(std::filesystem::path(config.admin_socket).parent_path(), runtime_dir);
  EXPECT_EQ(config.initial_members.size(), 3u);
}

// The example is what operators copy: peer TLS on, with the files under
// /etc/conclave (readable through ProtectSystem=strict), plaintext not
// chosen, and metrics on loopback only.
TEST(SystemdExampleConfig, HasTlsOnAndMetricsOnLoopback) {
  const std::string path = std::string(CONCLAVE_SYSTEMD_DIR) + "/example.toml";
  node::NodeConfig config;
  ASSERT_NO_THROW(node::apply_toml(config, read_file(path), path));
  for (const std::string* file : {&config.tls_ca_file, &config.tls_cert_file, &config.tls_key_file}) {
    EXPECT_TRUE(starts_with(*file, "/etc/conclave/")) << "'" << *file << "'";
  }
  EXPECT_FALSE(config.peer_plaintext);
  const node::HostPort metrics = node::parse_host_port("metrics_listen", config.metrics_listen);
  EXPECT_EQ(metrics.host, "127.0.0.1");
  EXPECT_EQ(config.log_target, "auto");
}

}  // namespace
}  // namespace conclave::systemd_test
