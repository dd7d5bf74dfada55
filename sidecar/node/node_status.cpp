// The node's status answers: its own (admin status), and the leader's view
// of the whole cluster (admin clusterStatus), which a follower obtains by
// asking the leader over the peer connection: conclavectl reaches only its
// own node's admin socket, and the nodes may run on different machines.
#include <spdlog/spdlog.h>

#include <chrono>

#include "sidecar/node/node.h"

namespace conclave::node {

using ipc::AdminError;
using ipc::AdminReply;
using raft::NodeId;
using raft::Role;

namespace {

// Bound on cluster status questions waiting for the leader; beyond it they
// are refused rather than queued.
constexpr std::size_t kStatusAsksMax = 100;

}  // namespace

ipc::StatusInfo Node::status_info() const {
  const raft::NodeStatus s = status();
  const NodeId self(config_.id);
  const auto now = std::chrono::steady_clock::now();
  ipc::StatusInfo info;
  fill_status(info, s);
  info.applied_index = applied_.value();
  info.durable_index = data_dir_.log().durable_index().value();
  auto add = [&](NodeId id, bool voter) {
    ipc::MemberInfo m;
    m.id = id.value();
    m.address = address_of(id);
    m.voter = voter;
    if (auto heard = last_heard_.find(id); heard != last_heard_.end() && id != self) {
      m.heard = true;
      m.heard_ago_ms = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(now - heard->second).count());
    }
    if (s.role == Role::kLeader) {
      if (id == self) {
        m.match = s.last_index.value();
        m.next = s.last_index.value() + 1;
        m.state = "leader";
        m.recently_active = true;
      }
      for (const raft::PeerStatus& p : s.peers) {
        if (p.id != id || id == self) continue;
        m.match = p.match.value();
        m.next = p.next.value();
        m.state = std::string(raft::to_string(p.state));
        m.recently_active = p.recently_active;
        m.lag = s.last_index > p.match ? s.last_index.value() - p.match.value() : 0;
        m.sending_snapshot = p.state == raft::ProgressState::kSnapshot;
      }
    }
    info.members.push_back(std::move(m));
  };
  for (NodeId id : s.config.voters) add(id, true);
  for (NodeId id : s.config.learners) add(id, false);
  return info;
}

void Node::admin_cluster_status(ipc::Reply reply) {
  if (stopped_) return reply(AdminReply::failure(AdminError::kShuttingDown, "the node is stopping"));
  if (raft_->role() == Role::kLeader) {
    AdminReply r;
    r.status = status_info();
    return reply(std::move(r));
  }
  const NodeId leader = raft_->leader();
  if (leader == raft::kNoNode) {
    return reply(AdminReply::failure(AdminError::kNoLeader,
                                     "no leader is known, so nobody can tell how the members are doing (an "
                                     "election may be under way, or too few members are up to hold one); retry "
                                     "shortly, and see conclavectl status on each node meanwhile"));
  }
  if (status_asks_.size() >= kStatusAsksMax) {
    return reply(AdminReply::failure(AdminError::kRejected, "too many cluster status questions are waiting for "
                                                            "the leader; retry shortly"));
  }
  const std::uint64_t id = next_status_ask_id_++;
  status_asks_[id] = PendingForward{std::move(reply), tick_count_ + ticks(2), leader};
  network_->send_status_request(leader, peer::StatusRequest{id});
}

void Node::on_status_request(NodeId from, peer::StatusRequest request) {
  if (stopped_) return;
  peer::StatusResult result;
  result.request_id = request.request_id;
  result.leader_hint = raft_->leader();
  if (raft_->role() == Role::kLeader) {
    result.status = status_info();
  } else {
    result.error = "node " + std::to_string(config_.id) + " is no longer the leader";
  }
  network_->send_status_result(from, result);
}

void Node::on_status_result(NodeId from, peer::StatusResult result) {
  auto it = status_asks_.find(result.request_id);
  // Timed out already, or a duplicate; an answer from another node than the
  // one asked is not the answer to our question.
  if (it == status_asks_.end() || it->second.to != from) return;
  ipc::Reply reply = std::move(it->second.reply);
  status_asks_.erase(it);
  if (!result.error.empty()) {
    AdminReply r = AdminReply::failure(AdminError::kNoLeader, "asked node " + std::to_string(from.value()) +
                                                                  ", the leader as far as this node knew: " +
                                                                  result.error + "; leadership is moving, retry "
                                                                  "shortly");
    r.leader_hint = result.leader_hint.value();
    r.leader_address = address_of(result.leader_hint);
    return reply(std::move(r));
  }
  AdminReply r;
  r.leader_hint = from.value();
  r.leader_address = address_of(from);
  r.status = std::move(result.status);
  reply(std::move(r));
}

void Node::expire_status_asks() {
  for (auto it = status_asks_.begin(); it != status_asks_.end();) {
    if (it->second.deadline_tick > tick_count_) {
      ++it;
      continue;
    }
    const NodeId leader = it->second.to;
    auto reply = std::move(it->second.reply);
    it = status_asks_.erase(it);
    AdminReply r = AdminReply::failure(
        AdminError::kTimeout,
        "the leader, node " + std::to_string(leader.value()) + " (" + address_of(leader) + "), did not answer within " +
            std::to_string(ticks(2) * config_.tick_ms) +
            " ms: check that it is up and reachable from this node, or run conclavectl status --cluster on another "
            "node (a leader running an older conclaved cannot answer)");
    r.leader_hint = leader.value();
    r.leader_address = address_of(leader);
    reply(std::move(r));
  }
}

}  // namespace conclave::node
