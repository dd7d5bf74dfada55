// The simulated network: decides the fate of every packet (lost, delayed,
// duplicated; reordering follows from independent delays) and holds the
// partitions, symmetric or one-way, that the fault schedule sets and heals.
// It does not queue packets itself: it returns the delivery delays and the
// simulation puts the packets on its event queue.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sidecar/raft/message.h"
#include "tests/sim/rng.h"

namespace conclave::sim {

// A Raft message, or one chunk of a snapshot transfer that carries the
// kInstallSnapshot message beside its bytes (as the peer transport does).
struct Packet {
  raft::Message message;
  std::uint64_t transfer = 0;  // nonzero: a snapshot chunk
  std::uint32_t chunk = 0;
  std::uint32_t chunks = 0;
  std::string bytes;
};

struct NetworkFaults {
  std::uint64_t loss_permille = 0;
  std::uint64_t dup_permille = 0;
  std::uint64_t delay_min = 1;
  std::uint64_t delay_max = 10;
  // A few packets take much longer, which reorders them behind later ones.
  std::uint64_t long_delay_permille = 0;
  std::uint64_t long_delay_max = 100;
  // Per-link first-in first-out delivery, as over one TCP connection; off,
  // packets on one link overtake each other.
  bool fifo = false;
};

class Network {
 public:
  explicit Network(Rng rng) : rng_(rng) {}

  void set_faults(const NetworkFaults& faults) { faults_ = faults; }
  const NetworkFaults& faults() const { return faults_; }

  // Times at which copies of a packet sent at `now` arrive; empty when lost.
  std::vector<std::uint64_t> fate(raft::NodeId from, raft::NodeId to, std::uint64_t now);

  // Cuts every link from a to b (and b to a when symmetric).
  void cut(const std::set<raft::NodeId>& a, const std::set<raft::NodeId>& b, bool symmetric);
  void heal() { blocked_.clear(); }
  bool partitioned() const { return !blocked_.empty(); }
  bool blocked(raft::NodeId from, raft::NodeId to) const {
    return !blocked_.empty() && blocked_.count({from, to}) != 0;
  }
  std::string describe() const;

 private:
  Rng rng_;
  NetworkFaults faults_;
  std::set<std::pair<raft::NodeId, raft::NodeId>> blocked_;
  std::map<std::pair<raft::NodeId, raft::NodeId>, std::uint64_t> last_arrival_;
};

}  // namespace conclave::sim
