// Per-follower replication state on the leader: probe, replicate, snapshot.
#include "sidecar/raft/progress.h"

#include <algorithm>

namespace conclave::raft {

Progress::Progress(Index next, std::size_t max_inflight_messages, std::size_t max_inflight_bytes)
    : next_(next),
      max_inflight_messages_(std::max<std::size_t>(1, max_inflight_messages)),
      max_inflight_bytes_(max_inflight_bytes) {}

bool Progress::paused() const {
  switch (state_) {
    case ProgressState::kProbe:
      return probe_sent_;
    case ProgressState::kReplicate:
      return inflight_.size() >= max_inflight_messages_ || inflight_bytes_ >= max_inflight_bytes_;
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

bool Progress::acknowledge(Index n) {
  probe_sent_ = false;
  if (n <= match_) return false;
  stalled_ticks_ = 0;
  match_ = n;
  next_ = std::max(next_, n.next());
  free_inflight_through(n);
  return true;
}

bool Progress::reject(Index rejected, Index next_guess) {
  if (state_ == ProgressState::kReplicate) {
    // In replicate state, only a rejection of something beyond match is news.
    if (rejected <= match_) return false;
  } else if (rejected != next_.prev()) {
    // In probe state, only the answer to the probe we sent counts.
    return false;
  }
  become_probe();
  next_ = std::max(match_.next(), std::min(next_guess, rejected));
  return true;
}

void Progress::sent_append(Index last, std::size_t bytes) {
  if (state_ == ProgressState::kReplicate) {
    if (last >= next_) {
      next_ = last.next();
      inflight_.push_back({last, bytes});
      inflight_bytes_ += bytes;
    }
  } else if (state_ == ProgressState::kProbe) {
    probe_sent_ = true;
  }
}

void Progress::become_probe() {
  stalled_ticks_ = 0;
  // Leaving replicate or snapshot state, what was sent may be lost: resume
  // right after what the follower is known to hold (after an acknowledged
  // snapshot, match is the snapshot's index).
  if (state_ != ProgressState::kProbe) next_ = match_.next();
  next_ = std::max(next_, match_.next());
  state_ = ProgressState::kProbe;
  probe_sent_ = false;
  pending_snapshot_ = Index(0);
  inflight_.clear();
  inflight_bytes_ = 0;
}

void Progress::become_replicate() {
  state_ = ProgressState::kReplicate;
  next_ = match_.next();
  probe_sent_ = false;
  inflight_.clear();
  inflight_bytes_ = 0;
}

void Progress::become_snapshot(Index snapshot_index) {
  state_ = ProgressState::kSnapshot;
  pending_snapshot_ = snapshot_index;
  snapshot_ticks_ = 0;
  inflight_.clear();
  inflight_bytes_ = 0;
}

bool Progress::snapshot_timed_out(int timeout_ticks) {
  if (state_ != ProgressState::kSnapshot) return false;
  return ++snapshot_ticks_ >= timeout_ticks;
}

bool Progress::replication_stalled(bool behind, int limit) {
  if (state_ != ProgressState::kReplicate || !behind) {
    stalled_ticks_ = 0;
    return false;
  }
  return ++stalled_ticks_ >= limit;
}

void Progress::free_inflight_through(Index n) {
  while (!inflight_.empty() && inflight_.front().last <= n) {
    inflight_bytes_ -= inflight_.front().bytes;
    inflight_.pop_front();
  }
}

}  // namespace conclave::raft
