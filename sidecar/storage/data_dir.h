// A node's whole durable state in one directory, and the two calls the node
// layer makes on it: restore() at startup (what the Raft core needs, checked
// for consistency across the stores) and persist(ready) for each Ready, in
// the order sidecar/raft/raft.h requires.
//
//   <dir>/LOCK         DataDirLock: one sidecar per directory
//   <dir>/log/         SegmentedLog (format in segmented_log.h)
//   <dir>/hardstate    HardStateStore (format in hard_state_store.h)
//   <dir>/snapshots/   SnapshotStore (format in snapshot_store.h)
//
// The stored commit index is a lower bound: it is saved with every term or
// vote change, not with every commit advance, because Raft needs only term
// and vote to be durable (a restarted node relearns commit from the leader)
// and a second fsync per Ready would halve the write rate.
#pragma once

#include <memory>
#include <string>

#include "sidecar/raft/raft.h"
#include "sidecar/storage/data_dir_lock.h"
#include "sidecar/storage/hard_state_store.h"
#include "sidecar/storage/segmented_log.h"
#include "sidecar/storage/snapshot_store.h"

namespace conclave::storage {

struct DataDirOptions {
  LogOptions log;
  // Snapshots kept after compaction (the newest is always kept).
  std::size_t snapshots_kept = 2;
  // For offline tools (conclavectl log): opens without taking the lock and
  // without creating, repairing or syncing anything (see LogOptions::
  // read_only); every write, and restore() where it would change the log,
  // refuses. A running node may change the files while they are read.
  bool read_only = false;
};

class DataDir {
 public:
  // Locks the directory (unless read-only), then opens and verifies every
  // store.
  static Result<std::unique_ptr<DataDir>> open(const std::string& dir, const DataDirOptions& options = {},
                                               Filesystem& fs = posix_filesystem());

  // What the core starts from: the hard state, the newest snapshot's meta,
  // and the log's entries after it. Refuses (kCorrupt) when the stores
  // disagree in a way that could lose committed entries or a vote: a log
  // that starts after the snapshot ends, a commit index beyond everything
  // held, a hard-state term older than the log's last entry. A log that
  // ends before the snapshot, or conflicts with it, is reset to follow it.
  Result<raft::Restored> restore();

  // Persists one Ready: a newly installed snapshot's effect on the log,
  // then the entries (an entry at index i replaces every stored entry >= i),
  // then the hard state, syncing as ready.must_sync demands. When this
  // returns ok, the messages of the Ready may be sent.
  Status persist(const raft::Ready& ready);

  // persist() in two halves, for a host that syncs off its event loop:
  // write(ready) stores the snapshot's effect and the entries without making
  // them durable and says what sync() owes; sync(owed) then fsyncs the log
  // and saves the hard state. sync() may run on another thread while the
  // loop reads the log (the log is safe for that), but write() and compact()
  // must not run until it has returned. Only once sync() returns ok may the
  // Ready's messages be sent.
  struct Owed {
    bool sync = false;        // the log, and then maybe the hard state
    bool save_hard_state = false;
    raft::HardState hard_state;
  };
  Result<Owed> write(const raft::Ready& ready);
  Status sync(const Owed& owed);

  // After a snapshot through `index` is stored: drop the log prefix it
  // covers and retire all but the newest snapshots, whose paths it returns
  // for snapshots().delete_retired(), on any thread (the log deletes its
  // own files in the background).
  Result<std::vector<std::string>> compact(raft::Index index);

  SegmentedLog& log() { return *log_; }
  HardStateStore& hard_state() { return *hard_state_; }
  SnapshotStore& snapshots() { return *snapshots_; }
  const std::string& path() const { return dir_; }

 private:
  DataDir() = default;
  Status follow_snapshot(const raft::SnapshotMeta& meta);

  std::string dir_;
  DataDirOptions options_;
  std::unique_ptr<DataDirLock> lock_;
  std::unique_ptr<SegmentedLog> log_;
  std::unique_ptr<HardStateStore> hard_state_;
  std::unique_ptr<SnapshotStore> snapshots_;
};

}  // namespace conclave::storage
