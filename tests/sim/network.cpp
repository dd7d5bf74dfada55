// Packet fates and partitions of the simulated network.
#include "tests/sim/network.h"

#include <algorithm>
#include <sstream>

namespace conclave::sim {

std::vector<std::uint64_t> Network::fate(raft::NodeId from, raft::NodeId to,
                                         std::uint64_t now) {
  std::vector<std::uint64_t> delays;
  if (blocked(from, to)) return delays;
  if (rng_.chance(faults_.loss_permille)) return delays;
  const int copies = rng_.chance(faults_.dup_permille) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    std::uint64_t delay = rng_.between(faults_.delay_min, faults_.delay_max);
    if (rng_.chance(faults_.long_delay_permille)) {
      delay += rng_.between(faults_.delay_max, faults_.long_delay_max);
    }
    std::uint64_t at = now + delay;
    if (faults_.fifo) {
      std::uint64_t& last = last_arrival_[{from, to}];
      at = std::max(at, last);
      last = at;
    }
    delays.push_back(at);
  }
  return delays;
}

void Network::cut(const std::set<raft::NodeId>& a, const std::set<raft::NodeId>& b,
                  bool symmetric) {
  for (raft::NodeId x : a) {
    for (raft::NodeId y : b) {
      if (x == y) continue;
      blocked_.insert({x, y});
      if (symmetric) blocked_.insert({y, x});
    }
  }
}

std::string Network::describe() const {
  std::ostringstream out;
  bool first = true;
  for (const auto& [from, to] : blocked_) {
    out << (first ? "" : " ") << from << "-x->" << to;
    first = false;
  }
  return out.str();
}

}  // namespace conclave::sim
