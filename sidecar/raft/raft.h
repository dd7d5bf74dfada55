// The Raft core: a deterministic state machine with no I/O, no clock, no
// threads and no global randomness.
//
// Why this shape. A consensus bug is almost always an interleaving nobody
// thought of: a message that arrives late, a crash between a write and its
// sync, a partition that heals at the wrong moment. To find those we need to
// run thousands of clusters with every interleaving chosen by a seed, and to
// replay any failure exactly. So the core never touches the world. The host
// (the daemon's node loop, or the simulator) feeds it inputs:
//
//   step(message)        a message from a peer
//   tick()               one unit of logical time (the host decides how long)
//   propose(data)        a new entry, on the leader
//   propose_config_change, transfer_leadership, read_index
//   snapshot_taken, compact
//
// and drains its outputs as one batch, `Ready`, in this order:
//
//   1. persist ready.snapshot (if any), then ready.entries (an entry at index
//      i replaces every stored entry >= i), then ready.hard_state; fsync if
//      ready.must_sync. Nothing below may happen before this is durable:
//      a vote or an append acknowledged before it is on disk is a lie that
//      can elect two leaders or lose a committed entry.
//   2. send ready.messages.
//   3. apply ready.committed in order; answer ready.reads once applied
//      through their index; fail ready.failed_reads.
//   4. call advance(ready).
//
// One exception (dissertation §10.2.1): when ready.leader_may_send_first is
// set, the host may send ready.messages before or while it persists, so the
// leader's disk write overlaps its followers' round trip. The core sets it
// only for a leader whose Ready changes no term or vote, installs no
// snapshot, and sends nothing that acknowledges state (only appends,
// heartbeats, snapshots, TimeoutNow and ReadIndex answers). Its own new
// entries still count toward a commit only after advance() says they are
// durable, so a commit always means a durable majority.
//
// While a Ready is outstanding (its sync running), a leader's appends for
// entries proposed since would wait for the next Ready, and its followers
// with them. take_early_messages() hands them out at once, on the same
// terms as leader_may_send_first and only while the term and vote the node
// runs on are durable (advanced), so none of them speaks for a term a
// crash could take back.
//
// The host may call step/tick/propose between ready() and advance(), but may
// not call ready() again before advance(). Outputs are returned rather than
// delivered through callbacks (as ScyllaDB's fsm.hh argues) so the host
// controls when I/O happens and can batch many inputs into one fsync.
//
// Design choices, and why:
// - Pre-vote and check-quorum are on by default. Pre-vote keeps a node that
//   was partitioned away from bumping everyone's term when it returns.
//   Check-quorum makes a leader that cannot reach a majority step down, and
//   lets voters ignore vote requests while they hear from a live leader, so a
//   removed or partitioned server cannot disrupt a healthy cluster.
// - Membership changes one server at a time, with learners. A new node joins
//   as a learner, receives the log (or a snapshot) without voting, and is
//   promoted only once caught up, so adding a node never leaves the cluster
//   waiting on an empty log. Single-server changes need no joint quorum
//   arithmetic; their known flaw (Ongaro, raft-dev 2015) is closed by the two
//   rules the leader enforces here: it proposes a change only after it has
//   committed an entry of its own term, and only one change is uncommitted at
//   a time. A configuration takes effect as soon as its entry is in a
//   server's log (dissertation §4.1) and is rolled back if that entry is
//   truncated.
// - Snapshots are the application's. The host tells the core about a durable
//   snapshot (snapshot_taken) and when to drop the log prefix it covers
//   (compact). A follower behind the compacted prefix gets kInstallSnapshot;
//   the transport moves the bytes in chunks and steps the receiver's core only
//   once they are durable, so the core never holds snapshot data.
// - Reads use ReadIndex: the leader notes its commit index, confirms it is
//   still leader with a round of heartbeats acknowledged by a majority, then
//   releases the read. No lease reads: they trust clocks.
// - Proposals on a follower are refused with kNotLeader and a leader hint; the
//   node layer forwards them, so the core never queues work for a leader it
//   cannot see.
// - Randomness (election timeouts) comes from a generator seeded by the host.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/raft/message.h"
#include "sidecar/raft/types.h"

namespace conclave::raft {

struct Options {
  NodeId id;
  // Election timeout is drawn uniformly from [election_ticks, 2*election_ticks).
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  // Flow control per follower: an AppendEntries carries at most
  // max_entries_per_message entries and about max_bytes_per_message bytes
  // (always at least one entry); at most max_inflight_messages appends and
  // max_inflight_bytes bytes are unacknowledged at once.
  std::size_t max_entries_per_message = 4096;
  std::size_t max_bytes_per_message = 1 << 20;
  std::size_t max_inflight_messages = 16;
  std::size_t max_inflight_bytes = 16 << 20;
  // A learner is promoted only when its log is within this many entries of
  // the leader's last index.
  std::uint64_t promote_lag_max = 64;
  // A snapshot send that is not acknowledged within this many ticks is
  // retried (the transport may have lost it).
  int snapshot_timeout_ticks = 50;
  // Seeds the generator for election timeouts.
  std::uint64_t random_seed = 1;
};

// What the host recovered from disk. A founding member of a new cluster
// starts from bootstrap(founders); a node that will join an existing cluster
// starts from Restored{} (an empty log, no configuration) and waits for the
// leader to contact it.
struct Restored {
  HardState hard_state;
  SnapshotMeta snapshot;
  // Entries after snapshot.index, contiguous.
  std::vector<Entry> entries;
  // The index through which the host's state machine has already applied;
  // committed entries after it are handed out again. At least snapshot.index.
  Index applied;
};

// The initial state of every founding member of a new cluster: a log whose
// first entry (term 1, committed) holds the founding configuration. The
// configuration lives in the log rather than in a snapshot so that a node
// that joins later learns it by replication like any other entry. Every
// founder must be given the same voters; the host persists this state before
// constructing the core, exactly as if it had been recovered.
Restored bootstrap(const std::set<NodeId>& voters);
// The same, with each founder's peer address recorded in the configuration.
Restored bootstrap(const std::map<NodeId, std::string>& voters_with_addresses);

enum class Role : std::uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
std::string_view to_string(Role role);

enum class Status : std::uint8_t {
  kOk,
  kNotLeader,             // leader_hint names the leader if one is known
  kTransferInProgress,    // the leader is handing off; retry on the new one
  kConfigChangePending,   // one membership change at a time
  kLeaderNotReady,        // the leader has not committed an entry of its term yet
  kInvalidConfigChange,   // adding a member, removing a stranger, ...
  kLearnerNotCaughtUp,    // promote later
  kUnknownNode,
};
std::string_view to_string(Status status);

// The answer to a proposal. A proposal is committed when the committed entry
// at `index` has `term`; if another term's entry commits there, it was lost
// to a leader change and the client may retry.
struct Proposal {
  Status status = Status::kOk;
  Index index;
  Term term;
  NodeId leader_hint;
  bool ok() const { return status == Status::kOk; }
};

// A read that is now safe: once the state machine has applied through
// `index`, a local read answers as of a moment after read_index() was called.
struct ReadState {
  std::uint64_t context = 0;
  Index index;
};

struct Ready {
  std::optional<HardState> hard_state;
  std::optional<SnapshotMeta> snapshot;
  std::vector<Entry> entries;
  bool must_sync = false;
  std::vector<Message> messages;
  std::vector<Entry> committed;
  std::vector<ReadState> reads;
  std::vector<std::uint64_t> failed_reads;
  // Step 2 may come before step 1: see the exception above.
  bool leader_may_send_first = false;
};

enum class ProgressState : std::uint8_t {
  kProbe,      // one append at a time until the follower's log position is known
  kReplicate,  // pipelined appends up to the in-flight bounds
  kSnapshot,   // waiting for an InstallSnapshot to be acknowledged
};
std::string_view to_string(ProgressState state);

struct PeerStatus {
  NodeId id;
  bool voter = false;
  Index match;
  Index next;
  ProgressState state = ProgressState::kProbe;
  bool recently_active = false;
};

struct NodeStatus {
  NodeId id;
  Role role = Role::kFollower;
  Term term;
  NodeId leader;
  Index commit;
  Index applied;
  Index last_index;
  Index snapshot_index;
  Configuration config;
  std::vector<PeerStatus> peers;  // filled on the leader only
};

class Raft {
 public:
  Raft(const Options& options, const Restored& restored);
  ~Raft();
  Raft(const Raft&) = delete;
  Raft& operator=(const Raft&) = delete;

  void tick();
  void step(const Message& message);

  Proposal propose(std::string data);
  Proposal propose_config_change(const ConfigChange& change);
  Status transfer_leadership(NodeId target);
  // The answer arrives as a ReadState (or a failed read) with this context.
  Status read_index(std::uint64_t context);
  // Start an election now (tests, and operators forcing a campaign).
  void campaign();

  // The host holds a durable snapshot covering every entry through
  // meta.index; the leader may send it to followers behind the log.
  void snapshot_taken(const SnapshotMeta& meta);
  // Drop log entries through `index`, which a taken snapshot covers.
  void compact(Index index);
  // What a snapshot of the applied state at `index` must record: index, term
  // and the configuration as of that index. Nothing unless snapshot <= index
  // <= applied: a host whose sync is outstanding may step an InstallSnapshot
  // that replaces the log below an index it has already applied, so a host
  // must be ready to skip its own snapshot then.
  std::optional<SnapshotMeta> snapshot_meta_at(Index index) const;

  bool has_ready() const;
  Ready ready();
  void advance(const Ready& ready);
  // Between ready() and advance(): the messages a leader may send before
  // that Ready is durable (see above); empty when there are none or when
  // any queued message must wait for the Ready.
  std::vector<Message> take_early_messages();

  NodeStatus status() const;
  Role role() const;
  Term term() const;
  NodeId leader() const;
  NodeId id() const;
  Index commit_index() const;
  Index last_index() const;
  const Configuration& config() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace conclave::raft
