// The safety checkers. The simulation reports every persisted log write,
// applied entry, role, commit index, synced hard state, acknowledged write and
// served read here; each report is checked at once, so a run stops at the
// step that broke a property. The properties (Raft paper §5.4, and LogCabin's
// invariant checker for the deltas):
//   election safety    at most one leader per term, ever;
//   log matching       two logs holding an entry with the same index and term
//                      agree on every entry up to it (prefix hashes);
//   leader completeness a node that becomes leader of term T holds every entry
//                      known committed in a term below T;
//   state-machine safety every node applies the same entry at each index, and
//                      an installed snapshot equals the applied history;
//   no lost writes     a committed entry is never truncated from a log that
//                      holds it by a leader of its commit term or later (a
//                      stale leader may still cut it from a lagging log, as
//                      Raft allows; the committing leader's successors put
//                      it back), and acknowledged writes reach every member;
//   linearizable reads a read reflects every write acknowledged, and every
//                      read completed, before it was issued;
//   deltas             durable term never decreases, a vote never changes
//                      within a term, term and commit never decrease while a
//                      node lives.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "sidecar/raft/raft.h"
#include "tests/sim/disk.h"
#include "tests/sim/state_machine.h"

namespace conclave::sim {

// What the cluster had committed (as seen by appliers) at each index.
struct HistorySlot {
  raft::Entry entry;
  std::uint64_t prefix_hash = 0;
  MachineState state;
  // The highest term any leader had reached when the entry was first applied:
  // the leader that committed it had a term no higher. Leader completeness
  // binds leaders of later terms only (a candidate of an older term can still
  // win with votes cast long ago, and it owes nothing committed after them).
  raft::Term commit_term_bound;
};

// The constraints a read carries from the moment it is issued.
struct ReadFence {
  raft::Index acked_write;         // highest index of an acknowledged write
  std::uint64_t writes_seen = 0;   // most writes any completed read observed
};

class Checker {
 public:
  explicit Checker(const raft::Configuration& initial);

  // --- logs
  // A slot now in `node`'s log (persisted, maybe not synced yet).
  void on_log_slot(raft::NodeId node, const LogSlot& slot);
  // The prefix hash of the entry (index, term) as some log held it.
  std::optional<std::uint64_t> known_prefix_hash(raft::Index index, raft::Term term) const;
  // Slots a write removed or overwrote; `after` is the log after the write,
  // `written_term` the highest term among the entries written (the leader
  // that sent them had at least that term).
  void on_slots_removed(raft::NodeId node, const std::vector<LogSlot>& removed,
                        const StoredLog& after, raft::Term written_term);

  // --- state machines
  void on_apply(raft::NodeId node, const raft::Entry& entry, const MachineState& after);
  // A state machine replaced wholesale (snapshot install, restart).
  void on_machine_replaced(raft::NodeId node, const MachineState& state, const char* why);

  // --- roles, commit, hard state
  void on_role(raft::NodeId node, raft::Role role, raft::Term term, const StoredLog& log);
  // The core's term and commit index after an input; neither may decrease
  // while the node lives.
  void on_progress(raft::NodeId node, std::uint64_t incarnation, raft::Term term,
                   raft::Index commit);
  void on_durable_hard_state(raft::NodeId node, const raft::HardState& before,
                             const raft::HardState& after);

  // --- clients
  ReadFence read_fence() const { return fence_; }
  void on_write_acked(raft::Index index);
  void on_read_served(raft::NodeId node, std::uint64_t context, const ReadFence& fence,
                      raft::Index read_index, const MachineState& state);

  // --- what the cluster agrees on
  raft::Index committed_through() const { return raft::Index(history_.size() - 1); }
  const HistorySlot* history(raft::Index index) const;
  const raft::Configuration& committed_config() const { return config_; }
  raft::Index acked_write() const { return fence_.acked_write; }
  std::uint64_t leaders_elected() const { return leaders_.size(); }
  std::uint64_t reads_checked() const { return reads_checked_; }

 private:
  struct PairHash {
    std::size_t operator()(const std::pair<std::uint64_t, std::uint64_t>& p) const noexcept {
      return std::hash<std::uint64_t>{}(p.first * 0x9e3779b97f4a7c15ULL ^ p.second);
    }
  };

  // Every (index, term) any log ever held, with its prefix hash.
  std::unordered_map<std::pair<std::uint64_t, std::uint64_t>, std::uint64_t, PairHash> entries_;
  // history_[i] for i in 0..committed_through(); slot 0 is the empty start.
  std::vector<HistorySlot> history_;
  raft::Configuration config_;
  std::map<raft::Term, raft::NodeId> leaders_;
  raft::Term max_leader_term_;
  struct Progress {
    std::uint64_t incarnation = 0;
    raft::Term term;
    raft::Index commit;
  };
  std::map<raft::NodeId, Progress> progress_;
  ReadFence fence_;
  std::uint64_t reads_checked_ = 0;
};

}  // namespace conclave::sim
