// The shape of one simulated run, derived from its seed: cluster size, how
// hostile the network is, how often nodes crash, partitions form, membership
// changes and leadership transfers happen, and the cores' flow-control
// options. A sweep therefore mixes 3-, 5- and 7-node clusters and fault mixes
// without any extra flags, and `--seed S` alone replays a run of a sweep.
#pragma once

#include <cstdint>
#include <string>

#include "tests/sim/host.h"
#include "tests/sim/network.h"

namespace conclave::sim {

struct RunPlan {
  std::uint64_t seed = 1;
  int nodes = 3;
  std::uint64_t tick_units = 10;      // logical time units per core tick (each host drifts ±1)
  std::uint64_t fault_ticks = 600;    // length of the faulty phase
  std::uint64_t liveness_ticks = 400; // bound on recovery once faults stop
  NetworkFaults network;
  // Mean ticks between fault events of each kind; 0 disables the kind.
  std::uint64_t crash_every_ticks = 0;
  std::uint64_t max_down_ticks = 60;
  int max_down_nodes = 1;
  std::uint64_t partition_every_ticks = 0;
  std::uint64_t partition_ticks_max = 80;
  // A paused host (a stalled process: GC, swap, a stopped VM) neither ticks
  // nor handles messages for a while, then resumes with its state intact.
  std::uint64_t pause_every_ticks = 0;
  std::uint64_t pause_ticks_max = 40;
  std::uint64_t membership_every_ticks = 0;
  int max_members = 9;
  std::uint64_t transfer_every_ticks = 0;
  // Mean logical time units between client operations.
  std::uint64_t propose_every_units = 15;
  std::uint64_t read_every_units = 40;
  HostConfig host;
  bool demo = false;

  std::string describe() const;
};

// Fault mixes: "any" (the default) draws every knob from the seed; "churn"
// keeps the leader changing fast (frequent short crashes aimed mostly at the
// leader, brief partitions, one entry per message and one message in flight)
// so the interleavings of Figure 8 of the Raft paper come up often.
inline constexpr const char* kMixes[] = {"any", "churn"};
bool valid_mix(const std::string& mix);

RunPlan plan_for_seed(std::uint64_t seed, const std::string& mix = "any");

}  // namespace conclave::sim
