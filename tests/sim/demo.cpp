// The narrated demo run.
#include "tests/sim/demo.h"

#include <cstdio>
#include <iostream>
#include <map>
#include <string>

#include "tests/sim/plan.h"
#include "tests/sim/simulation.h"

namespace conclave::sim {
namespace {

class Narrator final : public Observer {
 public:
  explicit Narrator(std::uint64_t tick_units) : tick_units_(tick_units) {}

  void on_leader(std::uint64_t now, raft::NodeId node, raft::Term term) override {
    say(now) << "node " << node << " is elected leader for term " << term << "\n";
    leader_ = node;
    ++leaders_seen_;
  }
  void on_step_down(std::uint64_t now, raft::NodeId node, raft::Term term) override {
    say(now) << "node " << node << " is no longer leader (it led term " << term << ")\n";
  }
  void on_partition(std::uint64_t now, const std::string& what) override {
    say(now) << "network partition: node " << leader_
             << " (the leader) is cut off from the others [" << what << "]\n";
    isolated_ = leader_;
    healed_ = false;
  }
  void on_heal(std::uint64_t now) override {
    if (healed_) return;
    say(now) << "the partition heals; node " << isolated_ << " can talk to the cluster again\n";
    healed_ = true;
    catching_up_ = isolated_ != raft::kNoNode;
  }
  void on_applied(std::uint64_t now, raft::NodeId node, raft::Index index) override {
    raft::Index& applied = applied_[node];
    applied = index;
    if (catching_up_ && node == isolated_ && index >= highest_) {
      say(now) << "node " << node << " has caught up: applied through index " << index << "\n";
      catching_up_ = false;
      caught_up_ = true;
    }
    if (index > highest_) highest_ = index;
    // Every tenth entry the leader applies, show how far each node has got:
    // during the partition the isolated node visibly stays behind.
    if (node == leader_ && index.value() % 10 == 0) {
      std::ostream& out = say(now);
      out << "entry " << index << " committed by leader " << node << "; applied per node:";
      for (const auto& [id, a] : applied_) out << " " << id << "@" << a;
      out << "\n";
    }
  }
  bool told_whole_story() const { return leaders_seen_ >= 2 && caught_up_; }

  void on_liveness_done(std::uint64_t now, raft::Index marker) override {
    say(now) << "all members applied the final entry " << marker
             << "; every node agrees on the log and the state machine\n";
  }

 private:
  std::ostream& say(std::uint64_t now) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "[tick %5.1f] ",
                  static_cast<double>(now) / static_cast<double>(tick_units_));
    return std::cout << buf;
  }

  std::uint64_t tick_units_;
  raft::NodeId leader_;
  raft::NodeId isolated_;
  bool healed_ = true;
  bool catching_up_ = false;
  bool caught_up_ = false;
  int leaders_seen_ = 0;
  raft::Index highest_;
  std::map<raft::NodeId, raft::Index> applied_;
};

}  // namespace

int run_demo(std::uint64_t seed) {
  RunPlan plan;
  plan.seed = seed;
  plan.nodes = 5;
  plan.network = NetworkFaults{0, 0, 1, 8, 0, 50, true};
  plan.fault_ticks = 240;
  plan.liveness_ticks = 200;
  plan.partition_ticks_max = 80;  // how long the leader stays cut off
  plan.propose_every_units = 25;
  plan.read_every_units = 60;
  plan.host.snapshot_every = 0;
  plan.demo = true;

  std::cout << "Conclave demo: a simulated 5-node Raft cluster (seed " << seed
            << "; time in ticks of the core's logical clock)\n"
            << "five nodes start as followers; a client proposes an entry every few ticks; "
               "the first leader will be cut off at tick 60 for 80 ticks\n";
  Narrator narrator(plan.tick_units);
  Simulation sim(plan, false, &narrator);
  const RunResult result = sim.run();
  if (result.violation) {
    std::cout << "VIOLATION: " << *result.violation << "\n";
    return 1;
  }
  std::cout << "done: " << result.stats.committed << " entries committed, "
            << result.stats.writes_acked << " client writes acknowledged, "
            << result.stats.reads_checked << " linearizable reads checked, "
            << result.stats.leaders << " leaders elected; no safety violation\n";
  // The demo doubles as a test (ctest sim_demo): the story must happen.
  if (!narrator.told_whole_story()) {
    std::cout << "the demo did not show a second election and a catch-up\n";
    return 1;
  }
  return 0;
}

}  // namespace conclave::sim
