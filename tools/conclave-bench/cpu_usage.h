// CPU time spent by the processes under test over the measured window, so
// a change can be judged by what each committed entry costs: a figure
// that, unlike entries/s, holds still when the machine's neighbours take
// a share of its CPUs.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace conclave::bench {

struct CpuSample {
  std::vector<double> node_s;  // user + system seconds of each node, all threads
  double self_s = 0;           // this process (the clients), all threads
  double wall_s = 0;           // steady clock
};

// Reads /proc/<pid>/stat for each node (a node that is gone counts 0) and
// getrusage for this process.
CpuSample sample_cpu(const std::vector<pid_t>& nodes);

// "cpu: 31.2 us per committed entry: ..." for the window between two
// samples; empty if nothing committed.
std::string describe_cpu(const CpuSample& start, const CpuSample& end, unsigned long long committed);

}  // namespace conclave::bench
