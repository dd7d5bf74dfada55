// The Raft hard state (term, vote, commit) on disk, kept so that a crash at
// any instant leaves one valid copy.
//
// FORMAT: one file, `hardstate`, with two 52-byte slots at offsets 0 and
// 4096 (separate pages and sectors, so a torn write of one cannot touch the
// other). Each slot, little-endian:
//
//   0 magic "CNCLHST\n" | 8 u32 version (1) | 12 u32 zero | 16 u64 sequence |
//   24 u64 term | 32 u64 vote | 40 u64 commit | 48 u32 CRC32C of bytes 0..47
//
// save() overwrites the slot with the lower sequence and fdatasyncs; load
// takes the valid slot with the higher sequence. A crash during save() can
// only damage the slot being written, whose previous content was already
// superseded, so the other slot is the latest completed save. The file is
// created whole (temp, fsync, rename, directory fsync), so it either exists
// with two valid slots or not at all. If both slots are invalid, open
// refuses.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sidecar/raft/types.h"
#include "sidecar/storage/file.h"
#include "sidecar/storage/result.h"

namespace conclave::storage {

class HardStateStore {
 public:
  // Loads the hard state in `dir` (a zero state if there is none yet). With
  // `read_only` (offline tools) nothing is created and save() refuses.
  static Result<std::unique_ptr<HardStateStore>> open(Filesystem& fs, const std::string& dir,
                                                      bool fsync = true, bool read_only = false);

  const raft::HardState& current() const { return current_; }
  // Durable when it returns ok. A vote or term change must be saved before
  // any message that depends on it is sent. The term never decreases, and a
  // vote once cast in a term never changes; breaking that throws.
  Status save(const raft::HardState& state);

 private:
  HardStateStore(std::unique_ptr<File> file, raft::HardState state, std::uint64_t sequence, bool fsync)
      : file_(std::move(file)), current_(state), sequence_(sequence), fsync_(fsync) {}

  std::unique_ptr<File> file_;  // null when opened read-only and there was none
  bool read_only_ = false;
  raft::HardState current_;
  std::uint64_t sequence_;
  bool fsync_;
  bool failed_ = false;
};

}  // namespace conclave::storage
