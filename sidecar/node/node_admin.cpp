// The node's answers to the admin socket: status, proposals (answered once
// committed at their (index, term); forwarded to the leader from a
// follower), membership changes and leadership transfer. Also the leader's
// side of forwarded proposals.
#include <spdlog/spdlog.h>

#include "sidecar/node/app_entry.h"
#include "sidecar/node/node.h"

namespace conclave::node {

using ipc::AdminError;
using ipc::AdminReply;
using raft::Index;
using raft::NodeId;
using raft::Role;

namespace {

// Bounds on what waits for the core: beyond these, requests are refused
// rather than queued.
constexpr std::size_t kPendingMax = 10000;
constexpr std::size_t kForwardsMax = 10000;

}  // namespace

std::string Node::address_of(NodeId id) const {
  const auto& addresses = raft_->config().addresses;
  if (auto it = addresses.find(id); it != addresses.end()) return it->second;
  if (auto it = known_addresses_.find(id); it != known_addresses_.end()) return it->second;
  return {};
}

AdminReply Node::not_leader_reply() const {
  NodeId leader = raft_->leader();
  if (leader == raft::kNoNode) {
    return AdminReply::failure(AdminError::kNoLeader,
                               "no leader is known yet (an election may be under way); retry shortly");
  }
  AdminReply r = AdminReply::failure(
      AdminError::kNotLeader, "this node is not the leader; node " + std::to_string(leader.value()) + " is: ask it");
  r.leader_hint = leader.value();
  r.leader_address = address_of(leader);
  return r;
}

void Node::track(const raft::Proposal& p, OutcomeFn done) {
  // An older proposal at the same index was lost with an earlier term's log.
  if (auto old = pending_.find(p.index); old != pending_.end()) {
    auto lost = std::move(old->second);
    pending_.erase(old);
    lost.done(Outcome{AdminError::kRejected, "lost to a leader change; retry", p.index, lost.term});
  }
  pending_[p.index] = Pending{p.term, std::move(done), tick_count_ + ticks(20)};
  poke();
}

Node::OutcomeFn Node::counted(OutcomeFn done) {
  return [this, done = std::move(done)](const Outcome& outcome) {
    ++(outcome.error == AdminError::kNone ? counts_.proposals_committed : counts_.proposals_failed);
    done(outcome);
  };
}

void Node::propose_then(std::string data, OutcomeFn done) {
  done = counted(std::move(done));
  if (stopped_ || shutting_down_) return done(Outcome{AdminError::kShuttingDown, "the node is stopping", {}, {}});
  if (pending_.size() >= kPendingMax) {
    return done(Outcome{AdminError::kRejected,
                        "too many proposals are waiting to commit (" + std::to_string(pending_.size()) +
                            "); slow down and retry",
                        {}, {}});
  }
  raft::Proposal p = raft_->propose(std::move(data));
  if (!p.ok()) {
    return done(Outcome{p.status == raft::Status::kNotLeader ? AdminError::kNotLeader : AdminError::kRejected,
                        std::string(raft::to_string(p.status)), {}, {}});
  }
  track(p, std::move(done));
}

void Node::propose_change_then(const raft::ConfigChange& change, OutcomeFn done) {
  done = counted(std::move(done));
  if (stopped_ || shutting_down_) return done(Outcome{AdminError::kShuttingDown, "the node is stopping", {}, {}});
  raft::Proposal p = raft_->propose_config_change(change);
  if (!p.ok()) {
    return done(Outcome{p.status == raft::Status::kNotLeader ? AdminError::kNotLeader : AdminError::kRejected,
                        "the Raft core refused the change: " + std::string(raft::to_string(p.status)), {}, {}});
  }
  track(p, std::move(done));
}

void Node::resolve_committed(const raft::Entry& entry) {
  auto it = pending_.find(entry.index);
  if (it == pending_.end()) return;
  Pending waiting = std::move(it->second);
  pending_.erase(it);
  if (waiting.term == entry.term) {
    waiting.done(Outcome{AdminError::kNone, {}, entry.index, entry.term});
  } else {
    waiting.done(Outcome{AdminError::kRejected,
                         "lost to a leader change: an entry of term " + std::to_string(entry.term.value()) +
                             " committed at index " + std::to_string(entry.index.value()) + " instead; retry",
                         entry.index, waiting.term});
  }
}

void Node::fail_all_pending(AdminError code, const std::string& reason) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [index, p] : pending) p.done(Outcome{code, reason, index, p.term});
  auto forwards = std::move(forwards_);
  forwards_.clear();
  for (auto& [id, f] : forwards) f.reply(AdminReply::failure(code, reason));
  if (transfer_) {
    auto t = std::move(*transfer_);
    transfer_.reset();
    t.reply(AdminReply::failure(code, reason));
  }
  auto status_asks = std::move(status_asks_);
  status_asks_.clear();
  for (auto& [id, ask] : status_asks) ask.reply(AdminReply::failure(code, reason));
}

void Node::fail_pending_on_step_down() {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [index, p] : pending) {
    p.done(Outcome{AdminError::kRejected,
                   "this node lost leadership before index " + std::to_string(index.value()) +
                       " committed; the entry may still commit, so its outcome is unknown",
                   index, p.term});
  }
}

void Node::fail_forwards_not_to(NodeId leader) {
  fail_forwards_where([leader](NodeId to) { return to != leader; },
                      "the leader the proposal was forwarded to lost leadership; it may still commit, so its "
                      "outcome is unknown");
}

void Node::fail_forwards_where(const std::function<bool(NodeId)>& sent_to, const std::string& reason) {
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    if (!sent_to(it->second.to)) {
      ++it;
      continue;
    }
    auto reply = std::move(it->second.reply);
    it = forwards_.erase(it);
    reply(AdminReply::failure(AdminError::kRejected, reason));
  }
}

void Node::on_connection_lost(NodeId peer) {
  if (stopped_) return;
  // Raft resends what it lost; a forwarded proposal is not resent, and
  // its answer may never come. Its caller hears now that the outcome is
  // unknown (the SDK retries such a proposal with the same session and
  // seq, which commits it once).
  fail_forwards_where([peer](NodeId to) { return to == peer; },
                      "the connection to node " + std::to_string(peer.value()) +
                          ", the leader, failed with the forwarded proposal on it; it may still commit, so its "
                          "outcome is unknown");
}

namespace {

AdminReply to_reply(AdminError error, const std::string& reason, Index index, raft::Term term, NodeId leader) {
  if (error != AdminError::kNone) {
    AdminReply r = AdminReply::failure(error, reason);
    r.leader_hint = leader.value();
    return r;
  }
  AdminReply r;
  r.committed = ipc::Committed{index.value(), term.value()};
  return r;
}

}  // namespace

void Node::admin_status(ipc::Reply reply) {
  AdminReply r;
  r.status = status_info();
  reply(std::move(r));
}

void Node::admin_propose(std::string data, ipc::Reply reply) {
  // An entry of no client session: applications see it like any other.
  propose_anywhere(encode_app_entry(0, 0, 0, data), std::move(reply));
}

void Node::propose_anywhere(std::string data, ipc::Reply reply) {
  if (stopped_ || shutting_down_) return reply(AdminReply::failure(AdminError::kShuttingDown, "the node is stopping"));
  if (raft_->role() == Role::kLeader) {
    return propose_then(std::move(data), [this, reply](const Outcome& o) {
      reply(to_reply(o.error, o.reason, o.index, o.term, raft_->leader()));
    });
  }
  NodeId leader = raft_->leader();
  if (leader == raft::kNoNode) return reply(not_leader_reply());
  if (forwards_.size() >= kForwardsMax) {
    return reply(AdminReply::failure(AdminError::kRejected, "too many proposals are waiting for the leader; retry"));
  }
  std::uint64_t id = next_forward_id_++;
  if (!network_->send_forward(leader, peer::ForwardedProposal{id, std::move(data), 0, 0})) {
    // Not queued, so it never left: say so now rather than at the
    // deadline, and the retry (the SDK's own, for this code) is safe.
    return reply(AdminReply::failure(AdminError::kNoLeader,
                                     "node " + std::to_string(leader.value()) +
                                         ", the leader, cannot be reached from this node just now; the proposal "
                                         "was not sent, so retrying it is safe"));
  }
  forwards_[id] = PendingForward{std::move(reply), tick_count_ + ticks(20), leader};
}

void Node::on_forwarded_proposal(NodeId from, peer::ForwardedProposal proposal) {
  if (stopped_) return;
  auto answer = [this, from, id = proposal.request_id](const Outcome& o) {
    peer::ForwardResult r;
    r.request_id = id;
    r.index = o.index;
    r.term = o.term;
    if (o.error != AdminError::kNone) r.error = o.reason.empty() ? "refused" : o.reason;
    r.leader_hint = raft_->leader();
    network_->send_forward_result(from, std::move(r));
  };
  if (raft_->role() != Role::kLeader) {
    return answer(Outcome{AdminError::kNotLeader, "node " + std::to_string(config_.id) + " is not the leader", {}, {}});
  }
  propose_then(std::move(proposal.data), answer);
}

void Node::on_forward_result(NodeId from, peer::ForwardResult result) {
  auto it = forwards_.find(result.request_id);
  if (it == forwards_.end()) return;  // timed out already, or a duplicate
  ipc::Reply reply = std::move(it->second.reply);
  forwards_.erase(it);
  if (result.error.empty()) {
    AdminReply r;
    r.committed = ipc::Committed{result.index.value(), result.term.value()};
    r.leader_hint = from.value();
    return reply(std::move(r));
  }
  AdminReply r = AdminReply::failure(AdminError::kRejected,
                                     "the leader (node " + std::to_string(from.value()) + ") answered: " + result.error);
  r.leader_hint = result.leader_hint.value();
  r.leader_address = address_of(result.leader_hint);
  reply(std::move(r));
}

void Node::membership_request(const raft::ConfigChange& change, ipc::Reply reply) {
  if (stopped_ || shutting_down_) return reply(AdminReply::failure(AdminError::kShuttingDown, "the node is stopping"));
  if (raft_->role() != Role::kLeader) return reply(not_leader_reply());
  propose_change_then(change, [this, reply](const Outcome& o) {
    reply(to_reply(o.error, o.reason, o.index, o.term, raft_->leader()));
  });
}

void Node::admin_add_learner(std::uint64_t node, std::string address, ipc::Reply reply) {
  if (node == 0) return reply(AdminReply::failure(AdminError::kMalformed, "node id must be >= 1"));
  try {
    parse_host_port("address", address);
  } catch (const ConfigError& e) {
    return reply(AdminReply::failure(AdminError::kMalformed, e.what()));
  }
  membership_request(raft::ConfigChange(raft::ConfigChangeType::kAddLearner, NodeId(node), std::move(address)),
                     std::move(reply));
}

void Node::admin_promote(std::uint64_t node, ipc::Reply reply) {
  membership_request(raft::ConfigChange(raft::ConfigChangeType::kPromote, NodeId(node)), std::move(reply));
}

void Node::admin_remove(std::uint64_t node, ipc::Reply reply) {
  membership_request(raft::ConfigChange(raft::ConfigChangeType::kRemove, NodeId(node)), std::move(reply));
}

void Node::admin_transfer_leader(std::uint64_t node, ipc::Reply reply) {
  if (stopped_ || shutting_down_) return reply(AdminReply::failure(AdminError::kShuttingDown, "the node is stopping"));
  if (raft_->role() != Role::kLeader) {
    if (raft_->leader() == NodeId(node)) return reply(AdminReply{});
    return reply(not_leader_reply());
  }
  if (node == config_.id) return reply(AdminReply{});
  raft::Status s = raft_->transfer_leadership(NodeId(node));
  if (s != raft::Status::kOk) {
    return reply(AdminReply::failure(AdminError::kRejected,
                                     "cannot hand leadership to node " + std::to_string(node) + ": " +
                                         std::string(raft::to_string(s))));
  }
  if (transfer_) transfer_->reply(AdminReply::failure(AdminError::kRejected, "superseded by a newer transfer"));
  spdlog::info("leadership: handing off to node {} on request", node);
  transfer_ = PendingTransfer{NodeId(node), std::move(reply), tick_count_ + ticks(2)};
  poke();
}

void Node::check_transfer() {
  if (!transfer_) return;
  NodeId leader = raft_->leader();
  if (leader == transfer_->target) {
    auto t = std::move(*transfer_);
    transfer_.reset();
    AdminReply r;
    r.leader_hint = leader.value();
    r.leader_address = address_of(leader);
    return t.reply(std::move(r));
  }
  std::string failure;
  if (tick_count_ >= transfer_->deadline_tick) {
    failure = "node " + std::to_string(transfer_->target.value()) + " did not take over within " +
              std::to_string(ticks(2) * config_.tick_ms) + " ms; check that it is up and caught up";
  } else if (leader != raft::kNoNode && raft_->role() != Role::kLeader) {
    failure = "leadership went to node " + std::to_string(leader.value()) + " instead";
  }
  if (failure.empty()) return;
  auto t = std::move(*transfer_);
  transfer_.reset();
  t.reply(AdminReply::failure(AdminError::kTimeout, failure));
}

}  // namespace conclave::node
