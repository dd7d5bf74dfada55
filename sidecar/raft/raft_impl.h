// The Raft core's private state. Its methods are spread over files by
// concern: raft.cpp (construction, ticks, the Ready batch), election.cpp,
// replication.cpp (appends, snapshots, commit), leader.cpp (proposals,
// membership, transfer, ReadIndex).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "sidecar/raft/progress.h"
#include "sidecar/raft/raft.h"
#include "sidecar/raft/raft_log.h"

namespace conclave::raft {

// xoshiro256** seeded by splitmix64: small, fast, and the same on every
// platform, so a seed replays a run exactly.
class Random {
 public:
  explicit Random(std::uint64_t seed);
  std::uint64_t next();
  // Uniform in [lo, hi).
  int between(int lo, int hi);

 private:
  std::uint64_t s_[4];
};

class Raft::Impl {
 public:
  Impl(const Options& options, const Restored& restored);

  // raft.cpp
  void tick();
  // Sends what proposals and reads made since the last Ready owe followers.
  void flush_pending_sends();
  void step(const Message& m);
  HardState hard_state() const;
  bool has_ready() const;
  Ready ready();
  void advance(const Ready& ready);
  std::vector<Message> take_early_messages();
  NodeStatus status() const;
  std::optional<SnapshotMeta> snapshot_meta_at(Index index) const;
  void snapshot_taken(const SnapshotMeta& meta);
  void compact(Index index);

  // election.cpp
  enum class Campaign { kPreVote, kElection, kTransfer };
  void campaign(Campaign kind);
  // A pre-vote if enabled, else a real election.
  void start_campaign() { campaign(opts_.pre_vote ? Campaign::kPreVote : Campaign::kElection); }
  void become_follower(Term term, NodeId leader);
  void become_leader();
  void handle_vote_request(const Message& m);
  void handle_vote_response(const Message& m);
  bool in_lease() const;
  bool can_campaign() const;
  void reset_election_timer();

  // replication.cpp
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_install_snapshot(const Message& m);
  void handle_append_response(const Message& m);
  void handle_heartbeat_response(const Message& m);
  bool send_append(NodeId to, bool allow_empty);
  void send_snapshot(NodeId to, Progress& pr);
  void broadcast_append();
  void broadcast_heartbeat();
  bool maybe_commit();
  void commit_to(Index index);
  void on_leader_commit_advanced(Index old_commit);

  // leader.cpp
  Proposal propose(std::string data);
  Proposal propose_config_change(const ConfigChange& change);
  Status transfer_leadership(NodeId target);
  Status read_index(std::uint64_t context);
  void handle_read_index(const Message& m);
  void handle_read_index_response(const Message& m);
  struct PendingRead;
  void enqueue_read(PendingRead read);
  void complete_read(const PendingRead& read);
  void release_reads();
  void fail_pending_reads();
  void fail_forwarded_reads();
  void sync_progress_with_config();
  void append_entry(EntryType type, std::string data);
  bool committed_in_current_term() const;
  void maybe_send_timeout_now(NodeId to);

  void send(Message m);
  Progress* progress_of(NodeId id);

  Options opts_;
  Random random_;
  RaftLog log_;

  Term term_;
  NodeId vote_;
  Role role_ = Role::kFollower;
  NodeId leader_;
  Index commit_;
  // Committed entries are handed out once: through applied_.
  Index applied_;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_ticks_ = 0;
  std::map<NodeId, bool> votes_;

  // Leader state.
  std::map<NodeId, Progress> progress_;
  Index pending_config_index_;
  NodeId transfer_target_;
  int transfer_elapsed_ = 0;
  struct PendingRead {
    std::uint64_t context = 0;
    NodeId from;  // kNoNode for this node's own reads
    Index index;
    std::uint64_t round = 0;
  };
  std::uint64_t read_round_ = 0;
  // Reads were queued for the next round; it starts with the next Ready.
  bool read_round_pending_ = false;
  // Entries were appended that followers have not been sent yet.
  bool append_pending_ = false;
  std::deque<PendingRead> pending_reads_;
  // Reads that arrived before the leader committed an entry of its term: the
  // commit index it knows may still be behind its predecessor's.
  std::deque<PendingRead> reads_awaiting_commit_;

  // Reads this follower forwarded to the leader and has not seen answered.
  // Each is released (or failed) once, however often the network delivers
  // the answer; all fail when the leader or term changes, since the answer
  // may never come.
  std::set<std::uint64_t> forwarded_reads_;

  // The newest snapshot the host holds, sent to followers behind the log.
  std::optional<SnapshotMeta> latest_snapshot_;

  // The Ready batch under construction.
  std::vector<Message> messages_;
  std::vector<ReadState> reads_;
  std::vector<std::uint64_t> failed_reads_;
  std::optional<SnapshotMeta> snapshot_to_install_;
  HardState last_hard_state_;
  // The hard state as of the last advance(): on disk, where last_hard_state_
  // may still be syncing.
  HardState durable_hard_state_;
  bool ready_outstanding_ = false;
  bool outstanding_may_send_first_ = false;  // that Ready's leader_may_send_first
};

}  // namespace conclave::raft
