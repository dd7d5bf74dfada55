// The replicated state machine each simulated host applies committed entries
// to. It is the applied sequence of normal entries, summarized as a count and
// a hash chain over their data, so two replicas (or a replica and a snapshot)
// are compared in O(1) and a read can be checked against the history.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sidecar/raft/types.h"

namespace conclave::sim {

struct MachineState {
  raft::Index applied;        // every entry through this index has been applied
  std::uint64_t writes = 0;   // normal entries applied: what a read observes
  std::uint64_t hash = 0;     // chain over the data of those entries

  bool operator==(const MachineState&) const = default;
};

// Applies one committed entry; only normal entries change what reads see.
MachineState apply_entry(const MachineState& state, const raft::Entry& entry);

// Snapshot bytes: the state, then `padding_bytes` of filler that stands for
// the application's data so that larger states cost more chunks to send.
std::string encode_snapshot(const MachineState& state, std::size_t padding_bytes);
std::optional<MachineState> decode_snapshot(std::string_view bytes);

}  // namespace conclave::sim
