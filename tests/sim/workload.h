// The clients of the simulated cluster: proposals sent to the node believed
// to be leader (following the leader hint on kNotLeader), acknowledged when
// that node applies the committed entry at the returned (index, term);
// ReadIndex reads checked for linearizability; and the operator's membership
// changes (add a learner on a fresh node, promote it, remove a node) and
// leadership transfers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "sidecar/raft/raft.h"
#include "tests/sim/checker.h"
#include "tests/sim/rng.h"

namespace conclave::sim {

class Simulation;
class Host;

class Workload {
 public:
  Workload(Simulation& sim, Rng rng) : sim_(sim), rng_(rng) {}

  void propose();
  void read();
  void change_membership();
  void transfer_leadership();

  void on_applied(Host& host, const raft::Entry& entry);
  void on_read_served(Host& host, std::uint64_t context, raft::Index read_index);
  void on_read_failed(Host& host, std::uint64_t context);
  void on_snapshot_installed(Host& host);
  void on_host_down(raft::NodeId node);
  // Settles the pending membership change once its index is committed.
  void resolve_membership();
  bool change_pending() const { return change_.has_value(); }

 private:
  struct PendingWrite {
    std::uint64_t incarnation = 0;
    raft::Term term;
    std::string data;
  };
  struct PendingRead {
    raft::NodeId node;
    std::uint64_t incarnation = 0;
    ReadFence fence;
  };
  struct PendingChange {
    raft::ConfigChange change;
    raft::Index index;
    raft::Term term;
  };

  Host* pick_proposer();
  void follow_hint(const raft::Proposal& p);

  Simulation& sim_;
  Rng rng_;
  raft::NodeId believed_leader_;
  std::uint64_t next_write_ = 1;
  std::uint64_t next_read_ = 1;
  // Proposals awaiting their outcome, by (node, index).
  std::map<std::pair<raft::NodeId, raft::Index>, PendingWrite> writes_;
  std::unordered_map<std::uint64_t, PendingRead> reads_;
  std::optional<PendingChange> change_;
};

}  // namespace conclave::sim
