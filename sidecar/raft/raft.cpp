// The Raft core's entry points: construction from recovered state, logical
// time, message dispatch, and the Ready batch the host drains.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "sidecar/raft/planted_bugs.h"
#include "sidecar/raft/raft_impl.h"

namespace conclave::raft {

namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void check(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("raft: ") + what);
}

}  // namespace

Restored bootstrap(const std::set<NodeId>& voters) {
  std::map<NodeId, std::string> founders;
  for (NodeId id : voters) founders[id];
  return bootstrap(founders);
}

Restored bootstrap(const std::map<NodeId, std::string>& voters_with_addresses) {
  Configuration config;
  for (const auto& [id, address] : voters_with_addresses) {
    config.voters.insert(id);
    if (!address.empty()) config.addresses[id] = address;
  }
  check(!config.voters.empty() && !config.voters.count(kNoNode),
        "bootstrap needs at least one voter, none of them 0");
  ConfigChange founding = ConfigChange::founding(config);
  Restored r;
  r.hard_state = HardState{Term(1), kNoNode, Index(1)};
  r.entries.push_back(Entry{Index(1), Term(1), EntryType::kConfig, encode_config_change(founding)});
  return r;
}

Random::Random(std::uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

std::uint64_t Random::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

int Random::between(int lo, int hi) {
  if (hi <= lo) return lo;
  return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo));
}

Raft::Impl::Impl(const Options& options, const Restored& restored)
    : opts_(options),
      random_(options.random_seed ^ (options.id.value() * 0x9e3779b97f4a7c15ULL)),
      log_(restored.snapshot, restored.entries),
      term_(restored.hard_state.term),
      vote_(restored.hard_state.vote),
      commit_(std::max(restored.hard_state.commit, restored.snapshot.index)),
      applied_(std::max(restored.applied, restored.snapshot.index)),
      last_hard_state_(restored.hard_state),
      durable_hard_state_(restored.hard_state) {
  check(opts_.id != kNoNode, "node id 0 is reserved");
  check(opts_.election_ticks > opts_.heartbeat_ticks && opts_.heartbeat_ticks > 0,
        "election_ticks must exceed heartbeat_ticks, which must be positive");
  check(restored.snapshot.term <= restored.hard_state.term || restored.snapshot.index == Index(0),
        "snapshot term is ahead of the stored term");
  check(commit_ <= log_.last_index(), "stored commit index is beyond the last log entry");
  check(applied_ <= commit_, "applied index is beyond the commit index");
  // A configuration outside the log (a snapshot at index 0) would never
  // reach a node that joins later; founders start from bootstrap().
  check(restored.snapshot.index != Index(0) || restored.snapshot.config == Configuration{},
        "a configuration at index 0 cannot be replicated: start founders from raft::bootstrap()");
  if (restored.snapshot.index > Index(0)) latest_snapshot_ = restored.snapshot;
  last_hard_state_.commit = commit_;
  reset_election_timer();
}

void Raft::Impl::tick() {
  if (role_ == Role::kLeader) {
    ++heartbeat_elapsed_;
    ++election_elapsed_;
    if (election_elapsed_ >= opts_.election_ticks) {
      election_elapsed_ = 0;
      if (transfer_target_ != kNoNode) transfer_target_ = kNoNode;  // the transfer took too long
      if (opts_.check_quorum) {
        std::size_t active = 0;
        for (NodeId v : log_.config().voters) {
          if (v == opts_.id) {
            ++active;
          } else if (Progress* pr = progress_of(v); pr && pr->recently_active) {
            ++active;
          }
        }
        for (auto& [id, pr] : progress_) pr.recently_active = false;
        if (active < log_.config().quorum()) {
          become_follower(term_, kNoNode);
          return;
        }
      }
    }
    for (auto& [id, pr] : progress_) {
      // A snapshot or appends that were lost in the network: start over
      // from what the follower is known to hold.
      const bool behind = pr.match() < log_.last_index();
      if (pr.snapshot_timed_out(opts_.snapshot_timeout_ticks) ||
          pr.replication_stalled(behind, opts_.election_ticks)) {
        pr.become_probe();
        send_append(id, true);
      }
    }
    if (heartbeat_elapsed_ >= opts_.heartbeat_ticks) {
      heartbeat_elapsed_ = 0;
      broadcast_heartbeat();
    }
    return;
  }
  ++election_elapsed_;
  if (election_elapsed_ >= randomized_election_ticks_) {
    election_elapsed_ = 0;
    if (can_campaign()) {
      start_campaign();
    } else {
      // A node that may not campaign still votes: a learner may have been
      // promoted without having heard of it, and the voters may need it.
      // Holding on to a leader it no longer hears would keep it "in lease"
      // (the timer restarts without a campaign), dropping every vote request
      // as a disruptive node's, and an election needing it never ends (seed
      // 33282: voters 1, 2, 3 and 8, node 3 holding its own removal, node 8
      // not yet knowing its promotion).
      leader_ = kNoNode;
    }
  }
}

void Raft::Impl::step(const Message& m) {
  if (m.to != opts_.id || m.from == kNoNode || m.from == opts_.id) return;

  if (m.term > term_) {
    const bool vote_request = m.type == MessageType::kPreVote || m.type == MessageType::kVote;
    if (vote_request && !m.transfer && in_lease()) {
      // We hear from a live leader: a node asking for votes is partitioned
      // or removed, and must not disturb the cluster (dissertation §4.2.3).
      return;
    }
    if (m.type == MessageType::kPreVote) {
      // A pre-vote carries a term in the candidate's future; answering it
      // changes nothing here.
    } else if (m.type == MessageType::kPreVoteResponse && !m.reject) {
      // A granted pre-vote echoes the future term; our term moves only when
      // we win and start the real election.
    } else {
      const bool from_leader = m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
                               m.type == MessageType::kInstallSnapshot;
      become_follower(m.term, from_leader ? m.from : kNoNode);
    }
  } else if (m.term < term_) {
    if (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat) {
      // A stale leader (maybe back from a partition, which pre-vote keeps
      // from raising our term) learns the current term from this answer.
      Message r = make_message(MessageType::kAppendResponse, m.from, term_);
      r.reject = true;
      r.prev_index = Index(0);
      send(std::move(r));
    } else if (m.type == MessageType::kPreVote) {
      Message r = make_message(MessageType::kPreVoteResponse, m.from, term_);
      r.reject = true;
      send(std::move(r));
    } else if (m.type == MessageType::kReadIndex) {
      Message r = make_message(MessageType::kReadIndexResponse, m.from, term_);
      r.context = m.context;
      r.reject = true;
      send(std::move(r));
    }
    return;
  }

  switch (m.type) {
    case MessageType::kPreVote:
    case MessageType::kVote:
      handle_vote_request(m);
      break;
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse:
      handle_vote_response(m);
      break;
    case MessageType::kAppend:
      if (role_ == Role::kLeader) return;  // two leaders in one term: impossible unless a bug is planted
      if (role_ != Role::kFollower) become_follower(term_, m.from);
      handle_append(m);
      break;
    case MessageType::kHeartbeat:
      if (role_ == Role::kLeader) return;
      if (role_ != Role::kFollower) become_follower(term_, m.from);
      handle_heartbeat(m);
      break;
    case MessageType::kInstallSnapshot:
      if (role_ == Role::kLeader) return;
      if (role_ != Role::kFollower) become_follower(term_, m.from);
      handle_install_snapshot(m);
      break;
    case MessageType::kAppendResponse:
      if (role_ == Role::kLeader) handle_append_response(m);
      break;
    case MessageType::kHeartbeatResponse:
      if (role_ == Role::kLeader) handle_heartbeat_response(m);
      break;
    case MessageType::kTimeoutNow:
      if (role_ != Role::kLeader && can_campaign()) campaign(Campaign::kTransfer);
      break;
    case MessageType::kReadIndex:
      handle_read_index(m);
      break;
    case MessageType::kReadIndexResponse:
      handle_read_index_response(m);
      break;
  }
}

HardState Raft::Impl::hard_state() const {
  HardState hs{term_, vote_, commit_};
  if constexpr (planted::kVoteBeforePersist) {
    // The planted bug: a vote for another node is never made durable.
    if (hs.vote != opts_.id) hs.vote = kNoNode;
  }
  return hs;
}

void Raft::Impl::flush_pending_sends() {
  if (role_ != Role::kLeader) {
    append_pending_ = read_round_pending_ = false;
    return;
  }
  if (append_pending_) {
    append_pending_ = false;
    broadcast_append();
  }
  if (read_round_pending_) {
    read_round_pending_ = false;
    ++read_round_;
    broadcast_heartbeat();
  }
}

bool Raft::Impl::has_ready() const {
  HardState hs = hard_state();
  return append_pending_ || read_round_pending_ || !messages_.empty() || hs != last_hard_state_ || log_.unstable_from() <= log_.last_index() ||
         commit_ > applied_ || !reads_.empty() || !failed_reads_.empty() || snapshot_to_install_;
}

namespace {

// What a leader may send before the Ready it belongs to is durable: nothing
// that acknowledges state (raft.h, leader_may_send_first).
bool may_leave_before_persisting(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kInstallSnapshot:
    case MessageType::kTimeoutNow:
    case MessageType::kReadIndexResponse:
      return true;
    default:
      return false;
  }
}

}  // namespace

Ready Raft::Impl::ready() {
  if (ready_outstanding_) throw std::logic_error("raft: ready() called again before advance()");
  ready_outstanding_ = true;
  flush_pending_sends();
  Ready rd;
  HardState hs = hard_state();
  const bool term_or_vote_changed = hs.term != last_hard_state_.term || hs.vote != last_hard_state_.vote;
  if (hs != last_hard_state_) {
    rd.must_sync = hs.term != last_hard_state_.term || hs.vote != last_hard_state_.vote;
    rd.hard_state = hs;
    last_hard_state_ = hs;
  }
  if (snapshot_to_install_) {
    rd.snapshot = std::move(snapshot_to_install_);
    snapshot_to_install_.reset();
    rd.must_sync = true;
  }
  rd.entries = log_.take_unstable();
  if (!rd.entries.empty()) rd.must_sync = true;
  rd.messages = std::move(messages_);
  messages_.clear();
  // Committed entries that exist in the log (a snapshot may have moved
  // applied_ past them).
  for (Index i = std::max(applied_.next(), log_.first_index()); i <= commit_; i = i.next()) {
    rd.committed.push_back(log_.at(i));
  }
  applied_ = std::max(applied_, commit_);
  rd.reads = std::move(reads_);
  reads_.clear();
  rd.failed_reads = std::move(failed_reads_);
  failed_reads_.clear();
  rd.leader_may_send_first = role_ == Role::kLeader && !term_or_vote_changed && !rd.snapshot &&
                             std::all_of(rd.messages.begin(), rd.messages.end(), may_leave_before_persisting);
  outstanding_may_send_first_ = rd.leader_may_send_first;
  return rd;
}

std::vector<Message> Raft::Impl::take_early_messages() {
  // Only after a Ready whose own messages could leave first: what is taken
  // here then follows them rather than overtaking them.
  if (!ready_outstanding_ || !outstanding_may_send_first_ || role_ != Role::kLeader) return {};
  // The term and vote this leader runs on must already be on disk: a lone
  // voter elects itself at once, and must not speak for a term its crash
  // could take back.
  const HardState hs = hard_state();
  if (hs.term != durable_hard_state_.term || hs.vote != durable_hard_state_.vote) return {};
  flush_pending_sends();
  if (!std::all_of(messages_.begin(), messages_.end(), may_leave_before_persisting)) return {};
  std::vector<Message> out = std::move(messages_);
  messages_.clear();
  return out;
}

void Raft::Impl::advance(const Ready& rd) {
  if (!ready_outstanding_) throw std::logic_error("raft: advance() without ready()");
  ready_outstanding_ = false;
  if (rd.hard_state) durable_hard_state_ = *rd.hard_state;
  if (rd.snapshot && log_.base().index == rd.snapshot->index) log_.mark_base_persisted();
  log_.mark_persisted(rd.entries);
  if (role_ == Role::kLeader) {
    // The leader's own log counts toward a commit only once durable.
    Index old = commit_;
    if (maybe_commit()) on_leader_commit_advanced(old);
  }
}

NodeStatus Raft::Impl::status() const {
  NodeStatus s;
  s.id = opts_.id;
  s.role = role_;
  s.term = term_;
  s.leader = leader_;
  s.commit = commit_;
  s.applied = applied_;
  s.last_index = log_.last_index();
  s.snapshot_index = log_.base().index;
  s.config = log_.config();
  if (role_ == Role::kLeader) {
    for (const auto& [id, pr] : progress_) {
      s.peers.push_back(PeerStatus{id, log_.config().is_voter(id), pr.match(), pr.next(), pr.state(),
                                   pr.recently_active});
    }
  }
  return s;
}

std::optional<SnapshotMeta> Raft::Impl::snapshot_meta_at(Index index) const {
  auto term = log_.term_at(index);
  if (!term || index > applied_) return std::nullopt;
  return SnapshotMeta{index, *term, log_.config_at(index)};
}

void Raft::Impl::snapshot_taken(const SnapshotMeta& meta) {
  if (!latest_snapshot_ || latest_snapshot_->index < meta.index) latest_snapshot_ = meta;
}

void Raft::Impl::compact(Index index) {
  if (!latest_snapshot_ || index > latest_snapshot_->index) {
    throw std::invalid_argument("raft: compact(" + std::to_string(index.value()) +
                                ") beyond the newest snapshot taken");
  }
  if (index > log_.persisted_index() || index > applied_) {
    throw std::invalid_argument("raft: compact(" + std::to_string(index.value()) +
                                ") beyond what is persisted and applied");
  }
  log_.compact(index);
}

// The public face: thin forwarding to Impl.

Raft::Raft(const Options& options, const Restored& restored)
    : impl_(std::make_unique<Impl>(options, restored)) {}
Raft::~Raft() = default;

void Raft::tick() { impl_->tick(); }
void Raft::step(const Message& message) { impl_->step(message); }
Proposal Raft::propose(std::string data) { return impl_->propose(std::move(data)); }
Proposal Raft::propose_config_change(const ConfigChange& change) {
  return impl_->propose_config_change(change);
}
Status Raft::transfer_leadership(NodeId target) { return impl_->transfer_leadership(target); }
Status Raft::read_index(std::uint64_t context) { return impl_->read_index(context); }
void Raft::campaign() {
  if (impl_->role_ != Role::kLeader && impl_->can_campaign()) impl_->start_campaign();
}
void Raft::snapshot_taken(const SnapshotMeta& meta) { impl_->snapshot_taken(meta); }
void Raft::compact(Index index) { impl_->compact(index); }
std::optional<SnapshotMeta> Raft::snapshot_meta_at(Index index) const { return impl_->snapshot_meta_at(index); }
bool Raft::has_ready() const { return impl_->has_ready(); }
Ready Raft::ready() { return impl_->ready(); }
void Raft::advance(const Ready& ready) { impl_->advance(ready); }
std::vector<Message> Raft::take_early_messages() { return impl_->take_early_messages(); }
NodeStatus Raft::status() const { return impl_->status(); }
Role Raft::role() const { return impl_->role_; }
Term Raft::term() const { return impl_->term_; }
NodeId Raft::leader() const { return impl_->leader_; }
NodeId Raft::id() const { return impl_->opts_.id; }
Index Raft::commit_index() const { return impl_->commit_; }
Index Raft::last_index() const { return impl_->log_.last_index(); }
const Configuration& Raft::config() const { return impl_->log_.config(); }

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "unknown";
}

std::string_view to_string(Status status) {
  switch (status) {
    case Status::kOk: return "ok";
    case Status::kNotLeader: return "not the leader";
    case Status::kTransferInProgress: return "leadership transfer in progress";
    case Status::kConfigChangePending: return "a membership change is already in progress";
    case Status::kLeaderNotReady: return "the new leader has not committed an entry of its term yet";
    case Status::kInvalidConfigChange: return "invalid membership change";
    case Status::kLearnerNotCaughtUp: return "the learner has not caught up with the leader's log";
    case Status::kUnknownNode: return "no such member";
  }
  return "unknown";
}

std::string_view to_string(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe: return "probe";
    case ProgressState::kReplicate: return "replicate";
    case ProgressState::kSnapshot: return "snapshot";
  }
  return "unknown";
}

}  // namespace conclave::raft
