#include "cpu_usage.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace conclave::bench {

namespace {

double seconds_of(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

// Fields 14 and 15 of /proc/<pid>/stat (utime, stime, in clock ticks),
// counted after the command name, which is in parentheses and may hold
// spaces.
double process_cpu_s(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

CpuSample sample_cpu(const std::vector<pid_t>& nodes) {
  CpuSample s;
  for (pid_t pid : nodes) s.node_s.push_back(process_cpu_s(pid));
  rusage self{};
  ::getrusage(RUSAGE_SELF, &self);
  s.self_s = seconds_of(self.ru_utime) + seconds_of(self.ru_stime);
  s.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  return s;
}

std::string describe_cpu(const CpuSample& start, const CpuSample& end, unsigned long long committed) {
  if (committed == 0 || end.wall_s <= start.wall_s) return {};
  const double per_entry_us = 1e6 / static_cast<double>(committed);
  double nodes_s = 0;
  std::string each;
  for (std::size_t i = 0; i < start.node_s.size() && i < end.node_s.size(); ++i) {
    const double used = end.node_s[i] - start.node_s[i];
    nodes_s += used;
    char part[48];
    std::snprintf(part, sizeof part, "%snode %zu %.1f", each.empty() ? "" : ", ", i + 1, used * per_entry_us);
    each += part;
  }
  const double clients_s = end.self_s - start.self_s;
  const double wall = end.wall_s - start.wall_s;
  char line[320];
  if (each.empty()) {  // attached to running nodes: only the clients are ours to measure
    std::snprintf(line, sizeof line, "the clients %.1f us per committed entry; %.2f CPUs busy of %ld",
                  clients_s * per_entry_us, clients_s / wall, ::sysconf(_SC_NPROCESSORS_ONLN));
  } else {
    std::snprintf(line, sizeof line,
                  "%.1f us per committed entry: the nodes %.1f (%s), the clients %.1f; %.2f CPUs busy of %ld",
                  (nodes_s + clients_s) * per_entry_us, nodes_s * per_entry_us, each.c_str(),
                  clients_s * per_entry_us, (nodes_s + clients_s) / wall, ::sysconf(_SC_NPROCESSORS_ONLN));
  }
  return line;
}

}  // namespace conclave::bench
