// Joining and leaving: the joiner asks (with backoff, following redirects to
// the leader) until it is a voter; the leader adds it as a learner, answers
// once that commits, and promotes it once the core reports it caught up;
// a node that finds itself removed stops with exit code 0.
//
// Why the joiner keeps asking after it was accepted: the leader that added it
// may fail before promoting it, and a new leader learns about learners to
// promote only from these requests. A request from a node that is already a
// learner is answered "accepted" and queues the promotion again.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "sidecar/node/node.h"

namespace conclave::node {

using raft::ConfigChange;
using raft::ConfigChangeType;
using raft::NodeId;
using raft::Role;

namespace {

// Join requests the leader holds for retry while the core is busy with
// another change; more are refused (the joiners ask again).
constexpr std::size_t kJoinsWaitingMax = 64;
// Unanswered requests to a redirect target before going back to --join.
constexpr std::uint64_t kJoinUnansweredMax = 4;

}  // namespace

void Node::join_tick() {
  if (join_target_.empty() || stopped_) return;
  const NodeId self(config_.id);
  if (raft_->config().is_voter(self)) {
    spdlog::info("join: this node is a voter now; done joining");
    join_target_.clear();
    return;
  }
  if (tick_count_ < join_next_tick_) return;
  if (join_unanswered_ >= kJoinUnansweredMax && join_target_ != config_.join) {
    spdlog::info("join: {} does not answer; asking {} again", join_target_, config_.join);
    join_target_ = config_.join;
  }
  ++join_unanswered_;
  if (!join_accepted_) {
    spdlog::info("join: asking {} to add node {} at {}", join_target_, self.value(), config_.advertise);
  }
  network_->send_join(join_target_, peer::JoinRequest{self, config_.advertise});
  const std::uint64_t backoff_max = std::max<std::uint64_t>(ticks(3), 10);
  join_backoff_ticks_ = join_accepted_ ? ticks(2) : std::min(join_backoff_ticks_ * 2, backoff_max);
  join_next_tick_ = tick_count_ + join_backoff_ticks_;
}

// A removed node may never see its removal commit (the core stops
// replicating to it once the removal commits). The leader tells it instead,
// with a join answer that says at which index it was removed.
void Node::tell_removed(NodeId node, raft::Index index) {
  std::string address = address_of(node);
  if (address.empty()) return;
  peer::JoinResult notice;
  notice.accepted = false;
  notice.error = "removed from the cluster";
  notice.removed_at = index;
  notice.leader = NodeId(config_.id);
  notice.leader_address = config_.advertise;
  network_->send_join_result(peer::JoinRequest{node, address}, std::move(notice));
}

void Node::on_join_result(peer::JoinResult result) {
  if (stopped_) return;
  if (result.removed_at > raft::Index(0) && was_member_) {
    return finish(0, "the leader (node " + std::to_string(result.leader.value()) +
                         ") says this node's removal committed at index " +
                         std::to_string(result.removed_at.value()));
  }
  if (join_target_.empty()) return;
  join_unanswered_ = 0;
  if (result.leader != raft::kNoNode && !result.leader_address.empty()) {
    if (known_addresses_[result.leader] != result.leader_address) {
      known_addresses_[result.leader] = result.leader_address;
      // Re-send the address map: the leader must be reachable before any
      // configuration names it here.
      last_config_.reset();
      update_peer_addresses();
    }
  }
  if (result.accepted) {
    if (!join_accepted_) {
      spdlog::info("join: accepted by the leader (node {} at {}); catching up as a learner", result.leader.value(),
                   result.leader_address);
    }
    join_accepted_ = true;
    if (!result.leader_address.empty()) join_target_ = result.leader_address;
    return;
  }
  if (result.leader != raft::kNoNode && !result.leader_address.empty() && result.leader_address != join_target_) {
    spdlog::info("join: {} is not the leader; asking the leader, node {} at {}", join_target_, result.leader.value(),
                 result.leader_address);
    join_target_ = result.leader_address;
    join_backoff_ticks_ = 1;
    join_next_tick_ = tick_count_;
    return;
  }
  spdlog::warn("join: refused by {}: {}; asking again", join_target_, result.error);
}

void Node::on_join_request(peer::JoinRequest request) {
  if (stopped_) return;
  if (raft_->role() != Role::kLeader) {
    peer::JoinResult r;
    r.leader = raft_->leader();
    r.leader_address = address_of(r.leader);
    r.error = r.leader == raft::kNoNode ? "no leader is known yet; ask again shortly"
                                        : "node " + std::to_string(config_.id) + " is not the leader";
    network_->send_join_result(request, std::move(r));
    return;
  }
  handle_join_at_leader(request);
}

void Node::handle_join_at_leader(const peer::JoinRequest& request) {
  const NodeId self(config_.id);
  auto answer = [this, self](const peer::JoinRequest& to, bool accepted, std::string error) {
    peer::JoinResult r;
    r.accepted = accepted;
    r.error = std::move(error);
    r.leader = self;
    r.leader_address = config_.advertise;
    network_->send_join_result(to, std::move(r));
  };
  if (request.node == raft::kNoNode) return answer(request, false, "node id 0 is not a valid id");
  const raft::Configuration& config = raft_->config();
  if (config.contains(request.node)) {
    std::string current = address_of(request.node);
    if (!current.empty() && current != request.address) {
      return answer(request, false,
                    "node id " + std::to_string(request.node.value()) + " is already a member at " + current +
                        "; remove it first, or give the new node another id");
    }
    if (config.is_learner(request.node)) to_promote_.insert(request.node);
    return answer(request, true, {});
  }
  if (joins_in_flight_.count(request.node) != 0) return;  // answered when its change commits
  raft::Proposal p = raft_->propose_config_change(ConfigChange(ConfigChangeType::kAddLearner, request.node,
                                                               request.address));
  if (p.ok()) {
    joins_waiting_.erase(request.node);
    joins_in_flight_.insert(request.node);
    spdlog::info("join: adding node {} at {} as a learner (index {})", request.node.value(), request.address,
                 p.index.value());
    track(p, [this, request, answer](const Outcome& o) {
      joins_in_flight_.erase(request.node);
      if (o.error == ipc::AdminError::kNone) {
        to_promote_.insert(request.node);
        answer(request, true, {});
      } else {
        answer(request, false, o.reason);
      }
    });
    return;
  }
  if (p.status == raft::Status::kConfigChangePending || p.status == raft::Status::kLeaderNotReady) {
    if (joins_waiting_.size() < kJoinsWaitingMax || joins_waiting_.count(request.node) != 0) {
      joins_waiting_[request.node] = request;  // retried on the next ticks
    }
    return;
  }
  answer(request, false, "the Raft core refused to add it: " + std::string(raft::to_string(p.status)));
}

void Node::leader_membership_tick() {
  if (stopped_ || raft_->role() != Role::kLeader) return;
  if (!joins_waiting_.empty()) {
    peer::JoinRequest next = joins_waiting_.begin()->second;
    joins_waiting_.erase(joins_waiting_.begin());
    handle_join_at_leader(next);
  }
  for (auto it = to_promote_.begin(); it != to_promote_.end();) {
    const raft::Configuration& config = raft_->config();
    if (!config.is_learner(*it)) {
      it = to_promote_.erase(it);
      continue;
    }
    raft::Proposal p = raft_->propose_config_change(ConfigChange(ConfigChangeType::kPromote, *it));
    if (p.ok()) {
      spdlog::info("membership: learner {} has caught up; promoting it to voter (index {})", it->value(),
                   p.index.value());
      poke();
      break;  // one change at a time
    }
    if (p.status == raft::Status::kInvalidConfigChange || p.status == raft::Status::kUnknownNode) {
      it = to_promote_.erase(it);
      continue;
    }
    ++it;  // not caught up yet, or another change is pending: next tick
  }
}

void Node::check_own_removal() {
  if (stopped_) return;
  const NodeId self(config_.id);
  if (!was_member_ || raft_->config().contains(self)) {
    removed_since_tick_.reset();
    return;
  }
  if (!removed_since_tick_) {
    removed_since_tick_ = tick_count_;
    spdlog::info("membership: this node's removal is in its log; waiting for it to commit");
    return;
  }
  // The leader stops replicating to a node once its removal is appended, so
  // the removed node may never hear that it committed. After a few election
  // timeouts without the removal being rolled back, it stops anyway.
  if (tick_count_ - *removed_since_tick_ >= ticks(3)) {
    finish(0, "removed from the cluster (the removal is in this node's log and was not rolled back within " +
                  std::to_string(ticks(3) * config_.tick_ms) + " ms; the leader no longer replicates to this node)");
  }
}

}  // namespace conclave::node
