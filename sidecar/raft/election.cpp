// Elections: pre-vote, vote, and the role transitions around them.
#include "sidecar/raft/planted_bugs.h"
#include "sidecar/raft/raft_impl.h"

namespace conclave::raft {

bool Raft::Impl::can_campaign() const {
  // Only voters campaign; learners and removed servers wait to be told.
  return log_.config().is_voter(opts_.id) && !snapshot_to_install_;
}

bool Raft::Impl::in_lease() const {
  return opts_.check_quorum && leader_ != kNoNode && election_elapsed_ < opts_.election_ticks;
}

void Raft::Impl::reset_election_timer() {
  election_elapsed_ = 0;
  randomized_election_ticks_ = random_.between(opts_.election_ticks, 2 * opts_.election_ticks);
}

void Raft::Impl::campaign(Campaign kind) {
  const bool pre = kind == Campaign::kPreVote;
  const bool transfer = kind == Campaign::kTransfer;
  votes_.clear();
  Term election_term;
  if (pre) {
    role_ = Role::kPreCandidate;
    leader_ = kNoNode;
    election_term = term_.next();
  } else {
    role_ = Role::kCandidate;
    term_ = term_.next();
    vote_ = opts_.id;
    leader_ = kNoNode;
    election_term = term_;
  }
  reset_election_timer();
  fail_pending_reads();
  fail_forwarded_reads();
  votes_[opts_.id] = true;
  if (votes_.size() >= log_.config().quorum()) {
    // A cluster of one wins at once.
    if (pre) {
      campaign(Campaign::kElection);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId voter : log_.config().voters) {
    if (voter == opts_.id) continue;
    Message m = make_message(pre ? MessageType::kPreVote : MessageType::kVote, voter, election_term);
    m.last_log_index = log_.last_index();
    m.last_log_term = log_.last_term();
    m.transfer = transfer;
    send(std::move(m));
  }
}

void Raft::Impl::become_follower(Term term, NodeId leader) {
  if (role_ == Role::kLeader) fail_pending_reads();
  if (term > term_ || leader != leader_) fail_forwarded_reads();
  if (term > term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  role_ = Role::kFollower;
  leader_ = leader;
  votes_.clear();
  progress_.clear();
  transfer_target_ = kNoNode;
  reset_election_timer();
}

void Raft::Impl::become_leader() {
  role_ = Role::kLeader;
  leader_ = opts_.id;
  votes_.clear();
  heartbeat_elapsed_ = 0;
  election_elapsed_ = 0;
  transfer_target_ = kNoNode;
  read_round_ = 0;
  progress_.clear();
  sync_progress_with_config();
  for (auto& [id, pr] : progress_) pr.recently_active = true;
  // Any configuration entry in the log may be uncommitted: no new change
  // until everything up to here commits.
  pending_config_index_ = log_.last_index();
  // The no-op commits the previous terms' entries (they may not be counted
  // by replicas alone) and lets ReadIndex know the true commit index.
  append_entry(EntryType::kNoop, {});
  broadcast_append();
}

void Raft::Impl::handle_vote_request(const Message& m) {
  const bool pre = m.type == MessageType::kPreVote;
  // We may vote for the node we already voted for, or for anyone if we have
  // neither voted nor seen a leader in this term; a pre-vote for a future
  // term is a hypothetical question we may always answer.
  const bool can_vote =
      vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) || (pre && m.term > term_);
  bool up_to_date = m.last_log_term > log_.last_term() ||
                    (m.last_log_term == log_.last_term() && m.last_log_index >= log_.last_index());
  if constexpr (planted::kVoteWithoutLogCheck) up_to_date = true;

  Message r = make_message(pre ? MessageType::kPreVoteResponse : MessageType::kVoteResponse, m.from, term_);
  if (can_vote && up_to_date) {
    r.term = m.term;
    if (!pre) {
      vote_ = m.from;
      election_elapsed_ = 0;
    }
  } else {
    r.term = term_;
    r.reject = true;
  }
  send(std::move(r));
}

void Raft::Impl::handle_vote_response(const Message& m) {
  const bool pre = m.type == MessageType::kPreVoteResponse;
  if ((pre && role_ != Role::kPreCandidate) || (!pre && role_ != Role::kCandidate)) return;
  if (!log_.config().is_voter(m.from)) return;
  votes_.emplace(m.from, !m.reject);
  std::size_t granted = 0;
  std::size_t rejected = 0;
  for (const auto& [id, yes] : votes_) (yes ? granted : rejected)++;
  const std::size_t quorum = log_.config().quorum();
  if (granted >= quorum) {
    if (pre) {
      campaign(Campaign::kElection);
    } else {
      become_leader();
    }
  } else if (log_.config().voters.size() - rejected < quorum) {
    become_follower(term_, kNoNode);
  }
}

}  // namespace conclave::raft
