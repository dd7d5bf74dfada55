// One child process of a cluster test: started with fork+exec, its stdout
// and stderr appended to a log file, signalled and reaped by pid. The child
// asks the kernel to SIGKILL it when the test process dies
// (PR_SET_PDEATHSIG), so a crashed or timed-out test leaves no daemon behind,
// and inherits no file descriptor of the test's but standard input (from
// /dev/null), output and error.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace conclave::cluster_test {

using Clock = std::chrono::steady_clock;

// How a process ended: an exit code, or the signal that killed it.
struct ExitStatus {
  int code = 0;      // meaningful when !signaled
  int signal = 0;    // meaningful when signaled
  bool signaled = false;
  std::string describe() const;
};

class NodeProcess {
 public:
  // Starts `argv[0]` with `argv`; output appended to `log_path`. Throws
  // std::runtime_error if fork fails (exec failure shows as exit code 127
  // with the reason in the log).
  NodeProcess(const std::vector<std::string>& argv, const std::string& log_path);
  // SIGKILLs and reaps the process if it is still running.
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Reaps the process if it has exited; true while it runs.
  bool running();
  // Waits until the process exits or the deadline passes.
  std::optional<ExitStatus> wait_exit(Clock::time_point deadline);
  const std::optional<ExitStatus>& exit_status() const { return exit_; }

 private:
  pid_t pid_ = -1;
  std::optional<ExitStatus> exit_;
};

}  // namespace conclave::cluster_test
