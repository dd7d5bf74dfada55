// What only a leader does: accept proposals and membership changes, hand off
// leadership, and confirm ReadIndex reads.
#include "sidecar/raft/raft_impl.h"

namespace conclave::raft {

void Raft::Impl::send(Message m) {
  m.from = opts_.id;
  messages_.push_back(std::move(m));
}

Progress* Raft::Impl::progress_of(NodeId id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

bool Raft::Impl::committed_in_current_term() const {
  return log_.term_at(commit_) == term_;
}

void Raft::Impl::append_entry(EntryType type, std::string data) {
  log_.append(Entry{log_.last_index().next(), term_, type, std::move(data)});
  if (type == EntryType::kConfig) {
    pending_config_index_ = log_.last_index();
    sync_progress_with_config();
  }
  // Sent with the next Ready, so that proposals made together travel together.
  append_pending_ = true;
}

void Raft::Impl::sync_progress_with_config() {
  const Configuration& config = log_.config();
  // A node being removed keeps receiving the log until its removal commits,
  // so that it learns it was removed (and stops) rather than wait forever.
  const Configuration committed = log_.config_at(commit_);
  for (auto it = progress_.begin(); it != progress_.end();) {
    const bool keep = config.contains(it->first) || committed.contains(it->first);
    it = keep ? std::next(it) : progress_.erase(it);
  }
  auto add = [&](NodeId id) {
    if (id == opts_.id || progress_.count(id)) return;
    Progress pr(log_.last_index().next(), opts_.max_inflight_messages, opts_.max_inflight_bytes);
    pr.recently_active = true;  // give a new member one election timeout to answer
    progress_.emplace(id, std::move(pr));
  };
  for (NodeId id : config.voters) add(id);
  for (NodeId id : config.learners) add(id);
}

Proposal Raft::Impl::propose(std::string data) {
  if (role_ != Role::kLeader) return Proposal{Status::kNotLeader, {}, {}, leader_};
  if (transfer_target_ != kNoNode) return Proposal{Status::kTransferInProgress, {}, {}, transfer_target_};
  append_entry(EntryType::kNormal, std::move(data));
  return Proposal{Status::kOk, log_.last_index(), term_, opts_.id};
}

Proposal Raft::Impl::propose_config_change(const ConfigChange& change) {
  if (role_ != Role::kLeader) return Proposal{Status::kNotLeader, {}, {}, leader_};
  if (transfer_target_ != kNoNode) return Proposal{Status::kTransferInProgress, {}, {}, transfer_target_};
  // The two rules that make one-server-at-a-time changes safe: commit an
  // entry of our own term first, and never two changes in flight.
  if (!committed_in_current_term()) return Proposal{Status::kLeaderNotReady, {}, {}, opts_.id};
  if (pending_config_index_ > commit_) return Proposal{Status::kConfigChangePending, {}, {}, opts_.id};
  const Configuration& config = log_.config();
  Status invalid = Status::kOk;
  switch (change.type) {
    case ConfigChangeType::kAddLearner:
      if (change.node == kNoNode || config.contains(change.node)) invalid = Status::kInvalidConfigChange;
      break;
    case ConfigChangeType::kPromote:
      if (!config.is_learner(change.node)) {
        invalid = config.is_voter(change.node) ? Status::kInvalidConfigChange : Status::kUnknownNode;
      } else if (Progress* pr = progress_of(change.node);
                 !pr || pr->match().value() + opts_.promote_lag_max < log_.last_index().value()) {
        invalid = Status::kLearnerNotCaughtUp;
      }
      break;
    case ConfigChangeType::kRemove:
      if (!config.contains(change.node)) {
        invalid = Status::kUnknownNode;
      } else if (config.is_voter(change.node) && config.voters.size() == 1) {
        invalid = Status::kInvalidConfigChange;  // a cluster needs a voter
      }
      break;
    case ConfigChangeType::kBootstrap:
      invalid = Status::kInvalidConfigChange;  // only ever the first entry of a new log
      break;
  }
  if (invalid != Status::kOk) return Proposal{invalid, {}, {}, opts_.id};
  append_entry(EntryType::kConfig, encode_config_change(change));
  return Proposal{Status::kOk, log_.last_index(), term_, opts_.id};
}

Status Raft::Impl::transfer_leadership(NodeId target) {
  if (role_ != Role::kLeader) return Status::kNotLeader;
  if (target == opts_.id) return Status::kOk;
  if (!log_.config().is_voter(target)) return Status::kUnknownNode;
  transfer_target_ = target;
  // The transfer is abandoned if it has not happened within an election timeout.
  election_elapsed_ = 0;
  Progress* pr = progress_of(target);
  if (pr && pr->match() == log_.last_index()) {
    maybe_send_timeout_now(target);
  } else {
    send_append(target, true);
  }
  return Status::kOk;
}

void Raft::Impl::maybe_send_timeout_now(NodeId to) {
  Progress* pr = progress_of(to);
  if (transfer_target_ != to || !pr || pr->match() != log_.last_index()) return;
  send(make_message(MessageType::kTimeoutNow, to, term_));
}

Status Raft::Impl::read_index(std::uint64_t context) {
  if (role_ == Role::kLeader) {
    enqueue_read(PendingRead{context, kNoNode, {}, 0});
    return Status::kOk;
  }
  if (role_ != Role::kFollower || leader_ == kNoNode) return Status::kNotLeader;
  forwarded_reads_.insert(context);
  Message m = make_message(MessageType::kReadIndex, leader_, term_);
  m.context = context;
  send(std::move(m));
  return Status::kOk;
}

void Raft::Impl::handle_read_index(const Message& m) {
  if (role_ != Role::kLeader) {
    Message r = make_message(MessageType::kReadIndexResponse, m.from, term_);
    r.context = m.context;
    r.reject = true;
    send(std::move(r));
    return;
  }
  enqueue_read(PendingRead{m.context, m.from, {}, 0});
}

void Raft::Impl::handle_read_index_response(const Message& m) {
  if (forwarded_reads_.erase(m.context) == 0) return;  // a duplicate, or already failed
  if (m.reject) {
    failed_reads_.push_back(m.context);
  } else {
    reads_.push_back(ReadState{m.context, m.read_index});
  }
}

void Raft::Impl::enqueue_read(PendingRead read) {
  if (!committed_in_current_term()) {
    // Our commit index may still lag our predecessor's; wait for the no-op.
    reads_awaiting_commit_.push_back(read);
    return;
  }
  read.index = commit_;
  if (log_.config().voters.size() == 1 && log_.config().is_voter(opts_.id)) {
    complete_read(read);
    return;
  }
  // Reads made together share one heartbeat round, started with the next Ready.
  read.round = read_round_ + 1;
  read_round_pending_ = true;
  pending_reads_.push_back(read);
}

void Raft::Impl::complete_read(const PendingRead& read) {
  if (read.from == kNoNode) {
    reads_.push_back(ReadState{read.context, read.index});
    return;
  }
  Message r = make_message(MessageType::kReadIndexResponse, read.from, term_);
  r.context = read.context;
  r.read_index = read.index;
  send(std::move(r));
}

void Raft::Impl::release_reads() {
  if (role_ != Role::kLeader) return;
  if (committed_in_current_term() && !reads_awaiting_commit_.empty()) {
    auto waiting = std::move(reads_awaiting_commit_);
    reads_awaiting_commit_.clear();
    for (const PendingRead& r : waiting) enqueue_read(r);
  }
  const Configuration& config = log_.config();
  while (!pending_reads_.empty()) {
    const PendingRead& r = pending_reads_.front();
    std::size_t acks = 0;
    for (NodeId v : config.voters) {
      if (v == opts_.id) {
        ++acks;
      } else if (Progress* pr = progress_of(v); pr && pr->read_round_acked >= r.round) {
        ++acks;
      }
    }
    if (acks < config.quorum()) break;  // rounds only grow along the queue
    complete_read(r);
    pending_reads_.pop_front();
  }
}

void Raft::Impl::fail_forwarded_reads() {
  for (std::uint64_t context : forwarded_reads_) failed_reads_.push_back(context);
  forwarded_reads_.clear();
}

void Raft::Impl::fail_pending_reads() {
  auto fail = [&](const PendingRead& r) {
    if (r.from == kNoNode) {
      failed_reads_.push_back(r.context);
    } else {
      Message m = make_message(MessageType::kReadIndexResponse, r.from, term_);
      m.context = r.context;
      m.reject = true;
      send(std::move(m));
    }
  };
  for (const PendingRead& r : pending_reads_) fail(r);
  for (const PendingRead& r : reads_awaiting_commit_) fail(r);
  pending_reads_.clear();
  reads_awaiting_commit_.clear();
  read_round_pending_ = false;
}

}  // namespace conclave::raft
