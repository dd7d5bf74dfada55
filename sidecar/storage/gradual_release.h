// Freeing a large file's blocks in one go is one big transaction in the
// filesystem's journal, and every fdatasync that needs the journal meanwhile
// (a segment's seal, a directory sync, a snapshot) waits for it
// (segmented_log_housekeeping.cpp has the figures). Files about to go are
// therefore cut down a few MiB at a time first, as RocksDB's file deleter
// does.
#pragma once

#include <atomic>
#include <cstdint>

#include "sidecar/storage/file.h"

namespace conclave::storage {

inline constexpr std::uint64_t kReleaseStepBytes = 4u << 20;

// Cuts `file`, which nothing will read again (unlinked, or renamed where no
// reader looks), down `step` bytes at a time with a short pause between
// cuts, until at most `step` bytes are left, a cut fails, or `stop` is set.
// Closing or unlinking it then frees the rest. A failure here costs only the
// smoothness, so nothing is returned.
void cut_down_gradually(File& file, std::uint64_t step, const std::atomic<bool>* stop = nullptr);

}  // namespace conclave::storage
