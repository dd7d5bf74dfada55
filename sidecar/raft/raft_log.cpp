// The core's in-memory log: entries after a snapshot base, the configuration
// each position implies, and what is durable.
#include "sidecar/raft/raft_log.h"

#include <stdexcept>
#include <string>

namespace conclave::raft {
namespace {

[[noreturn]] void broken(const std::string& what) {
  throw std::logic_error("raft log invariant broken: " + what);
}

}  // namespace

RaftLog::RaftLog(const SnapshotMeta& base, std::vector<Entry> entries)
    : base_(base), unstable_from_(base.index.next()), persisted_(base.index) {
  for (Entry& e : entries) {
    if (e.index <= base_.index) continue;  // a trailing entry the snapshot covers
    if (e.index != last_index().next()) broken("restored entries are not contiguous");
    track_config(e);
    entries_.push_back(std::move(e));
  }
  unstable_from_ = last_index().next();
  persisted_ = last_index();
}

Index RaftLog::last_index() const {
  return Index(base_.index.value() + entries_.size());
}

Term RaftLog::last_term() const {
  return entries_.empty() ? base_.term : entries_.back().term;
}

std::optional<Term> RaftLog::term_at(Index i) const {
  if (i == base_.index) return base_.term;
  if (i < base_.index || i > last_index()) return std::nullopt;
  return entry(i).term;
}

bool RaftLog::matches(Index i, Term t) const {
  auto term = term_at(i);
  return term && *term == t;
}

const Entry& RaftLog::at(Index i) const {
  if (i <= base_.index || i > last_index()) broken("no entry at index " + std::to_string(i.value()));
  return entry(i);
}

const Entry& RaftLog::entry(Index i) const {
  return entries_[i.value() - base_.index.value() - 1];
}

std::vector<Entry> RaftLog::slice(Index lo, std::size_t max_entries, std::size_t max_bytes) const {
  if (lo <= base_.index) broken("slice below the log's first index");
  std::vector<Entry> out;
  std::size_t bytes = 0;
  for (Index i = lo; i <= last_index() && out.size() < max_entries; i = i.next()) {
    const Entry& e = entry(i);
    if (!out.empty() && bytes + e.data.size() > max_bytes) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

Index RaftLog::first_index_of_term_at(Index from) const {
  auto term = term_at(from);
  if (!term) return from;
  Index i = from;
  while (i > first_index() && entry(i.prev()).term == *term) i = i.prev();
  return i;
}

std::optional<Index> RaftLog::last_index_of_term(Term t) const {
  for (Index i = last_index(); i > base_.index; i = i.prev()) {
    Term here = entry(i).term;
    if (here == t) return i;
    if (here < t) return std::nullopt;  // terms only grow along the log
  }
  if (base_.term == t) return base_.index;
  return std::nullopt;
}

void RaftLog::append(Entry e) {
  if (e.index != last_index().next()) broken("append out of order");
  if (e.term < last_term()) broken("append of an older term");
  track_config(e);
  entries_.push_back(std::move(e));
}

void RaftLog::truncate_from(Index i) {
  if (i <= base_.index) broken("truncation into the snapshot");
  while (last_index() >= i) entries_.pop_back();
  configs_.erase(configs_.lower_bound(i), configs_.end());
  if (unstable_from_ > i) unstable_from_ = i;
  if (persisted_ >= i) persisted_ = i.prev();
}

void RaftLog::compact(Index i) {
  if (i <= base_.index) return;
  if (i > last_index()) broken("compaction past the last index");
  SnapshotMeta next{i, entry(i).term, config_at(i)};
  while (base_.index < i && !entries_.empty() && entries_.front().index <= i) entries_.pop_front();
  configs_.erase(configs_.begin(), configs_.upper_bound(i));
  base_ = std::move(next);
  if (unstable_from_ <= i) unstable_from_ = i.next();
}

void RaftLog::restore(const SnapshotMeta& snapshot) {
  base_ = snapshot;
  entries_.clear();
  configs_.clear();
  unstable_from_ = snapshot.index.next();
  // The snapshot itself counts as durable once the host installed it
  // (mark_base_persisted, from advance()).
  persisted_ = std::min(persisted_, snapshot.index.prev());
}

const Configuration& RaftLog::config() const {
  return configs_.empty() ? base_.config : configs_.rbegin()->second;
}

Configuration RaftLog::config_at(Index i) const {
  auto it = configs_.upper_bound(i);
  if (it == configs_.begin()) return base_.config;
  return std::prev(it)->second;
}

Index RaftLog::config_index() const {
  return configs_.empty() ? base_.index : configs_.rbegin()->first;
}

std::vector<Entry> RaftLog::take_unstable() {
  std::vector<Entry> out;
  for (Index i = unstable_from_; i <= last_index(); i = i.next()) out.push_back(entry(i));
  unstable_from_ = last_index().next();
  return out;
}

void RaftLog::mark_persisted(const std::vector<Entry>& persisted) {
  // An entry handed out, then truncated and replaced before the host
  // finished, does not count: only entries still in the log with the same
  // term, and not handed out again since, are durable.
  for (const Entry& e : persisted) {
    if (e.index >= unstable_from_) break;
    if (!matches(e.index, e.term)) break;
    if (e.index == persisted_.next()) persisted_ = e.index;
  }
}

void RaftLog::track_config(const Entry& e) {
  if (e.type != EntryType::kConfig) return;
  auto change = decode_config_change(e.data);
  if (!change) broken("undecodable configuration entry at index " + std::to_string(e.index.value()));
  configs_[e.index] = apply_config_change(config(), *change);
}

}  // namespace conclave::raft
