// The node's figures for /metrics: read from the core's status, the
// transport's per-peer counters and the attached applications at scrape
// time, plus what the node counted as it went (Node::Counts). The names and
// their meaning are listed in metrics.h.
#include <algorithm>

#include "sidecar/node/node.h"

namespace conclave::node {

using raft::NodeId;
using raft::Role;
using Type = MetricsRegistry::Type;

namespace {

std::string peer_label(NodeId id) { return std::to_string(id.value()); }

}  // namespace

void Node::collect(MetricsRegistry& r) const {
  if (!raft_) return;
  const raft::NodeStatus s = status();
  const NodeId self(config_.id);

  r.gauge("conclave_term", "The current Raft term.", static_cast<double>(s.term.value()));
  for (Role role : {Role::kFollower, Role::kPreCandidate, Role::kCandidate, Role::kLeader}) {
    r.gauge("conclave_role", "1 for the role this node has now, 0 for the others.", role == s.role ? 1 : 0,
            {{"role", std::string(raft::to_string(role))}});
  }
  r.gauge("conclave_leader_id", "The leader this node knows of; 0 for none.", static_cast<double>(s.leader.value()));
  r.gauge("conclave_commit_index", "The highest log index known to be committed.",
          static_cast<double>(s.commit.value()));
  r.gauge("conclave_applied_index", "The highest log index applied by this node.",
          static_cast<double>(applied_.value()));
  r.gauge("conclave_last_index", "The index of the last entry in this node's log.",
          static_cast<double>(s.last_index.value()));
  r.gauge("conclave_snapshot_index", "The log index the newest snapshot covers.",
          static_cast<double>(snapshot_index_.value()));
  r.counter("conclave_leader_changes_total", "Times this node came to know a new leader.",
            static_cast<double>(counts_.leader_changes));
  r.counter("conclave_proposals_committed_total", "Proposals this node gave the Raft core that committed.",
            static_cast<double>(counts_.proposals_committed));
  r.counter("conclave_proposals_failed_total",
            "Proposals this node gave the Raft core that were refused, lost to a leader change or timed out.",
            static_cast<double>(counts_.proposals_failed));
  r.histogram("conclave_fsync_duration_seconds",
              "Seconds to persist a batch of Raft state that owed an fsync (the write and the fsync).",
              fsync_seconds_);

  // Replication lag is known on the leader only; on a follower the metric
  // is declared with no samples.
  const char* lag_help = "Entries the peer lacks: the leader's last index minus the peer's match (leader only).";
  r.declare("conclave_peer_replication_lag_entries", lag_help, Type::kGauge);
  for (const raft::PeerStatus& p : s.peers) {
    if (p.id == self) continue;
    const std::uint64_t lag = s.last_index > p.match ? s.last_index.value() - p.match.value() : 0;
    r.gauge("conclave_peer_replication_lag_entries", lag_help, static_cast<double>(lag), {{"peer", peer_label(p.id)}});
  }
  const char* heard_help = "Seconds since a Raft message last arrived from the peer (members heard from only).";
  r.declare("conclave_peer_last_heard_seconds", heard_help, Type::kGauge);
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [id, when] : last_heard_) {
    if (id == self || !s.config.contains(id)) continue;
    r.gauge("conclave_peer_last_heard_seconds", heard_help, std::chrono::duration<double>(now - when).count(),
            {{"peer", peer_label(id)}});
  }

  const char* sent_help = "Bytes written to the connection to the peer.";
  const char* received_help = "Bytes read from the peer's connections.";
  const char* connected_help = "1 while this node's connection to the peer is up.";
  r.declare("conclave_peer_sent_bytes_total", sent_help, Type::kCounter);
  r.declare("conclave_peer_received_bytes_total", received_help, Type::kCounter);
  r.declare("conclave_peer_connected", connected_help, Type::kGauge);
  if (network_) {
    for (const auto& [id, c] : network_->counters()) {
      const Labels peer{{"peer", peer_label(id)}};
      r.counter("conclave_peer_sent_bytes_total", sent_help, static_cast<double>(c.bytes_sent), peer);
      r.counter("conclave_peer_received_bytes_total", received_help, static_cast<double>(c.bytes_received), peer);
      r.gauge("conclave_peer_connected", connected_help, c.connected ? 1 : 0, peer);
    }
  }

  r.counter("conclave_snapshots_taken_total", "Snapshots an attached application gave this node.",
            static_cast<double>(counts_.snapshots_taken));
  r.counter("conclave_snapshots_taken_bytes_total", "Bytes of the snapshots the applications gave this node.",
            static_cast<double>(counts_.snapshots_taken_bytes));
  r.counter("conclave_snapshots_installed_total", "Snapshots received from the leader and stored to install.",
            static_cast<double>(counts_.snapshots_installed));
  r.counter("conclave_snapshots_installed_bytes_total", "Bytes of the snapshots received from the leader.",
            static_cast<double>(counts_.snapshots_installed_bytes));

  r.gauge("conclave_applications", "Applications attached to this node's application socket.",
          static_cast<double>(apps_.size()));
  r.counter("conclave_applications_detached_lagging_total",
            "Applications detached for reading more than application_lag_max entries behind a new snapshot.",
            static_cast<double>(counts_.applications_detached_lagging));
  // Two processes of one application may be attached at once: show the
  // one furthest behind, so one series per name.
  std::map<std::string, std::uint64_t> lag_by_name;
  for (const auto& [key, c] : apps_) {
    const std::uint64_t lag = applied_ > c.applied ? applied_.value() - c.applied.value() : 0;
    auto [it, added] = lag_by_name.emplace(c.name, lag);
    if (!added) it->second = std::max(it->second, lag);
  }
  const char* app_lag_help = "Entries applied by this node that the application has not acknowledged applying.";
  r.declare("conclave_application_lag_entries", app_lag_help, Type::kGauge);
  for (const auto& [name, lag] : lag_by_name) {
    r.gauge("conclave_application_lag_entries", app_lag_help, static_cast<double>(lag), {{"application", name}});
  }
}

}  // namespace conclave::node
