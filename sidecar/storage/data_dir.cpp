// DataDir: opening the stores together, restoring the core's starting
// state with cross-store checks, and persisting Ready batches in order.
#include "sidecar/storage/data_dir.h"

#include <spdlog/spdlog.h>

namespace conclave::storage {

using raft::Index;

namespace {

constexpr const char* kRemedy =
    " The sidecar refuses to start rather than risk a committed entry or a vote. If the other members of the "
    "cluster are healthy, move this data directory aside and restart the node empty so it rejoins from a "
    "snapshot.";

// The term of the log's entry at `index`, if the log holds it.
std::optional<raft::Term> term_at(SegmentedLog& log, Index index) {
  if (index < log.first_index() || index > log.last_index() || index == Index(0)) return std::nullopt;
  auto entries = log.read(index, index);
  if (!entries || entries->empty()) return std::nullopt;
  return entries->front().term;
}

}  // namespace

Result<std::unique_ptr<DataDir>> DataDir::open(const std::string& dir, const DataDirOptions& options,
                                               Filesystem& fs) {
  std::unique_ptr<DataDir> d(new DataDir());
  d->dir_ = dir;
  d->options_ = options;
  if (!options.read_only) {
    auto lock = DataDirLock::acquire(dir);
    if (!lock) return lock.error();
    d->lock_ = std::move(lock).value();
  }
  auto hard_state = HardStateStore::open(fs, dir, options.log.fsync, options.read_only);
  if (!hard_state) return hard_state.error();
  d->hard_state_ = std::move(hard_state).value();
  auto snapshots = SnapshotStore::open(fs, dir + "/snapshots", options.log.fsync, options.read_only);
  if (!snapshots) return snapshots.error();
  d->snapshots_ = std::move(snapshots).value();
  LogOptions log_options = options.log;
  log_options.read_only = log_options.read_only || options.read_only;
  auto log = SegmentedLog::open(fs, dir + "/log", log_options);
  if (!log) return log.error();
  d->log_ = std::move(log).value();
  return d;
}

Status DataDir::follow_snapshot(const raft::SnapshotMeta& meta) {
  // Raft's rule for an installed snapshot (§7): if the log holds the
  // snapshot's last entry with its term, keep what follows; else the log is
  // another history and goes entirely.
  // A log that starts right after the snapshot was reset or compacted for it.
  if (log_->first_index() == meta.index.next()) return {};
  if (term_at(*log_, meta.index) == meta.term) return log_->compact_prefix(meta.index);
  spdlog::info("storage: the log ({}..{}) does not continue snapshot {} (term {}); starting it at entry {}",
               log_->first_index().value(), log_->last_index().value(), meta.index.value(), meta.term.value(),
               meta.index.value() + 1);
  return log_->reset(meta.index.next());
}

Result<raft::Restored> DataDir::restore() {
  raft::Restored restored;
  restored.hard_state = hard_state_->current();
  if (auto latest = snapshots_->latest()) restored.snapshot = latest->meta;
  Index base = restored.snapshot.index;
  if (log_->first_index() > base.next()) {
    return Error{ErrorCode::kCorrupt, "the log in " + dir_ + "/log starts at entry " +
                                          std::to_string(log_->first_index().value()) +
                                          " but the newest snapshot covers only through entry " +
                                          std::to_string(base.value()) + ": the entries between are missing." +
                                          kRemedy};
  }
  if (base > Index(0)) {
    if (Status s = follow_snapshot(restored.snapshot); !s) return s.error();
  }
  Index last = log_->last_index();
  if (last > base) {
    auto entries = log_->read(base.next(), last);
    if (!entries) return entries.error();
    restored.entries = std::move(entries).value();
  }
  Index held = std::max(last, base);
  if (restored.hard_state.commit > held) {
    return Error{ErrorCode::kCorrupt, "the hard state in " + dir_ + " says entry " +
                                          std::to_string(restored.hard_state.commit.value()) +
                                          " is committed, but this node holds entries only through " +
                                          std::to_string(held.value()) + ": committed entries were lost." +
                                          kRemedy};
  }
  raft::Term last_term = restored.entries.empty() ? restored.snapshot.term : restored.entries.back().term;
  if (restored.hard_state.term < last_term) {
    return Error{ErrorCode::kCorrupt, "the hard state in " + dir_ + " has term " +
                                          std::to_string(restored.hard_state.term.value()) +
                                          ", older than the log's last entry (term " +
                                          std::to_string(last_term.value()) +
                                          "): the hard state went back in time and this node may vote twice." +
                                          kRemedy};
  }
  restored.applied = base;
  return restored;
}

Status DataDir::persist(const raft::Ready& ready) {
  auto owed = write(ready);
  if (!owed) return owed.error();
  return sync(*owed);
}

Result<DataDir::Owed> DataDir::write(const raft::Ready& ready) {
  if (ready.snapshot) {
    if (Status s = follow_snapshot(*ready.snapshot); !s) return s.error();
  }
  if (!ready.entries.empty()) {
    Index first = ready.entries.front().index;
    if (first < log_->first_index()) {
      if (Status s = log_->reset(first); !s) return s.error();
    } else if (first <= log_->last_index()) {
      if (Status s = log_->truncate_suffix(first); !s) return s.error();
    }
    auto appended = log_->append(ready.entries);
    if (!appended) return appended.error();
  }
  Owed owed;
  owed.save_hard_state = ready.hard_state && (ready.hard_state->term != hard_state_->current().term ||
                                              ready.hard_state->vote != hard_state_->current().vote);
  if (owed.save_hard_state) owed.hard_state = *ready.hard_state;
  owed.sync = ready.must_sync || owed.save_hard_state;
  return owed;
}

Status DataDir::sync(const Owed& owed) {
  // The log is synced before the hard state, so a stored commit index never
  // points past the durable log.
  if (owed.sync) {
    if (Status s = log_->sync(); !s) return s;
  }
  if (owed.save_hard_state) {
    raft::HardState state = owed.hard_state;
    if (state.commit > log_->durable_index()) state.commit = log_->durable_index();
    if (state.commit < hard_state_->current().commit) state.commit = hard_state_->current().commit;
    if (Status s = hard_state_->save(state); !s) return s;
  }
  return {};
}

Result<std::vector<std::string>> DataDir::compact(Index index) {
  if (Status s = log_->compact_prefix(index); !s) return s.error();
  return snapshots_->retire(std::max<std::size_t>(1, options_.snapshots_kept));
}

}  // namespace conclave::storage
