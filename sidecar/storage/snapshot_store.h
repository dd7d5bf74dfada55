// Snapshots on disk: written from a stream of chunks (from the local
// application, or from the leader), read back as a stream of chunks (to send
// to a peer, or to replay to a joining application).
//
// FORMAT: one file per snapshot, `snapshot-<index>-<term>` (20-digit
// decimals), little-endian:
//
//   header:  0 magic "CNCLSNP\n" | 8 u32 version (1) | 12 u32 config length C |
//            16 u64 last index | 24 u64 last term | 32 configuration (C bytes,
//            raft::encode_configuration) | 32+C u32 CRC32C of the header so far
//   data:    the application's bytes, as streamed in
//   trailer: u64 data length | u32 CRC32C of the data | u32 CRC32C of these
//            12 bytes | magic "CNCLEND\n"
//
// A snapshot is written to `<name>.tmp`, fsynced, renamed to its name, and
// the directory fsynced: a snapshot under its final name is complete. On
// open, leftover .tmp files (unfinished writes) and .retired files (pruned
// snapshots) are removed; every final snapshot is verified end to end, and a damaged one refuses to open
// with its path and what to do. Readers verify the data checksum again as
// they stream, because a snapshot may be read long after it was verified.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/raft/types.h"
#include "sidecar/storage/file.h"
#include "sidecar/storage/result.h"

namespace conclave::storage {

struct SnapshotInfo {
  raft::SnapshotMeta meta;
  std::uint64_t data_bytes = 0;
  std::string path;
};

// Streams one snapshot to disk. Destroying it before commit() discards it.
class SnapshotWriter {
 public:
  ~SnapshotWriter();
  SnapshotWriter(SnapshotWriter&&) noexcept;
  SnapshotWriter& operator=(SnapshotWriter&&) = delete;
  Status write(std::string_view chunk);
  // Seals the snapshot durably under its final name.
  Result<SnapshotInfo> commit();

 private:
  friend class SnapshotStore;
  SnapshotWriter(Filesystem& fs, std::string dir, std::string path, std::unique_ptr<File> file,
                 raft::SnapshotMeta meta, std::uint64_t offset, bool fsync);
  Filesystem* fs_;
  std::string dir_;
  std::string path_;  // final name; the file is path_ + ".tmp" until commit
  std::unique_ptr<File> file_;
  raft::SnapshotMeta meta_;
  std::uint64_t offset_;
  std::uint64_t data_bytes_ = 0;
  std::uint32_t crc_ = 0;
  bool fsync_;
  bool done_ = false;
};

// Streams one snapshot's data back, verifying its checksum at the end.
class SnapshotReader {
 public:
  const SnapshotInfo& info() const { return info_; }
  // The next chunk of at most `max_bytes`; an empty string once all data
  // was returned (and its checksum verified: kCorrupt if it fails).
  Result<std::string> next(std::size_t max_bytes = 1u << 20);
  bool done() const { return position_ == info_.data_bytes; }

 private:
  friend class SnapshotStore;
  SnapshotReader(std::unique_ptr<File> file, SnapshotInfo info, std::uint64_t data_offset,
                 std::uint32_t data_crc);
  std::unique_ptr<File> file_;
  SnapshotInfo info_;
  std::uint64_t data_offset_;
  std::uint32_t expected_crc_;
  std::uint64_t position_ = 0;
  std::uint32_t crc_ = 0;
};

// Not thread-safe: the node's loop owns it (one writer at a time; readers
// may run while a writer streams, each with its own file).
class SnapshotStore {
 public:
  // Verifies every snapshot in `dir` (created if missing). With
  // `read_only` (offline tools) nothing is created or removed, unfinished
  // .tmp files are left alone, and begin() and prune() refuse.
  static Result<std::unique_ptr<SnapshotStore>> open(Filesystem& fs, const std::string& dir,
                                                     bool fsync = true, bool read_only = false);

  // Starts a snapshot; a committed snapshot with the same index and term is
  // replaced atomically.
  Result<SnapshotWriter> begin(const raft::SnapshotMeta& meta);
  // The newest snapshot (highest index), if any.
  std::optional<SnapshotInfo> latest();
  // All snapshots, oldest first.
  std::vector<SnapshotInfo> list();
  Result<SnapshotReader> read(const SnapshotInfo& info);
  // Deletes all but the newest `keep`. Call after the log was compacted past
  // the snapshots that go.
  Status prune(std::size_t keep);
  // prune() in two steps, for a host that must not wait for the deletion
  // (freeing a large file's blocks takes as long as writing it did):
  // retire() renames all but the newest `keep` to `<name>.retired`, which
  // list() no longer sees, and returns their paths; delete_retired() unlinks
  // them and may run on any thread. A crash in between leaves .retired
  // files, which open() deletes.
  Result<std::vector<std::string>> retire(std::size_t keep);
  Status delete_retired(const std::vector<std::string>& paths);

 private:
  SnapshotStore(Filesystem& fs, std::string dir, bool fsync, bool read_only)
      : fs_(fs), dir_(std::move(dir)), fsync_(fsync), read_only_(read_only) {}
  Status refresh(bool at_open);
  Status read_only_error() const;
  Filesystem& fs_;
  std::string dir_;
  bool fsync_;
  bool read_only_;
  std::vector<SnapshotInfo> snapshots_;  // oldest first
};

}  // namespace conclave::storage
