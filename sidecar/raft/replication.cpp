// Log replication: appends and snapshots on the follower's side, progress
// tracking and the commit rule on the leader's.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "sidecar/raft/planted_bugs.h"
#include "sidecar/raft/raft_impl.h"

namespace conclave::raft {
namespace {

// An append whose entries are not contiguous after prev_index, or go back in
// term, is malformed; the transport should never deliver one, but the core
// does not trust it either.
bool well_formed(const Message& m) {
  Index expect = m.prev_index.next();
  Term last = m.prev_term;
  for (const Entry& e : m.entries) {
    if (e.index != expect || e.term < last || e.term > m.term) return false;
    expect = expect.next();
    last = e.term;
  }
  return true;
}

}  // namespace

void Raft::Impl::handle_append(const Message& m) {
  election_elapsed_ = 0;
  leader_ = m.from;
  if (!well_formed(m)) return;
  Message r = make_message(MessageType::kAppendResponse, m.from, term_);
  if (m.prev_index < commit_) {
    // Everything through our commit index agrees with any leader's log.
    r.match_index = commit_;
    send(std::move(r));
    return;
  }
  if (!log_.matches(m.prev_index, m.prev_term)) {
    r.reject = true;
    r.prev_index = m.prev_index;
    if (m.prev_index > log_.last_index()) {
      r.hint_index = log_.last_index();
    } else {
      r.hint_term = *log_.term_at(m.prev_index);
      r.hint_index = std::max(log_.first_index_of_term_at(m.prev_index), commit_.next());
    }
    send(std::move(r));
    return;
  }
  const Index last_new = Index(m.prev_index.value() + m.entries.size());
  for (const Entry& e : m.entries) {
    auto have = log_.term_at(e.index);
    if (have && *have == e.term) continue;  // already hold it: keep it, never truncate
    if (have) {
      if (e.index <= commit_) {
        throw std::logic_error("raft: leader " + std::to_string(m.from.value()) +
                               " conflicts with committed entry " + std::to_string(e.index.value()));
      }
      log_.truncate_from(e.index);
    }
    log_.append(e);
  }
  if constexpr (planted::kFollowerTruncates) {
    if (log_.last_index() > last_new) log_.truncate_from(last_new.next());
  }
  commit_to(std::min(m.commit, last_new));
  r.match_index = last_new;
  send(std::move(r));
}

void Raft::Impl::handle_heartbeat(const Message& m) {
  election_elapsed_ = 0;
  leader_ = m.from;
  // The leader sends min(its commit, what it knows we hold), so this never
  // commits an entry we hold from another leader.
  commit_to(std::min(m.commit, log_.last_index()));
  Message r = make_message(MessageType::kHeartbeatResponse, m.from, term_);
  r.context = m.context;
  send(std::move(r));
}

void Raft::Impl::handle_install_snapshot(const Message& m) {
  election_elapsed_ = 0;
  leader_ = m.from;
  if (!m.snapshot) return;
  const SnapshotMeta& s = *m.snapshot;
  Message r = make_message(MessageType::kAppendResponse, m.from, term_);
  if (s.index <= commit_) {
    r.match_index = commit_;
  } else if (log_.matches(s.index, s.term)) {
    // We already hold the entries it covers; keep what follows.
    commit_to(s.index);
    r.match_index = s.index;
  } else {
    log_.restore(s);
    commit_ = s.index;
    applied_ = s.index;
    snapshot_to_install_ = s;
    latest_snapshot_ = s;
    r.match_index = s.index;
  }
  send(std::move(r));
}

void Raft::Impl::handle_append_response(const Message& m) {
  Progress* pr = progress_of(m.from);
  if (!pr) return;
  pr->recently_active = true;
  if (m.reject) {
    Index guess;
    if (m.hint_term == Term(0)) {
      guess = m.hint_index.next();
    } else if (auto last = log_.last_index_of_term(m.hint_term)) {
      guess = last->next();
    } else {
      guess = m.hint_index;
    }
    if (pr->reject(m.prev_index, guess)) send_append(m.from, true);
    return;
  }
  // A follower cannot hold more of this term's log than the leader has.
  if (m.match_index > log_.last_index()) return;
  const bool was_paused = pr->paused();
  if (pr->acknowledge(m.match_index)) {
    if (pr->state() == ProgressState::kSnapshot && pr->match() >= pr->pending_snapshot()) {
      pr->become_probe();
    } else if (pr->state() == ProgressState::kProbe) {
      pr->become_replicate();
    }
    Index old = commit_;
    if (maybe_commit()) {
      on_leader_commit_advanced(old);
    } else if (was_paused) {
      // While paused this follower missed any commit broadcast; tell it now.
      send_append(m.from, true);
    }
    maybe_send_timeout_now(m.from);
  }
  // Keep the pipeline full; bounded by the in-flight limits and the log.
  pr = progress_of(m.from);
  while (pr && send_append(m.from, false)) {
  }
}

void Raft::Impl::handle_heartbeat_response(const Message& m) {
  Progress* pr = progress_of(m.from);
  if (!pr) return;
  pr->recently_active = true;
  pr->heard_from();
  pr->read_round_acked = std::max(pr->read_round_acked, m.context);
  if (pr->match() < log_.last_index()) send_append(m.from, true);
  release_reads();
}

bool Raft::Impl::send_append(NodeId to, bool allow_empty) {
  Progress* pr = progress_of(to);
  if (!pr || pr->paused()) return false;
  const Index prev = pr->next().prev();
  auto prev_term = log_.term_at(prev);
  if (!prev_term) {
    send_snapshot(to, *pr);
    return false;
  }
  Message m = make_message(MessageType::kAppend, to, term_);
  m.prev_index = prev;
  m.prev_term = *prev_term;
  if (pr->next() <= log_.last_index()) {
    m.entries = log_.slice(pr->next(), opts_.max_entries_per_message, opts_.max_bytes_per_message);
  }
  if (m.entries.empty() && !allow_empty) return false;
  m.commit = commit_;
  const bool carried = !m.entries.empty();
  pr->sent_append(carried ? m.entries.back().index : prev, m.payload_bytes());
  send(std::move(m));
  return carried;
}

void Raft::Impl::send_snapshot(NodeId to, Progress& pr) {
  // compact() only drops what a taken snapshot covers, so one exists here.
  if (!latest_snapshot_ || latest_snapshot_->index < log_.base().index) {
    throw std::logic_error("raft: follower needs a snapshot but none covers the compacted log");
  }
  pr.become_snapshot(latest_snapshot_->index);
  Message m = make_message(MessageType::kInstallSnapshot, to, term_);
  m.snapshot = latest_snapshot_;
  m.commit = commit_;
  send(std::move(m));
}

void Raft::Impl::broadcast_append() {
  for (auto& [id, pr] : progress_) send_append(id, true);
}

void Raft::Impl::broadcast_heartbeat() {
  for (auto& [id, pr] : progress_) {
    Message m = make_message(MessageType::kHeartbeat, id, term_);
    m.commit = std::min(pr.match(), commit_);
    m.context = read_round_;
    send(std::move(m));
  }
}

bool Raft::Impl::maybe_commit() {
  std::vector<Index> matches;
  for (NodeId v : log_.config().voters) {
    if (v == opts_.id) {
      matches.push_back(log_.persisted_index());
    } else {
      Progress* pr = progress_of(v);
      matches.push_back(pr ? pr->match() : Index(0));
    }
  }
  if (matches.empty()) return false;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const Index n = matches[log_.config().quorum() - 1];
  if (n <= commit_) return false;
  // Only an entry of the current term is committed by counting replicas;
  // earlier ones commit with it (the paper's Figure 8).
  if (!planted::kCommitOldTerm && log_.term_at(n) != term_) return false;
  commit_ = n;
  return true;
}

void Raft::Impl::commit_to(Index index) {
  if (index > commit_) commit_ = std::min(index, log_.last_index());
}

void Raft::Impl::on_leader_commit_advanced(Index /*old_commit*/) {
  const Configuration& config = log_.config();
  if (!config.is_voter(opts_.id) && log_.config_index() <= commit_) {
    // Our own removal is committed: hand over by stepping down. We are not in
    // the configuration, so we will not campaign again.
    become_follower(term_, kNoNode);
    return;
  }
  release_reads();
  broadcast_append();
  // Nodes whose removal just committed were sent that commit above; stop
  // replicating to them now.
  sync_progress_with_config();
}

}  // namespace conclave::raft
