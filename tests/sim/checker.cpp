// The safety checks; see checker.h for the properties and why each holds.
#include "tests/sim/checker.h"

#include <algorithm>

#include "tests/sim/hashing.h"
#include "tests/sim/violation.h"

namespace conclave::sim {

using raft::Index;
using raft::NodeId;
using raft::Term;

Checker::Checker(const raft::Configuration& initial) : config_(initial) {
  history_.push_back(HistorySlot{});
  entries_[{0, 0}] = 0;
}

void Checker::on_log_slot(NodeId node, const LogSlot& slot) {
  const auto key = std::make_pair(slot.entry.index.value(), slot.entry.term.value());
  auto [it, inserted] = entries_.try_emplace(key, slot.prefix_hash);
  if (!inserted && it->second != slot.prefix_hash) {
    fail("log matching") << "node " << node << " holds entry (index " << slot.entry.index
                         << ", term " << slot.entry.term
                         << ") whose log prefix differs from another log's entry at the same "
                            "index and term";
  }
}

std::optional<std::uint64_t> Checker::known_prefix_hash(Index index, Term term) const {
  auto it = entries_.find({index.value(), term.value()});
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void Checker::on_slots_removed(NodeId node, const std::vector<LogSlot>& removed,
                               const StoredLog& after, Term written_term) {
  for (const LogSlot& slot : removed) {
    const Index index = slot.entry.index;
    if (index > committed_through()) continue;
    if (slot.prefix_hash != history_[index.value()].prefix_hash) continue;
    // Entries from a leader whose term may be below the one that committed
    // this slot: a deposed leader's late append to a lagging node. Raft
    // lets it cut the slot there; leaders of the commit term and later hold
    // it (leader completeness, checked in on_role) and restore it.
    if (written_term < history_[index.value()].commit_term_bound) continue;
    const std::optional<std::uint64_t> now = after.prefix_hash_at(index);
    if (now && *now == slot.prefix_hash) continue;  // rewritten with the same entry
    fail("committed entry lost") << "node " << node << " truncated its entry at index " << index
                                 << " (term " << slot.entry.term
                                 << "), which the cluster had committed and applied";
  }
}

const HistorySlot* Checker::history(Index index) const {
  if (index > committed_through()) return nullptr;
  return &history_[index.value()];
}

void Checker::on_apply(NodeId node, const raft::Entry& entry, const MachineState& after) {
  const Index index = entry.index;
  if (index <= committed_through()) {
    const HistorySlot& known = history_[index.value()];
    if (!(known.entry == entry)) {
      fail("state-machine safety")
          << "node " << node << " applied (index " << index << ", term " << entry.term
          << ", " << entry.data.size() << " bytes) but another node applied (term "
          << known.entry.term << ", " << known.entry.data.size() << " bytes) at that index";
    }
    if (!(known.state == after)) {
      fail("state-machine safety") << "node " << node << " reached a different state at index "
                                   << index << " (" << after.writes << " writes, hash "
                                   << after.hash << ") than the history (" << known.state.writes
                                   << " writes, hash " << known.state.hash << ")";
    }
    return;
  }
  if (index != committed_through().next()) {
    fail("state-machine safety") << "node " << node << " applied index " << index
                                 << " but no node ever applied " << committed_through().next();
  }
  const HistorySlot& prev = history_.back();
  HistorySlot slot;
  slot.entry = entry;
  slot.prefix_hash = chain_entry(prev.prefix_hash, entry);
  slot.state = apply_entry(prev.state, entry);
  slot.commit_term_bound = max_leader_term_;
  if (!(slot.state == after)) {
    fail("state-machine safety") << "node " << node << " applied index " << index
                                 << " on top of a state that differs from the history";
  }
  // Log matching across time: the entry must be the one logs held there.
  const std::optional<std::uint64_t> logged = known_prefix_hash(index, entry.term);
  if (!logged || *logged != slot.prefix_hash) {
    fail("log matching") << "node " << node << " applied (index " << index << ", term "
                         << entry.term << ") which no log held on top of the committed prefix";
  }
  if (entry.type == raft::EntryType::kConfig) {
    const std::optional<raft::ConfigChange> change = raft::decode_config_change(entry.data);
    if (!change) fail("state-machine safety") << "undecodable config entry at index " << index;
    config_ = raft::apply_config_change(config_, *change);
  }
  history_.push_back(std::move(slot));
}

void Checker::on_machine_replaced(NodeId node, const MachineState& state, const char* why) {
  if (state.applied > committed_through()) {
    fail("state-machine safety") << "node " << node << " " << why << " a state at index "
                                 << state.applied << " beyond anything any node applied ("
                                 << committed_through() << ")";
  }
  if (!(history_[state.applied.value()].state == state)) {
    fail("state-machine safety") << "node " << node << " " << why << " a state at index "
                                 << state.applied << " that differs from the applied history";
  }
}

void Checker::on_role(NodeId node, raft::Role role, Term term, const StoredLog& log) {
  if (role != raft::Role::kLeader) return;
  auto [it, inserted] = leaders_.try_emplace(term, node);
  if (!inserted) {
    if (it->second != node) {
      fail("election safety") << "nodes " << it->second << " and " << node
                              << " are both leader of term " << term;
    }
    return;
  }
  if (term > max_leader_term_) max_leader_term_ = term;
  // First sight of this leader: it must hold every entry committed in an
  // earlier term. Commit-term bounds grow along the history, so those
  // entries are a prefix of it.
  const auto first_later = std::partition_point(
      history_.begin() + 1, history_.end(),
      [&](const HistorySlot& s) { return s.commit_term_bound < term; });
  const Index c(static_cast<std::uint64_t>(first_later - history_.begin()) - 1);
  if (c < log.base_index()) return;  // its snapshot is newer than anything applied
  if (log.last_index() < c) {
    fail("leader completeness") << "node " << node << " became leader of term " << term
                                << " with last index " << log.last_index()
                                << " but index " << c << " was committed in an earlier term";
  }
  const std::optional<std::uint64_t> h = log.prefix_hash_at(c);
  if (!h || *h != history_[c.value()].prefix_hash) {
    fail("leader completeness") << "node " << node << " became leader of term " << term
                                << " with a log that differs from the committed entries "
                                   "through index "
                                << c;
  }
}

void Checker::on_progress(NodeId node, std::uint64_t incarnation, Term term, Index commit) {
  Progress& p = progress_[node];
  if (p.incarnation == incarnation) {
    if (term < p.term) {
      fail("term monotonic") << "node " << node << " term went from " << p.term << " back to "
                             << term;
    }
    if (commit < p.commit) {
      fail("commit monotonic") << "node " << node << " commit index went from " << p.commit
                               << " back to " << commit;
    }
  }
  p = Progress{incarnation, term, commit};
}

void Checker::on_durable_hard_state(NodeId node, const raft::HardState& before,
                                    const raft::HardState& after) {
  if (after.term < before.term) {
    fail("durable term") << "node " << node << " durable term went from " << before.term
                         << " back to " << after.term;
  }
  if (after.term == before.term && before.vote != raft::kNoNode && after.vote != before.vote) {
    fail("durable vote") << "node " << node << " changed its durable vote in term "
                         << after.term << " from " << before.vote << " to " << after.vote;
  }
}

void Checker::on_write_acked(Index index) {
  if (index > fence_.acked_write) fence_.acked_write = index;
}

void Checker::on_read_served(NodeId node, std::uint64_t context, const ReadFence& fence,
                             Index read_index, const MachineState& state) {
  ++reads_checked_;
  if (read_index < fence.acked_write) {
    fail("linearizable reads") << "read " << context << " on node " << node << " got read index "
                               << read_index << " below write index " << fence.acked_write
                               << " acknowledged before the read was issued";
  }
  on_machine_replaced(node, state, "served a read from");
  if (state.applied < fence.acked_write) {
    fail("linearizable reads") << "read " << context << " on node " << node
                               << " observed the state at index " << state.applied
                               << ", missing the write at index " << fence.acked_write
                               << " acknowledged before the read was issued";
  }
  if (state.writes < fence.writes_seen) {
    fail("linearizable reads") << "read " << context << " on node " << node << " observed "
                               << state.writes << " writes, fewer than the " << fence.writes_seen
                               << " a read completed before it was issued observed";
  }
  if (state.writes > fence_.writes_seen) fence_.writes_seen = state.writes;
}

}  // namespace conclave::sim
