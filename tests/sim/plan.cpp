// Deriving a run's plan from its seed.
#include "tests/sim/plan.h"

#include <sstream>

#include "tests/sim/rng.h"

namespace conclave::sim {

bool valid_mix(const std::string& mix) {
  for (const char* m : kMixes) {
    if (mix == m) return true;
  }
  return false;
}

RunPlan plan_for_seed(std::uint64_t seed, const std::string& mix) {
  // A generator of its own, so the plan never depends on how the run itself
  // draws numbers.
  Rng rng(seed ^ 0x706c616e706c616eULL);
  RunPlan p;
  p.seed = seed;
  const int sizes[] = {3, 5, 7};
  p.nodes = sizes[rng.below(3)];

  // The network: from calm to hostile.
  switch (rng.below(4)) {
    case 0: p.network = NetworkFaults{0, 0, 1, 10, 0, 50, false}; break;
    case 1: p.network = NetworkFaults{20, 10, 1, 15, 20, 100, false}; break;
    case 2: p.network = NetworkFaults{80, 30, 1, 25, 50, 200, false}; break;
    default: p.network = NetworkFaults{200, 50, 5, 40, 100, 300, false}; break;
  }
  // A third of the runs keep each link in order, as TCP does between retries.
  p.network.fifo = rng.chance(333);
  const std::uint64_t mild_or_off[] = {0, 60, 150};
  p.crash_every_ticks = mild_or_off[rng.below(3)];
  if (rng.chance(300)) p.crash_every_ticks = 25;  // crash storms
  p.max_down_ticks = rng.between(5, 100);
  p.max_down_nodes = rng.chance(700) ? (p.nodes - 1) / 2 : p.nodes;
  p.partition_every_ticks = mild_or_off[rng.below(3)];
  p.partition_ticks_max = rng.between(10, 150);
  p.pause_every_ticks = rng.chance(400) ? rng.between(30, 150) : 0;
  p.pause_ticks_max = rng.between(5, 60);
  p.membership_every_ticks = rng.chance(500) ? rng.between(20, 100) : 0;
  p.transfer_every_ticks = rng.chance(400) ? rng.between(20, 120) : 0;
  p.propose_every_units = rng.between(3, 40);
  p.fault_ticks = rng.between(1000, 4000);
  p.read_every_units = rng.between(10, 80);

  raft::Options& o = p.host.options;
  o.election_ticks = 10;
  o.heartbeat_ticks = 1;
  o.max_entries_per_message = rng.chance(500) ? rng.between(1, 4) : 64;
  o.max_inflight_messages = rng.chance(500) ? rng.between(1, 4) : 16;
  o.max_bytes_per_message = rng.chance(300) ? 200 : std::size_t{1} << 20;
  o.promote_lag_max = rng.between(4, 64);
  o.snapshot_timeout_ticks = static_cast<int>(rng.between(20, 60));
  p.host.snapshot_every = rng.chance(700) ? rng.between(5, 60) : 0;
  p.host.compact_trailing_max = rng.between(0, 8);
  p.host.chunk_bytes = rng.between(48, 256);  // 1..12 chunks a snapshot
  p.host.lazy_sync_permille = rng.between(0, 1000);
  p.host.machine_save_permille = rng.chance(500) ? rng.between(10, 300) : 0;
  p.host.leader_send_first_permille = rng.between(0, 1000);
  if (mix == "churn") {
    p.nodes = rng.chance(500) ? 3 : 5;
    p.crash_every_ticks = rng.between(6, 20);
    p.max_down_ticks = rng.between(3, 25);
    p.max_down_nodes = (p.nodes - 1) / 2;
    p.partition_every_ticks = rng.between(20, 60);
    p.partition_ticks_max = rng.between(10, 40);
    p.membership_every_ticks = 0;
    p.pause_every_ticks = rng.chance(500) ? rng.between(20, 60) : 0;
    o.max_entries_per_message = 1;
    o.max_inflight_messages = 1;
  }
  // Drawn last, so the rest of each seed's plan is what it was before.
  p.host.hold_sync_permille = rng.chance(500) ? rng.between(100, 1000) : 0;
  p.host.held_sync_done_permille = rng.between(100, 900);
  p.host.early_send_permille = rng.chance(500) ? rng.between(300, 1000) : 0;
  return p;
}

std::string RunPlan::describe() const {
  std::ostringstream out;
  out << nodes << " nodes, net loss " << network.loss_permille << "‰ dup "
      << network.dup_permille << "‰ delay " << network.delay_min << ".." << network.delay_max
      << " (+long " << network.long_delay_permille << "‰" << (network.fifo ? ", fifo" : "")
      << "), crash every " << crash_every_ticks
      << " ticks (max " << max_down_nodes << " down), partition every " << partition_every_ticks
      << ", pause every " << pause_every_ticks << ", membership every " << membership_every_ticks << ", transfer every "
      << transfer_every_ticks << ", snapshot every " << host.snapshot_every
      << " entries, entries/msg " << host.options.max_entries_per_message << ", inflight "
      << host.options.max_inflight_messages << ", syncs held " << host.hold_sync_permille << "‰ (done "
      << host.held_sync_done_permille << "‰ an input, early sends " << host.early_send_permille << "‰), "
      << fault_ticks << "+" << liveness_ticks << " ticks";
  return out.str();
}

}  // namespace conclave::sim
