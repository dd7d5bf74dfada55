// `conclavectl log`: the offline view of a stopped node's data directory
// through the storage library: hard state, snapshots, then entries (index,
// term, type, data shown as text or hex). The cluster tests and operators
// compare two nodes' logs with it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace conclave::ctl {

struct LogDumpOptions {
  std::string data_dir;
  std::optional<std::uint64_t> from;
  std::optional<std::uint64_t> to;
  bool json = false;
};

// Returns the exit code (0 ok, 1 failure).
int run_log(const LogDumpOptions& options);

}  // namespace conclave::ctl
