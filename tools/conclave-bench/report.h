// The benchmark's printout: the load's figures, each beside the machine's
// limit it should be compared with.
#pragma once

#include <string>

#include "load.h"
#include "machine_limits.h"

namespace conclave::bench {

struct RunDescription {
  std::string cluster;  // "3 local nodes, fsync on" or "attached to 2 sockets"
  bool fsync = true;    // whether a commit owes an fdatasync (sets the latency floor)
  // The nodes' logs are on one disk (a local cluster): the leader's and a
  // follower's fdatasync of one entry are flushed one after the other.
  bool shared_disk = false;
  int clients = 0;
  int inflight = 0;
  std::size_t entry_bytes = 0;
  double warmup_s = 0;
};

void print_report(const RunDescription& run, const MachineLimits& machine, const LoadResult& load);

}  // namespace conclave::bench
