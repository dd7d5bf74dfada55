// The simulated disk of one host: the log, the hard state and the snapshot
// files, in two copies. `view` is what the host has written (the core's idea
// of its persisted state); `durable` is what has been synced and survives a
// crash. Writes go to the view and into a pending list; sync() moves the
// pending list to the durable copy; a crash keeps a random prefix of the
// pending list (a torn, unsynced tail) and loses the rest.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "sidecar/raft/raft.h"
#include "tests/sim/rng.h"

namespace conclave::sim {

struct LogSlot {
  raft::Entry entry;
  std::uint64_t prefix_hash = 0;  // chain over entries 1..entry.index
};

// A log that starts after `base` (a snapshot or compaction point).
class StoredLog {
 public:
  raft::Index base_index() const { return base_index_; }
  raft::Term base_term() const { return base_term_; }
  std::uint64_t base_hash() const { return base_hash_; }
  raft::Index last_index() const;
  raft::Index first_index() const { return base_index_.next(); }
  const LogSlot* at(raft::Index index) const;
  // The prefix hash through `index`, if this log still knows it.
  std::optional<std::uint64_t> prefix_hash_at(raft::Index index) const;
  std::optional<raft::Term> term_at(raft::Index index) const;
  std::size_t size() const { return slots_.size(); }

  // Writes entries with "an entry at index i replaces every stored entry
  // >= i". Entries at or below the base are skipped. Returns the slots that
  // were removed or overwritten, for the truncation check. Throws a
  // Violation when the entries leave a gap or are not contiguous.
  std::vector<LogSlot> write(const std::vector<raft::Entry>& entries);
  // Installs a snapshot: keeps the entries after it only when the log holds
  // the snapshot's own entry (same index and term), as Raft's InstallSnapshot
  // rule says; otherwise drops the whole log.
  void install(raft::Index index, raft::Term term, std::uint64_t anchor_hash);
  // Drops entries through `index` (which must be in the log or its base).
  void compact(raft::Index index);
  // Starts an empty log after (index, term).
  void reset(raft::Index index, raft::Term term, std::uint64_t anchor_hash);

 private:
  raft::Index base_index_;
  raft::Term base_term_;
  std::uint64_t base_hash_ = 0;
  std::deque<LogSlot> slots_;
};

struct SnapshotFile {
  raft::SnapshotMeta meta;
  std::string data;
  // Restart may begin from this snapshot: the host took it itself, or its core
  // installed it (ready.snapshot, synced). A snapshot that only arrived over
  // the network is on disk but not adopted.
  bool adopted = false;
};

struct DiskCopy {
  raft::HardState hard_state;
  StoredLog log;
};

// One pending (written, unsynced) operation.
struct WriteOp {
  enum class Kind : std::uint8_t { kHardState, kEntries, kInstall };
  Kind kind = Kind::kEntries;
  raft::HardState hard_state;
  std::vector<raft::Entry> entries;
  raft::SnapshotMeta snapshot;
  std::uint64_t anchor_hash = 0;
};

class Disk {
 public:
  // A disk holding an initial snapshot (index 0, or empty config for a joiner).
  Disk(const raft::SnapshotMeta& initial, const std::string& initial_data);

  const DiskCopy& view() const { return view_; }
  const DiskCopy& durable() const { return durable_; }
  bool has_pending() const { return !pending_.empty(); }

  void write_hard_state(const raft::HardState& hs);
  std::vector<LogSlot> write_entries(const std::vector<raft::Entry>& entries);
  void write_install(const raft::SnapshotMeta& meta, std::uint64_t anchor_hash);
  void sync();
  // Loses the unsynced tail but a random prefix of it.
  void crash(Rng& rng);

  // Snapshot files are written to a temporary name, synced and renamed, so
  // they are durable at once (as the storage layer does).
  void store_snapshot(const raft::SnapshotMeta& meta, std::string data, bool adopted);
  const SnapshotFile* find_snapshot(raft::Index index, raft::Term term) const;
  // The newest adopted snapshot: where a restart begins.
  const SnapshotFile& restart_snapshot() const;
  // Compaction of both copies (the host compacts what it has applied, which
  // is synced; compaction itself is a durable metadata change).
  void compact(raft::Index index);

  // Recovery after a crash: begins at the newest adopted snapshot, keeps the
  // durable entries after it that agree with it, rewrites both copies to
  // exactly that, and returns what the restarted core is built from.
  // `anchor` gives the prefix hash at the snapshot's index when the log no
  // longer holds it.
  raft::Restored recover(std::uint64_t anchor);

 private:
  void apply(DiskCopy& copy, const WriteOp& op) const;
  void prune_snapshots();

  DiskCopy view_;
  DiskCopy durable_;
  std::vector<WriteOp> pending_;
  std::map<raft::Index, SnapshotFile> snapshots_;
};

}  // namespace conclave::sim
