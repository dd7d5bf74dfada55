// One simulated run: a cluster of hosts over the simulated network, driven by
// one event queue in logical time. Events are packet deliveries, host ticks
// (each host on its own schedule), client operations and faults. A run has
// a faulty phase (crashes, partitions, lossy network, membership changes,
// leadership transfers) and then a liveness phase: faults stop, partitions
// heal, crashed nodes restart, and within a bounded number of ticks a leader
// must commit a marker entry that every live member applies. The checkers
// run on every report, so the run stops at the first broken property.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/sim/checker.h"
#include "tests/sim/event_queue.h"
#include "tests/sim/host.h"
#include "tests/sim/network.h"
#include "tests/sim/plan.h"
#include "tests/sim/rng.h"
#include "tests/sim/trace.h"

namespace conclave::sim {

class Workload;

// Hooks for the demo's narration; the default does nothing.
class Observer {
 public:
  virtual void on_leader(std::uint64_t /*now*/, raft::NodeId /*node*/, raft::Term /*term*/) {}
  virtual void on_step_down(std::uint64_t /*now*/, raft::NodeId /*node*/, raft::Term /*term*/) {}
  virtual void on_partition(std::uint64_t /*now*/, const std::string& /*what*/) {}
  virtual void on_heal(std::uint64_t /*now*/) {}
  virtual void on_write_acked(std::uint64_t /*now*/, raft::NodeId /*node*/, raft::Index /*index*/) {}
  virtual void on_applied(std::uint64_t /*now*/, raft::NodeId /*node*/, raft::Index /*index*/) {}
  virtual void on_liveness_done(std::uint64_t /*now*/, raft::Index /*marker*/) {}

 protected:
  ~Observer() = default;
};

struct RunStats {
  std::uint64_t steps = 0;
  std::uint64_t end_time = 0;
  std::uint64_t committed = 0;
  std::uint64_t writes_acked = 0;
  std::uint64_t reads_checked = 0;
  std::uint64_t leaders = 0;
  std::uint64_t crashes = 0;
  std::uint64_t partitions = 0;
  std::uint64_t pauses = 0;
  std::uint64_t config_changes = 0;
  std::uint64_t snapshots_sent = 0;
  std::uint64_t snapshots_installed = 0;
};

struct RunResult {
  std::optional<std::string> violation;
  std::uint64_t violation_time = 0;
  RunStats stats;
};

class Simulation final : public HostEnv {
 public:
  Simulation(const RunPlan& plan, bool verbose, Observer* observer = nullptr);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  RunResult run();

  // --- for the workload
  std::uint64_t now() const { return now_; }
  bool in_liveness() const { return liveness_; }
  const RunPlan& plan() const { return plan_; }
  Host* host(raft::NodeId id);
  // Hosts that are up and not paused (a paused host answers nobody).
  std::vector<Host*> live_hosts();
  // The live leader with the highest term, if any.
  Host* leader();
  // Starts a new, empty host that waits to be contacted by the leader.
  Host& add_joiner();
  // Stops a host for good (removed from the cluster, or never added).
  void stop_host(raft::NodeId id, std::uint64_t after_units);
  RunStats& stats() { return stats_; }

  // --- HostEnv
  void send(Packet packet) override;
  Checker& checker() override { return checker_; }
  const Trace& trace() const override { return trace_; }
  void on_applied(Host& host, const raft::Entry& entry) override;
  void on_read_served(Host& host, std::uint64_t context, raft::Index read_index) override;
  void on_read_failed(Host& host, std::uint64_t context) override;
  void on_snapshot_installed(Host& host) override;
  void on_crashed(Host& host) override;

 private:
  enum class Kind : std::uint8_t {
    kDeliver, kTick, kCrash, kRestart, kPartition, kHeal, kPropose, kRead,
    kMembership, kTransfer, kStop, kProbe, kDemoIsolate, kPause,
  };
  struct Event {
    Kind kind = Kind::kTick;
    raft::NodeId node;
    std::uint64_t incarnation = 0;
    Packet packet;
  };

  void schedule(std::uint64_t after_units, Kind kind, raft::NodeId node = raft::kNoNode,
                std::uint64_t incarnation = 0);
  // Schedules the next recurring event of `kind`, `mean_ticks` apart on average.
  void schedule_every(Kind kind, std::uint64_t mean_units);
  Host& create_host(raft::NodeId id, const raft::SnapshotMeta& initial);
  void start_host(Host& host);
  void dispatch(Event& event);
  // Narration of leadership changes for the observer, if any.
  void after_step();
  void crash_some_host();
  void partition();
  void pause_some_host();
  bool paused(raft::NodeId id) const;
  void begin_liveness();
  void probe_liveness();
  std::string describe_cluster();

  RunPlan plan_;
  Trace trace_;
  Observer* observer_;
  Rng rng_;
  Rng fault_rng_;
  Network network_;
  Checker checker_;
  std::unique_ptr<Workload> workload_;
  EventQueue<Event> events_;
  std::map<raft::NodeId, std::unique_ptr<Host>> hosts_;
  std::map<raft::NodeId, std::uint64_t> tick_units_;  // each host's clock
  std::set<raft::NodeId> stopped_;
  std::map<raft::NodeId, std::uint64_t> paused_until_;
  std::map<raft::NodeId, raft::Term> leader_terms_;   // for narration
  raft::Configuration last_config_;
  std::uint64_t next_id_ = 1;
  std::uint64_t now_ = 0;
  std::uint64_t fault_end_ = 0;
  std::uint64_t liveness_deadline_ = 0;
  bool liveness_ = false;
  bool done_ = false;
  // The liveness marker: an entry every live member must apply.
  std::optional<std::pair<raft::Index, raft::Term>> marker_;
  std::uint64_t marker_seq_ = 0;
  raft::Index acked_at_marker_;
  RunStats stats_;
};

}  // namespace conclave::sim
