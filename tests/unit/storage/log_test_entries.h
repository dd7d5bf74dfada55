// Entries for log tests: the data names the index and term, so a test can
// tell any entry's content from its position.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sidecar/raft/types.h"

namespace conclave::storage::testing {

inline raft::Entry entry(std::uint64_t index, std::uint64_t term = 1, std::size_t pad = 0) {
  return raft::Entry{raft::Index(index), raft::Term(term), raft::EntryType::kNormal,
                     "entry " + std::to_string(index) + " term " + std::to_string(term) + std::string(pad, '.')};
}

inline std::vector<raft::Entry> entries(std::uint64_t first, std::uint64_t last, std::uint64_t term = 1,
                                        std::size_t pad = 0) {
  std::vector<raft::Entry> out;
  for (std::uint64_t i = first; i <= last; ++i) out.push_back(entry(i, term, pad));
  return out;
}

// The path of the open segment in `log_dir`, or "" if there is none.
inline std::string open_segment_path(const std::string& log_dir) {
  for (const auto& f : std::filesystem::directory_iterator(log_dir)) {
    if (f.path().filename().string().rfind("open-", 0) == 0) return f.path().string();
  }
  return {};
}

}  // namespace conclave::storage::testing
