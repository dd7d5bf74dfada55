// A tiny in-memory host for unit tests of the Raft core: it drains each
// core's Ready by the contract in raft.h into an in-memory "disk", delivers
// messages instantly (unless a link is cut or a filter drops them), and
// records what each node applied. The simulator in tests/sim is the heavy
// machinery; this is for scenarios a unit test spells out step by step.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <vector>

#include "sidecar/raft/raft.h"

namespace conclave::raft::testing {

inline std::set<NodeId> founders(int voters) {
  std::set<NodeId> ids;
  for (int i = 1; i <= voters; ++i) ids.insert(NodeId(i));
  return ids;
}

// A founder of nodes 1..voters whose log continues after the bootstrap entry
// with one entry per given term (indices 2, 3, ...), data "<tag><index>".
inline Restored founder_with_log(int voters, const std::vector<int>& terms, Term term,
                                 const std::string& tag = "e") {
  Restored r = bootstrap(founders(voters));
  r.hard_state.term = term;
  for (int t : terms) {
    Index i = r.entries.back().index.next();
    r.entries.push_back(Entry{i, Term(t), EntryType::kNormal, tag + std::to_string(i.value())});
  }
  return r;
}

struct TestNode {
  std::unique_ptr<Raft> raft;
  // The durable state, as the host would keep it.
  HardState hard_state;
  SnapshotMeta snapshot;
  std::vector<Entry> log;  // entries after snapshot.index
  std::vector<Entry> applied;
  std::vector<ReadState> reads;
  std::vector<std::uint64_t> failed_reads;
  std::vector<SnapshotMeta> installed_snapshots;
};

class TestCluster {
 public:
  // Nodes 1..voters are voters of a new cluster; extra nodes can be added
  // later with add_empty_node().
  explicit TestCluster(int voters, Options base = Options{}) : base_(base) {
    for (int i = 1; i <= voters; ++i) start(NodeId(i), bootstrap(founders(voters)));
  }

  void start(NodeId id, const Restored& restored) {
    Options o = base_;
    o.id = id;
    o.random_seed = 1000 + id.value();
    auto& n = nodes_[id];
    n.hard_state = restored.hard_state;
    n.snapshot = restored.snapshot;
    n.log = restored.entries;
    n.raft = std::make_unique<Raft>(o, restored);
  }

  // A node that knows nothing and waits for a leader to contact it.
  void add_empty_node(NodeId id) { start(id, Restored{}); }

  Raft& raft(NodeId id) { return *nodes_.at(id).raft; }
  Raft& raft(int id) { return raft(NodeId(id)); }
  TestNode& node(int id) { return nodes_.at(NodeId(id)); }

  void isolate(int id) { isolated_.insert(NodeId(id)); }
  void heal() { isolated_.clear(); cut_.clear(); }
  // Cut the link from a to b only (asymmetric).
  void cut(int a, int b) { cut_.insert({NodeId(a), NodeId(b)}); }

  // Return false to drop a message.
  std::function<bool(const Message&)> filter;
  // Every message delivered, in order.
  std::vector<Message> delivered;

  // Drains every node's Ready and delivers messages until nothing moves.
  void settle(int max_rounds = 1000) {
    for (int round = 0; round < max_rounds; ++round) {
      std::vector<Message> outbox;
      bool moved = false;
      for (auto& [id, n] : nodes_) moved |= drain(n, outbox);
      if (!moved) return;
      for (Message& m : outbox) deliver(m);
    }
    throw std::runtime_error("cluster did not settle");
  }

  void tick_all(int ticks = 1) {
    for (int i = 0; i < ticks; ++i) {
      for (auto& [id, n] : nodes_) n.raft->tick();
      settle();
    }
  }

  void tick(int id, int ticks = 1) {
    for (int i = 0; i < ticks; ++i) {
      raft(id).tick();
      settle();
    }
  }

  // Campaigns on `id` and settles; returns whether it became leader.
  bool elect(int id) {
    raft(id).campaign();
    settle();
    return raft(id).role() == Role::kLeader;
  }

  std::vector<NodeId> leaders() {
    std::vector<NodeId> out;
    for (auto& [id, n] : nodes_) {
      if (n.raft->role() == Role::kLeader) out.push_back(id);
    }
    return out;
  }

  // The data of normal entries node `id` applied, in order.
  std::vector<std::string> applied_data(int id) {
    std::vector<std::string> out;
    for (const Entry& e : node(id).applied) {
      if (e.type == EntryType::kNormal) out.push_back(e.data);
    }
    return out;
  }

  // Restarts a node from its durable state: what was not persisted is lost.
  void restart(int id) {
    TestNode& n = node(id);
    Restored r{n.hard_state, n.snapshot, n.log, n.snapshot.index};
    n.applied.clear();
    start(NodeId(id), r);
  }

 private:
  bool drain(TestNode& n, std::vector<Message>& outbox) {
    if (!n.raft->has_ready()) return false;
    Ready rd = n.raft->ready();
    if (rd.snapshot) {
      n.snapshot = *rd.snapshot;
      n.log.clear();
      n.installed_snapshots.push_back(*rd.snapshot);
    }
    for (const Entry& e : rd.entries) {
      while (!n.log.empty() && n.log.back().index >= e.index) n.log.pop_back();
      n.log.push_back(e);
    }
    if (rd.hard_state) n.hard_state = *rd.hard_state;
    for (Message& m : rd.messages) outbox.push_back(std::move(m));
    for (const Entry& e : rd.committed) n.applied.push_back(e);
    for (const ReadState& r : rd.reads) n.reads.push_back(r);
    for (auto c : rd.failed_reads) n.failed_reads.push_back(c);
    n.raft->advance(rd);
    return true;
  }

  void deliver(const Message& m) {
    if (isolated_.count(m.from) || isolated_.count(m.to)) return;
    if (cut_.count({m.from, m.to})) return;
    if (filter && !filter(m)) return;
    auto it = nodes_.find(m.to);
    if (it == nodes_.end()) return;
    delivered.push_back(m);
    it->second.raft->step(m);
  }

  Options base_;
  std::map<NodeId, TestNode> nodes_;
  std::set<NodeId> isolated_;
  std::set<std::pair<NodeId, NodeId>> cut_;
};

}  // namespace conclave::raft::testing
