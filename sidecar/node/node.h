// The node: the one event loop that drives the Raft core with the data
// directory, the peer network, a tick timer and the admin socket.
//
// Everything runs on one boost::asio::io_context thread. Each input (a tick,
// a peer message, an admin request) is handed to the core, and a drain is
// posted; the drain runs once the current burst of inputs has been handled,
// so every proposal that arrived meanwhile shares one fsync (group commit).
// The drain follows sidecar/raft/raft.h exactly:
//
//   while (raft.has_ready()) {
//     ready = raft.ready();
//     data_dir.persist(ready)     // fail-stop on error: nothing unpersisted is acknowledged;
//                                 // the entries are written on the loop and the fsync runs on
//                                 // the sync thread (sync_thread.h) while the loop keeps
//                                 // reading and stepping the core; the rest waits for it
//     send ready.messages         // InstallSnapshot streams from the snapshot store;
//                                 // a leader's appends go before the persist (§10.2.1)
//     apply ready.committed       // track applied and membership; answer proposals
//     answer ready.reads          // barriers
//     raft.advance(ready)
//   }
//   feed each attached application's stream from the log; maybe ask one for a snapshot
//
// Membership: a node started with --join asks any member to add it; the
// leader adds it as a learner, answers once that commits, and promotes it
// once the core says it has caught up. A node that sees its own removal
// committed stops with exit code 0. See node_membership.cpp.
//
// Files: node.cpp (lifecycle, tick, drain, apply), node_admin.cpp (the admin
// requests, proposals and forwarding), node_status.cpp (status answers,
// the whole cluster's from the leader), node_apps.cpp (the application
// socket: streams, barriers, snapshots from the application),
// node_membership.cpp (join, promote, remove), node_snapshots.cpp (sending
// and receiving snapshots between peers), metrics_collect.cpp (the figures
// /metrics shows; metrics.h lists them).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ipc/admin_service.h"
#include "ipc/app_service.h"
#include "sidecar/node/app_cursor.h"
#include "sidecar/node/config.h"
#include "sidecar/node/metrics.h"
#include "sidecar/node/peer_network.h"
#include "sidecar/node/sync_thread.h"
#include "sidecar/peer/transport.h"
#include "sidecar/raft/raft.h"
#include "sidecar/storage/data_dir.h"

namespace conclave::node {

class Node final : public peer::TransportHandler, public ipc::AdminService, public ipc::AppService {
 public:
  // Called once, when the node has stopped for good: 0 after a clean stop (a
  // signal, or this node's removal), non-zero after a fail-stop.
  using ExitHandler = std::function<void(int exit_code)>;

  Node(boost::asio::io_context& io, NodeConfig config, storage::DataDir& data_dir);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Restores the core from the data directory; an empty one is founded
  // (initial_members, solo) or left waiting to join, as the config says.
  // Throws std::runtime_error with what to do when it cannot.
  void recover();
  // Starts ticking and, for a joiner, asking to join.
  void start(PeerNetwork& network, ExitHandler on_exit);
  // A graceful stop (SIGTERM): a leader hands leadership to the most
  // caught-up voter first (waiting up to a few election timeouts).
  void shutdown();

  raft::NodeStatus status() const;
  // Runs `step` now, or once the Ready being synced is durable and
  // advanced (dropped if the node stops first): for changes to the core or
  // the log that must not overlap a sync, and for the watchdog's pings,
  // which so stop while a disk sync hangs, as when the loop itself synced.
  void after_sync(std::function<void()> step);
  // The fields the admin and the application status answers share.
  template <typename Out>
  void fill_status(Out& out, const raft::NodeStatus& s) const {
    out.node_id = config_.id;
    out.cluster_id = config_.cluster_id;
    out.role = std::string(raft::to_string(s.role));
    out.term = s.term.value();
    out.leader = s.leader.value();
    out.commit_index = s.commit.value();
    out.last_index = s.last_index.value();
    out.snapshot_index = snapshot_index_.value();
  }
  raft::Index applied_index() const { return applied_; }
  raft::Index snapshot_index() const { return snapshot_index_; }
  bool stopped() const { return stopped_; }
  // Adds this node's figures to a scrape (metrics_collect.cpp); after recover().
  void collect(MetricsRegistry& registry) const;

  // peer::TransportHandler
  void on_raft_message(raft::Message m) override;
  bool on_snapshot_chunk(peer::SnapshotChunk chunk) override;
  void on_forwarded_proposal(raft::NodeId from, peer::ForwardedProposal proposal) override;
  void on_forward_result(raft::NodeId from, peer::ForwardResult result) override;
  bool accepts_peer(raft::NodeId id) override;
  void on_join_request(peer::JoinRequest request) override;
  void on_join_result(peer::JoinResult result) override;
  void on_status_request(raft::NodeId from, peer::StatusRequest request) override;
  void on_status_result(raft::NodeId from, peer::StatusResult result) override;
  void on_connection_lost(raft::NodeId peer) override;

  // ipc::AdminService
  void admin_status(ipc::Reply reply) override;
  void admin_propose(std::string data, ipc::Reply reply) override;
  void admin_add_learner(std::uint64_t node, std::string address, ipc::Reply reply) override;
  void admin_promote(std::uint64_t node, ipc::Reply reply) override;
  void admin_remove(std::uint64_t node, ipc::Reply reply) override;
  void admin_transfer_leader(std::uint64_t node, ipc::Reply reply) override;
  void admin_snapshot(ipc::Reply reply) override;
  void admin_cluster_status(ipc::Reply reply) override;

  // ipc::AppService (node_apps.cpp)
  void app_attach(const std::shared_ptr<ipc::AppStream>& stream, ipc::AttachRequest request,
                  ipc::AppReplyFn reply) override;
  void app_propose(const std::shared_ptr<ipc::AppStream>& stream, ipc::ProposeRequest request,
                   ipc::AppReplyFn reply) override;
  void app_barrier(const std::shared_ptr<ipc::AppStream>& stream, ipc::AppReplyFn reply) override;
  void app_status(const std::shared_ptr<ipc::AppStream>& stream, ipc::AppReplyFn reply) override;
  void app_applied(const std::shared_ptr<ipc::AppStream>& stream, std::uint64_t index) override;
  void app_snapshot_chunk(const std::shared_ptr<ipc::AppStream>& stream, std::uint64_t index, std::string data,
                          bool done, std::optional<ipc::AppReplyFn> reply) override;
  void app_snapshot_failed(const std::shared_ptr<ipc::AppStream>& stream, std::uint64_t index, std::string reason,
                           ipc::AppReplyFn reply) override;
  void app_writable(const std::shared_ptr<ipc::AppStream>& stream) override;
  void app_detached(const std::shared_ptr<ipc::AppStream>& stream) override;

 private:
  // What a committed (or lost) proposal tells whoever waits for it.
  struct Outcome {
    ipc::AdminError error = ipc::AdminError::kNone;
    std::string reason;
    raft::Index index;
    raft::Term term;
  };
  using OutcomeFn = std::function<void(const Outcome&)>;
  struct Pending {
    raft::Term term;
    OutcomeFn done;
    std::uint64_t deadline_tick = 0;
  };
  struct PendingForward {
    ipc::Reply reply;
    std::uint64_t deadline_tick = 0;
    // The leader it was sent to.
    raft::NodeId to;
  };
  struct PendingTransfer {
    raft::NodeId target;
    ipc::Reply reply;
    std::uint64_t deadline_tick = 0;
  };
  // A snapshot arriving from the leader, written straight into the
  // snapshot store (the first chunk carries its metadata); the writer
  // discards the partial file if it is dropped before the last chunk.
  struct IncomingSnapshot {
    raft::NodeId from;
    raft::SnapshotMeta meta;
    std::uint64_t bytes = 0;
    std::optional<storage::SnapshotWriter> writer;
  };

  // node.cpp
  void schedule_tick();
  void on_tick();
  void poke();
  void drain();
  // The second half of a Ready whose sync ran on the sync thread.
  void sync_done(storage::Status status);
  // What follows a durable Ready: send, apply, answer reads, advance. False
  // once the node stopped.
  bool after_persist(raft::Ready& ready);
  void end_drain();
  void send_messages(std::vector<raft::Message>& messages);
  void apply(const raft::Ready& ready);
  void apply_config_entry(const raft::Entry& entry);
  void observe_changes();
  void update_peer_addresses();
  void fail_stop(const std::string& what);
  void finish(int exit_code, const std::string& why);
  void expire_pending();
  std::uint64_t ticks(std::uint64_t election_timeouts) const;

  // node_apps.cpp
  void start_join(AppCursor& cursor);
  void pump(AppCursor& cursor);
  void pump_all();
  // Puts the message of one committed entry on the cursor's stream; an
  // application entry joins `batch`, which the caller sends.
  void deliver(AppCursor& cursor, const raft::Entry& entry, std::vector<ipc::EntryView>& batch);
  void maybe_request_snapshot();
  void finish_app_snapshot(AppSnapshotInProgress snapshot, ipc::AppReplyFn reply);
  void record_app_snapshot(const raft::SnapshotMeta& meta, std::uint64_t bytes, std::uint64_t data_bytes);
  // Closes, with the reason, the stream of an application that read only
  // through `position`, too far behind the new snapshot (application_lag_max).
  void detach_lagging(ipc::AppStream& stream, raft::Index position, raft::Index snapshot);
  void abort_app_snapshot(const std::string& why);
  void answer_snapshot_waiters(const ipc::AdminReply& reply);
  void answer_reads(const raft::Ready& ready);
  void fail_app_requests(const std::string& why);

  // node_admin.cpp
  // Proposes on the leader, or forwards to it from a follower.
  void propose_anywhere(std::string data, ipc::Reply reply);
  void propose_then(std::string data, OutcomeFn done);
  void propose_change_then(const raft::ConfigChange& change, OutcomeFn done);
  void track(const raft::Proposal& p, OutcomeFn done);
  // Wraps `done` to count the outcome for /metrics.
  OutcomeFn counted(OutcomeFn done);
  void resolve_committed(const raft::Entry& entry);
  void fail_all_pending(ipc::AdminError code, const std::string& reason);
  // Leadership moved: what this node waits for may still commit, but it
  // will not hear so here; tell the waiters now rather than at the timeout.
  void fail_pending_on_step_down();
  void fail_forwards_not_to(raft::NodeId leader);
  // Answers at once, with `reason` (outcome unknown), every forward sent to
  // a node for which `sent_to` holds.
  void fail_forwards_where(const std::function<bool(raft::NodeId)>& sent_to, const std::string& reason);
  ipc::AdminReply not_leader_reply() const;
  std::string address_of(raft::NodeId id) const;
  void membership_request(const raft::ConfigChange& change, ipc::Reply reply);
  void check_transfer();

  // node_status.cpp
  // This node's status; on the leader, each member's replication progress.
  ipc::StatusInfo status_info() const;
  // Cluster status questions this node asked the leader, answered as
  // timeouts once their deadline passes.
  void expire_status_asks();

  // node_membership.cpp
  void join_tick();
  void leader_membership_tick();
  void handle_join_at_leader(const peer::JoinRequest& request);
  void check_own_removal();
  void tell_removed(raft::NodeId node, raft::Index index);

  // node_snapshots.cpp
  void send_snapshot(raft::Message message);
  void discard_incoming();
  // Commits `writer` (an fsync of the whole state) on snapshot_thread_, then
  // runs `then` on the loop with the outcome and the application bytes
  // stored, unless the node stopped meanwhile.
  void seal_snapshot(storage::SnapshotWriter writer, std::function<void(storage::Status, std::uint64_t)> then);

  boost::asio::io_context& io_;
  NodeConfig config_;
  storage::DataDir& data_dir_;
  std::unique_ptr<raft::Raft> raft_;
  PeerNetwork* network_ = nullptr;
  ExitHandler on_exit_;
  boost::asio::steady_timer tick_timer_;
  std::uint64_t tick_count_ = 0;

  bool drain_posted_ = false;
  bool stopped_ = false;
  bool shutting_down_ = false;
  std::uint64_t shutdown_deadline_tick_ = 0;

  raft::Index applied_;
  raft::Index snapshot_index_;

  // What was last logged, to log each change once.
  raft::Role last_role_ = raft::Role::kFollower;
  raft::Term last_term_;
  raft::NodeId last_leader_;
  std::optional<raft::Configuration> last_config_;
  // Every peer address ever learned (configurations, join answers): a
  // joiner must reach the leader before its own configuration names it.
  std::map<raft::NodeId, std::string> known_addresses_;

  // Proposals waiting to commit, by index; bounded by kPendingMax.
  std::map<raft::Index, Pending> pending_;
  // Admin proposals forwarded to the leader, by request id.
  std::map<std::uint64_t, PendingForward> forwards_;
  std::uint64_t next_forward_id_ = 1;
  std::optional<PendingTransfer> transfer_;
  // conclavectl status --cluster on a follower: questions sent to the
  // leader, by request id (node_status.cpp).
  std::map<std::uint64_t, PendingForward> status_asks_;
  std::uint64_t next_status_ask_id_ = 1;

  // Leader side of joining: requests to retry while the core is busy, and
  // learners to promote once caught up.
  std::map<raft::NodeId, peer::JoinRequest> joins_waiting_;
  std::set<raft::NodeId> joins_in_flight_;
  std::set<raft::NodeId> to_promote_;
  // Joiner side: where to ask next, and when.
  std::string join_target_;
  std::uint64_t join_next_tick_ = 0;
  std::uint64_t join_backoff_ticks_ = 1;
  std::uint64_t join_unanswered_ = 0;
  bool join_accepted_ = false;

  // Removal: set once this node has been a member, and when it found itself
  // gone from the configuration.
  bool was_member_ = false;
  std::optional<std::uint64_t> removed_since_tick_;

  std::unique_ptr<IncomingSnapshot> incoming_;
  // A received snapshot is being sealed on snapshot_thread_; the core hears
  // of it once it is durable.
  bool installing_ = false;

  // Attached applications, and the snapshot one of them is streaming.
  std::map<const ipc::AppStream*, AppCursor> apps_;
  std::unique_ptr<AppSnapshotInProgress> app_snapshot_;
  // Its last chunk came and it is being sealed on snapshot_thread_.
  bool snapshot_storing_ = false;
  // The applied index at which the log last needed a snapshot nobody could
  // give (logged once per threshold).
  bool snapshot_unavailable_logged_ = false;
  // No snapshot request before this tick (after one failed or timed out).
  std::uint64_t snapshot_retry_tick_ = 0;
  // conclavectl snapshot: take one now, whatever the threshold, and answer
  // these once it is stored (or abandoned).
  bool snapshot_now_ = false;
  std::vector<ipc::Reply> snapshot_waiters_;
  // Barriers waiting for the core's ReadIndex, by context.
  std::map<std::uint64_t, ipc::AppReplyFn> reads_;
  std::uint64_t next_read_context_ = 1;

  // Counted where they happen, for /metrics (metrics_collect.cpp).
  struct Counts {
    std::uint64_t leader_changes = 0;
    std::uint64_t proposals_committed = 0;
    std::uint64_t proposals_failed = 0;
    std::uint64_t snapshots_taken = 0;
    std::uint64_t snapshots_taken_bytes = 0;
    std::uint64_t snapshots_installed = 0;
    std::uint64_t snapshots_installed_bytes = 0;
    std::uint64_t applications_detached_lagging = 0;
  };
  Counts counts_;
  Histogram fsync_seconds_{latency_buckets_seconds()};
  // When a Raft message last arrived from each peer.
  std::map<raft::NodeId, std::chrono::steady_clock::time_point> last_heard_;

  // The Ready whose sync is running, when it started, and what waits for
  // it to be advanced.
  std::optional<raft::Ready> in_flight_;
  std::chrono::steady_clock::time_point sync_started_;
  std::vector<std::function<void()>> after_sync_;
  // Completions posted by the sync thread check it is still there.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  // Last, so they are joined first when the node is destroyed.
  std::unique_ptr<SyncThread> sync_thread_;
  std::unique_ptr<SyncThread> snapshot_thread_;
};

}  // namespace conclave::node
