// NodeProcess: fork+exec with output to a log file, signals, reaping.
#include "tests/cluster/node_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace conclave::cluster_test {

std::string ExitStatus::describe() const {
  if (signaled) return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  return "exit code " + std::to_string(code);
}

NodeProcess::NodeProcess(const std::vector<std::string>& argv, const std::string& log_path) {
  // Everything the child needs is prepared before fork: after fork only
  // async-signal-safe calls are allowed (the test process has threads).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the test died before prctl took effect
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log < 0 || null < 0) ::_exit(125);
    ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    // Nothing else of the test's may reach the daemon. Asio does not open
    // sockets close-on-exec, so without this a daemon started later would
    // hold copies of the fault proxy's connections, and closing one in the
    // proxy would no longer end it for the node at the other end.
    if (::close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 4096; ++fd) ::close(fd);
    }
    ::execv(args[0], args.data());
    const char* msg = "cluster test: exec of the daemon failed: ";
    (void)!::write(2, msg, std::strlen(msg));
    const char* err = std::strerror(errno);
    (void)!::write(2, err, std::strlen(err));
    (void)!::write(2, "\n", 1);
    ::_exit(127);
  }
}

NodeProcess::~NodeProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

void NodeProcess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

bool NodeProcess::running() {
  if (exit_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r < 0) {
    // Not our child any more (cannot happen unless someone else reaped it).
    exit_ = ExitStatus{-1, 0, false};
    return false;
  }
  ExitStatus s;
  if (WIFSIGNALED(status)) {
    s.signaled = true;
    s.signal = WTERMSIG(status);
  } else {
    s.code = WEXITSTATUS(status);
  }
  exit_ = s;
  return false;
}

std::optional<ExitStatus> NodeProcess::wait_exit(Clock::time_point deadline) {
  while (running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_;
}

}  // namespace conclave::cluster_test
