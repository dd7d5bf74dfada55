// The simulated clients and operator.
#include "tests/sim/workload.h"

#include <vector>

#include "tests/sim/host.h"
#include "tests/sim/simulation.h"
#include "tests/sim/violation.h"

namespace conclave::sim {

using raft::ConfigChange;
using raft::ConfigChangeType;
using raft::Index;
using raft::NodeId;
using raft::Status;

namespace {
constexpr std::size_t kMaxPendingWrites = 256;

ConfigChange make_change(ConfigChangeType type, NodeId node) {
  ConfigChange change;
  change.type = type;
  change.node = node;
  return change;
}

constexpr std::size_t kMaxPendingReads = 128;
}  // namespace

Host* Workload::pick_proposer() {
  Host* h = sim_.host(believed_leader_);
  if (h != nullptr && h->alive()) return h;
  std::vector<Host*> live = sim_.live_hosts();
  if (live.empty()) return nullptr;
  return live[rng_.below(live.size())];
}

void Workload::follow_hint(const raft::Proposal& p) {
  if (p.leader_hint != raft::kNoNode) {
    believed_leader_ = p.leader_hint;
  } else {
    std::vector<Host*> live = sim_.live_hosts();
    believed_leader_ = live.empty() ? raft::kNoNode : live[rng_.below(live.size())]->id();
  }
}

void Workload::propose() {
  if (writes_.size() >= kMaxPendingWrites) return;
  Host* h = pick_proposer();
  if (h == nullptr) return;
  std::string data = "w" + std::to_string(next_write_++);
  const raft::Proposal p = h->core().propose(data);
  if (p.ok()) {
    writes_[{h->id(), p.index}] = PendingWrite{h->incarnation(), p.term, std::move(data)};
    believed_leader_ = h->id();
  } else if (p.status == Status::kNotLeader) {
    follow_hint(p);
  }
  h->drain();
}

void Workload::read() {
  if (reads_.size() >= kMaxPendingReads) return;
  std::vector<Host*> live = sim_.live_hosts();
  if (live.empty()) return;
  Host* h = rng_.chance(500) ? pick_proposer() : live[rng_.below(live.size())];
  const std::uint64_t context = next_read_++;
  // The fence is taken before the read is issued: it may be served at once.
  reads_[context] = PendingRead{h->id(), h->incarnation(), sim_.checker().read_fence()};
  if (h->core().read_index(context) != Status::kOk) reads_.erase(context);
  h->drain();
}

void Workload::on_applied(Host& host, const raft::Entry& entry) {
  auto it = writes_.find({host.id(), entry.index});
  if (it == writes_.end()) return;
  const PendingWrite w = std::move(it->second);
  writes_.erase(it);
  if (w.incarnation != host.incarnation()) return;  // the proposer crashed; outcome unknown
  if (entry.term != w.term) return;                  // lost to a leader change
  if (entry.data != w.data) {
    fail("lost write") << "node " << host.id() << " accepted proposal '" << w.data
                       << "' at (index " << entry.index << ", term " << w.term
                       << ") but committed '" << entry.data << "' there";
  }
  sim_.checker().on_write_acked(entry.index);
  ++sim_.stats().writes_acked;
}

void Workload::on_read_served(Host& host, std::uint64_t context, Index read_index) {
  auto it = reads_.find(context);
  if (it == reads_.end() || it->second.node != host.id() ||
      it->second.incarnation != host.incarnation()) {
    fail("read contract") << "node " << host.id() << " released read " << context
                          << " which it was not asked for (or already released)";
  }
  const ReadFence fence = it->second.fence;
  reads_.erase(it);
  sim_.checker().on_read_served(host.id(), context, fence, read_index, host.machine());
}

void Workload::on_read_failed(Host& /*host*/, std::uint64_t context) { reads_.erase(context); }

void Workload::on_snapshot_installed(Host& host) {
  // Entries the snapshot covers are never handed to this host: outcome unknown.
  for (auto it = writes_.begin(); it != writes_.end();) {
    const bool covered = it->first.first == host.id() && it->first.second <= host.machine().applied;
    it = covered ? writes_.erase(it) : std::next(it);
  }
}

void Workload::on_host_down(NodeId node) {
  for (auto it = writes_.begin(); it != writes_.end();) {
    it = it->first.first == node ? writes_.erase(it) : std::next(it);
  }
  for (auto it = reads_.begin(); it != reads_.end();) {
    it = it->second.node == node ? reads_.erase(it) : std::next(it);
  }
}

void Workload::resolve_membership() {
  if (!change_) return;
  const HistorySlot* slot = sim_.checker().history(change_->index);
  if (slot == nullptr) return;  // not committed yet
  const bool committed = slot->entry.term == change_->term;
  if (committed && slot->entry.data != raft::encode_config_change(change_->change)) {
    fail("lost write") << "config change accepted at (index " << change_->index << ", term "
                       << change_->term << ") but a different entry committed there";
  }
  if (!committed && change_->change.type == ConfigChangeType::kAddLearner) {
    sim_.stop_host(change_->change.node, 0);  // never became a member
  }
  if (committed) ++sim_.stats().config_changes;
  change_.reset();
}

void Workload::change_membership() {
  resolve_membership();
  if (change_) return;
  Host* leader = sim_.leader();
  if (leader == nullptr) return;
  const raft::Configuration& config = sim_.checker().committed_config();
  std::vector<ConfigChange> options;
  if (config.voters.size() + config.learners.size() < static_cast<std::size_t>(sim_.plan().max_members)) {
    options.push_back(make_change(ConfigChangeType::kAddLearner, raft::kNoNode));
  }
  for (NodeId l : config.learners) {
    options.push_back(make_change(ConfigChangeType::kPromote, l));
    options.push_back(make_change(ConfigChangeType::kPromote, l));
    options.push_back(make_change(ConfigChangeType::kRemove, l));
  }
  if (config.voters.size() > 3) {
    for (NodeId v : config.voters) options.push_back(make_change(ConfigChangeType::kRemove, v));
  }
  if (options.empty()) return;
  ConfigChange change = options[rng_.below(options.size())];
  Host* joiner = nullptr;
  if (change.type == ConfigChangeType::kAddLearner) {
    joiner = &sim_.add_joiner();
    change.node = joiner->id();
    change.address = "sim-" + std::to_string(joiner->id().value()) + ":7000";
  }
  const raft::Proposal p = leader->core().propose_config_change(change);
  if (sim_.trace().on()) {
    sim_.trace().line() << "operator: change type " << static_cast<int>(change.type) << " node "
                        << change.node << " on leader " << leader->id() << ": "
                        << raft::to_string(p.status);
  }
  if (p.ok()) {
    change_ = PendingChange{change, p.index, p.term};
  } else if (joiner != nullptr) {
    sim_.stop_host(joiner->id(), 0);
  }
  leader->drain();
}

void Workload::transfer_leadership() {
  Host* leader = sim_.leader();
  if (leader == nullptr) return;
  std::vector<NodeId> voters;
  for (NodeId v : sim_.checker().committed_config().voters) {
    if (v != leader->id()) voters.push_back(v);
  }
  if (voters.empty()) return;
  // Now and then a target the leader must refuse: a learner or a stranger.
  NodeId target = voters[rng_.below(voters.size())];
  if (rng_.chance(100)) target = NodeId(rng_.between(1, sim_.plan().nodes + 4));
  const Status s = leader->core().transfer_leadership(target);
  if (sim_.trace().on()) {
    sim_.trace().line() << "operator: transfer leadership from " << leader->id() << " to "
                        << target << ": " << raft::to_string(s);
  }
  leader->drain();
}

}  // namespace conclave::sim
