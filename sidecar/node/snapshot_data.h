// What a snapshot in the store holds as its data (the store frames and
// checksums it; see sidecar/storage/snapshot_store.h):
//
//   u64 L (little-endian) | L bytes: the sidecar's own replicated state |
//   the application's state, as the application streamed it
//
// The sidecar's part is the session filter (session_filter.h) as of the
// snapshot's index: a node or application cursor that starts from the
// snapshot must drop the same retried duplicates as one that replayed the
// whole log. Applications only ever see their own part: a join streams the
// bytes after the sidecar's part.
#pragma once

#include <cstdint>
#include <string>

#include "sidecar/node/session_filter.h"
#include "sidecar/storage/result.h"
#include "sidecar/storage/snapshot_store.h"

namespace conclave::node {

// The bytes to write first into a new snapshot.
std::string encode_sidecar_part(const SessionFilter& filter);

// Reads a stored snapshot: the sidecar's part up front, then the
// application's part in chunks.
class SnapshotDataReader {
 public:
  static storage::Result<SnapshotDataReader> open(storage::SnapshotStore& store, const storage::SnapshotInfo& info);

  const storage::SnapshotInfo& info() const { return reader_.info(); }
  const SessionFilter& filter() const { return filter_; }
  std::uint64_t app_bytes() const { return app_bytes_; }
  // The next chunk of the application's part, at most `max_bytes`; empty
  // once it has all been returned (and the store verified its checksum).
  storage::Result<std::string> next(std::size_t max_bytes);

 private:
  explicit SnapshotDataReader(storage::SnapshotReader reader) : reader_(std::move(reader)) {}
  storage::SnapshotReader reader_;
  SessionFilter filter_;
  std::uint64_t app_bytes_ = 0;
  // Bytes of the application's part read along with the sidecar's part.
  std::string carry_;
};

}  // namespace conclave::node
