// What a stopped node left on disk, read with the storage library, and the
// checks the cluster tests make on it: every acknowledged entry is there
// with its data, and two nodes' logs agree on the committed prefix.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sidecar/raft/types.h"

namespace conclave::cluster_test {

// An entry a proposal was acknowledged for: the sidecar said it committed
// at `index`.
struct Acked {
  std::uint64_t index = 0;
  std::string data;
};

struct DiskLog {
  std::string data_dir;
  raft::HardState hard_state;
  std::uint64_t snapshot_index = 0;  // entries through it are compacted away
  std::vector<raft::Entry> entries;  // every entry the log holds, in order

  // The entry at `index`, or nullptr if the log does not hold it.
  const raft::Entry* at(std::uint64_t index) const;
};

// Opens the (stopped) node's data directory and reads everything. Fails the
// current test (and returns an empty log) if the storage library refuses.
DiskLog read_disk_log(const std::string& data_dir);

// Every acknowledged entry is in `log` at its index with its data, unless a
// snapshot covers it. Reports each miss as a test failure.
void expect_all_acked_present(const DiskLog& log, const std::vector<Acked>& acked);

// How many entries of `log` carry `data` (tests make each proposal's data
// unique, so more than one means it was applied twice).
int count_entries_with_data(const DiskLog& log, const std::string& data);

// `a` and `b` hold identical entries (index, term, type, data) at every
// index in 1..through that both hold, and each holds every index in
// (its snapshot, through]. Reports differences as test failures.
void expect_logs_agree(const DiskLog& a, const DiskLog& b, std::uint64_t through);

}  // namespace conclave::cluster_test
