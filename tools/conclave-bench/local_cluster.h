// A throwaway cluster for the benchmark: N real conclaved processes on
// loopback, founded together, each with its own temporary data dir and free
// ports. The processes die with the benchmark (PR_SET_PDEATHSIG) and the
// directory is removed on destruction unless keep() was called.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace conclave::bench {

struct LocalClusterOptions {
  std::string conclaved_path;
  int nodes = 3;
  bool fsync = true;
  bool preallocate = true;  // the nodes' log_preallocate
  std::string temp_base;  // where the temporary directory goes ($TMPDIR or /tmp)
};

class LocalCluster {
 public:
  // Starts the processes; throws std::runtime_error when one cannot be
  // started. Whether they form a cluster is checked by the caller (through
  // the SDK's status, the same path the load takes).
  explicit LocalCluster(LocalClusterOptions options);
  ~LocalCluster();  // SIGTERM, then SIGKILL after a grace period
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  const std::string& dir() const { return dir_; }
  std::vector<std::string> app_sockets() const;
  std::vector<pid_t> pids() const { return pids_; }
  // A node that exited already, described ("node 2 exited with code 1"),
  // or empty while all run.
  std::string exited_node();
  // The last lines of each node's log, for a message when the cluster
  // does not come up.
  std::string log_tails(std::size_t lines) const;
  // Leave the data dirs and logs on disk (for a failed run).
  void keep() { keep_ = true; }

 private:
  std::string node_dir(int id) const;
  LocalClusterOptions options_;
  std::string dir_;
  std::vector<pid_t> pids_;
  std::vector<bool> reaped_;
  bool keep_ = false;
};

}  // namespace conclave::bench
