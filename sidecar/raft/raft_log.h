// The core's view of the log: a base (the point a snapshot covers) followed by
// the entries after it, which configuration each position implies, and which
// entries are durable on this node.
//
// The host owns the durable copy; this in-memory copy is what the core
// reasons about. Durability is tracked here because the leader may count
// itself toward a commit only for entries it has persisted, and a follower's
// acknowledgement is only sent after the host persisted what it acknowledges.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "sidecar/raft/types.h"

namespace conclave::raft {

class RaftLog {
 public:
  RaftLog(const SnapshotMeta& base, std::vector<Entry> entries);

  // The base: every entry through base().index is covered by a snapshot.
  const SnapshotMeta& base() const { return base_; }
  Index first_index() const { return base_.index.next(); }
  Index last_index() const;
  Term last_term() const;

  // The term at i, for base().index <= i <= last_index(); nullopt otherwise
  // (compacted away, or beyond the end).
  std::optional<Term> term_at(Index i) const;
  bool matches(Index i, Term t) const;
  const Entry& at(Index i) const;

  // Entries [lo, last_index()], at most max_entries and about max_bytes
  // (always at least one entry when any is available). Requires lo >= first_index().
  std::vector<Entry> slice(Index lo, std::size_t max_entries, std::size_t max_bytes) const;

  // The first index whose entry has term t, searching back from `from`; used
  // for the conflict hints of fast backtracking.
  Index first_index_of_term_at(Index from) const;
  // The last index holding term t, if the log holds any entry of that term.
  std::optional<Index> last_index_of_term(Term t) const;

  // Appends one entry at last_index()+1.
  void append(Entry entry);
  // Drops entries at indices >= i (i > base().index).
  void truncate_from(Index i);
  // Drops entries through i (base().index < i <= last_index()); i becomes the base.
  void compact(Index i);
  // Replaces the whole log with a snapshot's base and no entries.
  void restore(const SnapshotMeta& snapshot);

  // The configuration as of the last entry, and as of position i.
  const Configuration& config() const;
  Configuration config_at(Index i) const;
  // The index of the last configuration entry (or the base index).
  Index config_index() const;

  // Durability. Entries from unstable_from() on have not been handed to the
  // host for persistence; entries through persisted_index() are durable.
  Index unstable_from() const { return unstable_from_; }
  Index persisted_index() const { return persisted_; }
  std::vector<Entry> take_unstable();
  // The host persisted these entries; count those still in the log as durable.
  void mark_persisted(const std::vector<Entry>& entries);
  void mark_base_persisted() { persisted_ = std::max(persisted_, base_.index); }

 private:
  const Entry& entry(Index i) const;
  void track_config(const Entry& entry);

  SnapshotMeta base_;
  std::deque<Entry> entries_;
  // Configurations introduced by config entries after the base, by index.
  std::map<Index, Configuration> configs_;
  Index unstable_from_;
  Index persisted_;
};

}  // namespace conclave::raft
