// What a leader knows about one follower's log, and how much it may send it.
//
// Probe: the follower's position is unknown; one append at a time until an
// answer (or a heartbeat response) arrives. Replicate: appends are pipelined,
// next_index advancing optimistically, bounded by in-flight message and byte
// limits so a slow follower costs bounded memory. Snapshot: the follower is
// behind the compacted log; nothing is sent until the snapshot is
// acknowledged or its send times out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "sidecar/raft/raft.h"
#include "sidecar/raft/types.h"

namespace conclave::raft {

class Progress {
 public:
  Progress(Index next, std::size_t max_inflight_messages, std::size_t max_inflight_bytes);

  Index match() const { return match_; }
  Index next() const { return next_; }
  ProgressState state() const { return state_; }
  Index pending_snapshot() const { return pending_snapshot_; }

  bool paused() const;
  // An acknowledgement that the follower holds everything through n.
  // Returns true if that is news.
  bool acknowledge(Index n);
  // The follower rejected an append after `rejected`; move next back to
  // `next_guess`, never to or below match. Returns false for a stale rejection.
  bool reject(Index rejected, Index next_guess);
  // An append covering (next, last] with this many bytes was sent.
  void sent_append(Index last, std::size_t bytes);
  // A heartbeat response arrived: a probing leader may try again.
  void heard_from() { probe_sent_ = false; }

  void become_probe();
  void become_replicate();
  void become_snapshot(Index snapshot_index);
  // Counts ticks in snapshot state; true when the send should be retried.
  bool snapshot_timed_out(int timeout_ticks);
  // Counts ticks in replicate state while the follower is behind and no
  // acknowledgement arrives; true once that lasted `limit` ticks (the appends
  // in flight were probably lost).
  bool replication_stalled(bool behind, int limit);

  bool recently_active = false;
  // The newest read round (heartbeat context) this follower has answered.
  std::uint64_t read_round_acked = 0;

 private:
  void free_inflight_through(Index n);

  Index match_;
  Index next_;
  ProgressState state_ = ProgressState::kProbe;
  bool probe_sent_ = false;
  Index pending_snapshot_;
  int snapshot_ticks_ = 0;
  int stalled_ticks_ = 0;
  std::size_t max_inflight_messages_;
  std::size_t max_inflight_bytes_;
  struct Inflight {
    Index last;
    std::size_t bytes;
  };
  std::deque<Inflight> inflight_;
  std::size_t inflight_bytes_ = 0;
};

}  // namespace conclave::raft
