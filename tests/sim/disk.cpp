// The simulated disk: log writes with truncation semantics, sync, torn
// crashes, snapshot files and recovery.
#include "tests/sim/disk.h"

#include <algorithm>
#include <iterator>

#include "tests/sim/hashing.h"
#include "tests/sim/violation.h"

namespace conclave::sim {

using raft::Index;
using raft::Term;

Index StoredLog::last_index() const {
  return slots_.empty() ? base_index_ : slots_.back().entry.index;
}

const LogSlot* StoredLog::at(Index index) const {
  if (index <= base_index_ || index > last_index()) return nullptr;
  return &slots_[index.value() - base_index_.value() - 1];
}

std::optional<std::uint64_t> StoredLog::prefix_hash_at(Index index) const {
  if (index == base_index_) return base_hash_;
  const LogSlot* slot = at(index);
  if (slot == nullptr) return std::nullopt;
  return slot->prefix_hash;
}

std::optional<Term> StoredLog::term_at(Index index) const {
  if (index == base_index_) return base_term_;
  const LogSlot* slot = at(index);
  if (slot == nullptr) return std::nullopt;
  return slot->entry.term;
}

std::vector<LogSlot> StoredLog::write(const std::vector<raft::Entry>& entries) {
  std::vector<LogSlot> removed;
  bool truncated = false;
  for (const raft::Entry& e : entries) {
    if (e.index <= base_index_) continue;  // covered by the snapshot already
    if (!truncated) {
      // The first written entry replaces every stored entry at or after it.
      if (e.index > last_index().next()) {
        fail("log contract") << "entries written at index " << e.index
                             << " leave a gap after last index " << last_index();
      }
      while (!slots_.empty() && slots_.back().entry.index >= e.index) {
        removed.push_back(std::move(slots_.back()));
        slots_.pop_back();
      }
      truncated = true;
    } else if (e.index != last_index().next()) {
      fail("log contract") << "ready.entries not contiguous: index " << e.index
                           << " after " << last_index();
    }
    const std::uint64_t prev = slots_.empty() ? base_hash_ : slots_.back().prefix_hash;
    slots_.push_back(LogSlot{e, chain_entry(prev, e)});
  }
  return removed;
}

void StoredLog::install(Index index, Term term, std::uint64_t anchor_hash) {
  const std::optional<Term> own = term_at(index);
  if (own && *own == term && index >= base_index_) {
    while (!slots_.empty() && slots_.front().entry.index <= index) slots_.pop_front();
  } else {
    slots_.clear();
  }
  base_index_ = index;
  base_term_ = term;
  base_hash_ = anchor_hash;
}

void StoredLog::compact(Index index) {
  if (index <= base_index_) return;
  const LogSlot* slot = at(index);
  if (slot == nullptr) {
    fail("log contract") << "compaction to " << index << " beyond last index " << last_index();
  }
  base_term_ = slot->entry.term;
  base_hash_ = slot->prefix_hash;
  base_index_ = index;
  while (!slots_.empty() && slots_.front().entry.index <= index) slots_.pop_front();
}

void StoredLog::reset(Index index, Term term, std::uint64_t anchor_hash) {
  slots_.clear();
  base_index_ = index;
  base_term_ = term;
  base_hash_ = anchor_hash;
}

Disk::Disk(const raft::SnapshotMeta& initial, const std::string& initial_data) {
  view_.log.reset(initial.index, initial.term, 0);
  durable_.log.reset(initial.index, initial.term, 0);
  snapshots_[initial.index] = SnapshotFile{initial, initial_data, true};
}

void Disk::write_hard_state(const raft::HardState& hs) {
  WriteOp op;
  op.kind = WriteOp::Kind::kHardState;
  op.hard_state = hs;
  apply(view_, op);
  pending_.push_back(std::move(op));
}

std::vector<LogSlot> Disk::write_entries(const std::vector<raft::Entry>& entries) {
  std::vector<LogSlot> removed = view_.log.write(entries);
  WriteOp op;
  op.kind = WriteOp::Kind::kEntries;
  op.entries = entries;
  pending_.push_back(std::move(op));
  return removed;
}

void Disk::write_install(const raft::SnapshotMeta& meta, std::uint64_t anchor_hash) {
  WriteOp op;
  op.kind = WriteOp::Kind::kInstall;
  op.snapshot = meta;
  op.anchor_hash = anchor_hash;
  apply(view_, op);
  pending_.push_back(std::move(op));
}

void Disk::apply(DiskCopy& copy, const WriteOp& op) const {
  switch (op.kind) {
    case WriteOp::Kind::kHardState: copy.hard_state = op.hard_state; break;
    case WriteOp::Kind::kEntries: copy.log.write(op.entries); break;
    case WriteOp::Kind::kInstall:
      copy.log.install(op.snapshot.index, op.snapshot.term, op.anchor_hash);
      break;
  }
}

void Disk::sync() {
  for (const WriteOp& op : pending_) {
    apply(durable_, op);
    if (op.kind == WriteOp::Kind::kInstall) {
      auto it = snapshots_.find(op.snapshot.index);
      if (it != snapshots_.end() && it->second.meta.term == op.snapshot.term) {
        it->second.meta = op.snapshot;
        it->second.adopted = true;
      }
    }
  }
  pending_.clear();
  prune_snapshots();
}

void Disk::crash(Rng& rng) {
  // A prefix of the unsynced writes may have reached the platter before the
  // power went; the rest is gone. Sync the survivors, then reset the view.
  pending_.resize(rng.below(pending_.size() + 1));
  sync();
  view_ = durable_;
}

void Disk::store_snapshot(const raft::SnapshotMeta& meta, std::string data, bool adopted) {
  SnapshotFile& file = snapshots_[meta.index];
  const bool was_adopted = file.adopted && file.meta.term == meta.term;
  file.meta = meta;
  file.data = std::move(data);
  file.adopted = adopted || was_adopted;
  prune_snapshots();
}

const SnapshotFile* Disk::find_snapshot(Index index, Term term) const {
  auto it = snapshots_.find(index);
  if (it == snapshots_.end() || it->second.meta.term != term) return nullptr;
  return &it->second;
}

const SnapshotFile& Disk::restart_snapshot() const {
  for (auto it = snapshots_.rbegin(); it != snapshots_.rend(); ++it) {
    if (it->second.adopted) return it->second;
  }
  fail("disk") << "no adopted snapshot on disk";  // the initial one always is
  return snapshots_.begin()->second;
}

void Disk::prune_snapshots() {
  // Keep the newest adopted snapshot and whatever is newer than it (received
  // but not yet installed), at most a few: old files are garbage.
  constexpr std::size_t kMaxFiles = 4;
  const Index keep_from = restart_snapshot().meta.index;
  while (!snapshots_.empty() && snapshots_.begin()->first < keep_from) {
    snapshots_.erase(snapshots_.begin());
  }
  // Beyond that, the oldest received-but-not-installed files go first.
  while (snapshots_.size() > kMaxFiles) snapshots_.erase(std::next(snapshots_.begin()));
}

void Disk::compact(Index index) {
  view_.log.compact(index);
  // The durable copy may not hold the unsynced tail yet; it compacts what it
  // has, and the pending writes skip what the new base covers when synced.
  durable_.log.compact(std::min(index, durable_.log.last_index()));
}

raft::Restored Disk::recover(std::uint64_t anchor) {
  const SnapshotFile& snap = restart_snapshot();
  raft::Restored restored;
  restored.hard_state = durable_.hard_state;
  restored.snapshot = snap.meta;
  restored.applied = snap.meta.index;

  // Keep the entries after the snapshot only if the log agrees with it there.
  StoredLog log;
  const std::optional<Term> term = durable_.log.term_at(snap.meta.index);
  if (term && *term == snap.meta.term) {
    log.reset(snap.meta.index, snap.meta.term, *durable_.log.prefix_hash_at(snap.meta.index));
    std::vector<raft::Entry> entries;
    for (Index i = snap.meta.index.next(); i <= durable_.log.last_index(); i = i.next()) {
      entries.push_back(durable_.log.at(i)->entry);
    }
    log.write(entries);
    restored.entries = std::move(entries);
  } else {
    log.reset(snap.meta.index, snap.meta.term, anchor);
  }
  durable_.log = log;
  view_ = durable_;
  pending_.clear();
  return restored;
}

}  // namespace conclave::sim
