// The node's lifecycle and its loop: recovery or founding at start, the tick
// timer, the drain that follows raft.h's persist-send-apply-advance order,
// applying committed entries, and the log lines for role, term, leader and
// membership changes. See node.h for the whole picture.
#include "sidecar/node/node.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <sstream>
#include <stdexcept>

#include "sidecar/node/describe.h"
#include "sidecar/node/service_manager.h"

namespace conclave::node {

using raft::Index;
using raft::NodeId;
using raft::Role;
using raft::Term;

Node::Node(boost::asio::io_context& io, NodeConfig config, storage::DataDir& data_dir)
    : io_(io),
      config_(std::move(config)),
      data_dir_(data_dir),
      tick_timer_(io),
      sync_thread_(std::make_unique<SyncThread>(io)),
      snapshot_thread_(std::make_unique<SyncThread>(io)) {}

Node::~Node() = default;

void Node::recover() {
  auto restored = data_dir_.restore();
  if (!restored) {
    throw std::runtime_error("cannot restore the node's state from " + data_dir_.path() + ": " +
                             restored.error().message);
  }
  raft::Restored state = std::move(restored).value();
  const NodeId self(config_.id);
  bool empty = state.hard_state.term == Term(0) && state.entries.empty() && state.snapshot.index == Index(0);
  bool mode_given = !config_.initial_members.empty() || config_.solo || !config_.join.empty();
  if (!empty) {
    if (mode_given) {
      spdlog::info("data directory {} holds state (term {}, log through {}, snapshot through {}): ignoring "
                   "initial_members/solo/join and restarting from disk",
                   data_dir_.path(), state.hard_state.term.value(),
                   state.entries.empty() ? state.snapshot.index.value() : state.entries.back().index.value(),
                   state.snapshot.index.value());
    }
  } else if (!config_.initial_members.empty() || config_.solo) {
    std::map<NodeId, std::string> founders;
    if (config_.solo) {
      founders[self] = config_.advertise;
    } else {
      for (const auto& [id, address] : config_.initial_members) founders[NodeId(id)] = address;
    }
    state = raft::bootstrap(founders);
    // The founding state is persisted before the core exists, exactly as if
    // it had been recovered (raft.h, bootstrap()).
    raft::Ready founding;
    founding.entries = state.entries;
    founding.hard_state = state.hard_state;
    founding.must_sync = true;
    if (storage::Status s = data_dir_.persist(founding); !s) {
      throw std::runtime_error("cannot write the founding state to " + data_dir_.path() + ": " + s.error().message);
    }
    std::string who;
    for (const auto& [id, address] : founders) who += (who.empty() ? "" : ", ") + std::to_string(id.value()) + "=" + address;
    spdlog::info("founded cluster '{}' with {} {}: {}", config_.cluster_id, founders.size(),
                 founders.size() == 1 ? "voter (solo)" : "voters", who);
  } else if (!config_.join.empty()) {
    spdlog::info("data directory {} is empty: joining the cluster through {}", data_dir_.path(), config_.join);
  } else {
    throw std::runtime_error("the data directory " + data_dir_.path() +
                             " is empty and none of initial_members, solo or join was given: give exactly one "
                             "(--initial-members to found a cluster, --solo to found a cluster of one, --join "
                             "HOST:PORT to join an existing cluster)");
  }

  raft::Options options;
  options.id = self;
  options.election_ticks = static_cast<int>(config_.election_ticks);
  options.heartbeat_ticks = static_cast<int>(config_.heartbeat_ticks);
  options.random_seed = config_.id * 0x9E3779B97F4A7C15ull ^
                        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  raft_ = std::make_unique<raft::Raft>(options, state);
  applied_ = state.applied;
  snapshot_index_ = state.snapshot.index;
  for (const auto& [id, address] : config_.initial_members) known_addresses_[NodeId(id)] = address;
  last_term_ = raft_->term();
  last_role_ = raft_->role();
  last_leader_ = raft_->leader();
  const raft::Configuration& config = raft_->config();
  was_member_ = config.contains(self);
  // A joiner asks until it is a voter; a restarted learner that was given
  // --join keeps asking, so a new leader learns to promote it.
  if (!config_.join.empty() && !config.is_voter(self)) join_target_ = config_.join;
  spdlog::info("restored: term {}, commit {}, last index {}, snapshot through {}; configuration {}",
               raft_->term().value(), raft_->commit_index().value(), raft_->last_index().value(),
               snapshot_index_.value(), describe(config));
}

void Node::start(PeerNetwork& network, ExitHandler on_exit) {
  if (!raft_) throw std::logic_error("Node::start before recover()");
  network_ = &network;
  on_exit_ = std::move(on_exit);
  update_peer_addresses();
  schedule_tick();
  poke();
}

std::uint64_t Node::ticks(std::uint64_t election_timeouts) const { return election_timeouts * config_.election_ticks; }

void Node::schedule_tick() {
  tick_timer_.expires_after(std::chrono::milliseconds(config_.tick_ms));
  tick_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    on_tick();
    schedule_tick();
  });
}

void Node::on_tick() {
  ++tick_count_;
  raft_->tick();
  expire_pending();
  join_tick();
  leader_membership_tick();
  check_own_removal();
  check_transfer();
  if (app_snapshot_ && tick_count_ >= app_snapshot_->deadline_tick) {
    abort_app_snapshot("the application did not finish it within " + std::to_string(config_.snapshot_timeout_ms) +
                       " ms (snapshot_timeout_ms)");
  }
  if (stopped_) return;
  if (shutting_down_ && (raft_->role() != Role::kLeader || tick_count_ >= shutdown_deadline_tick_)) {
    drain();
    if (raft_->role() == Role::kLeader) {
      spdlog::warn("shutdown: leadership was not handed off within {} ticks; stopping as leader",
                   ticks(3));
    }
    return finish(0, "stopped on request");
  }
  poke();
}

void Node::poke() {
  if (drain_posted_ || stopped_) return;
  drain_posted_ = true;
  boost::asio::post(io_, [this] { drain(); });
}

void Node::drain() {
  drain_posted_ = false;
  if (stopped_) return;
  if (in_flight_) {
    // A leader's appends for what was proposed while its sync runs leave
    // now rather than after it (raft.h, take_early_messages): the
    // followers write them while the leader syncs the batch before.
    std::vector<raft::Message> early = raft_->take_early_messages();
    send_messages(early);
    return;
  }
  // Bounded: each pass consumes the core's output; a core that kept
  // producing Readies with no input would be a core bug, so stop counting
  // at a generous limit and let the next event resume.
  for (int pass = 0; pass < 1000 && raft_->has_ready(); ++pass) {
    raft::Ready ready = raft_->ready();
    // A leader's appends leave before its own write (raft.h, §10.2.1), so
    // its fsync overlaps the followers' round trip; everything else waits
    // for the write.
    if (ready.leader_may_send_first) send_messages(ready.messages);
    auto owed = data_dir_.write(ready);
    if (!owed) return fail_stop("persisting to " + data_dir_.path() + " failed: " + owed.error().message);
    if (owed->sync) {
      // The sync runs on its own thread; the loop keeps reading and
      // stepping the core meanwhile, but takes no Ready, sends nothing of
      // this one (but what went first) and advances nothing until it is
      // durable (sync_done).
      in_flight_ = std::move(ready);
      sync_started_ = std::chrono::steady_clock::now();
      sync_thread_->run([this, owed = *owed] { return data_dir_.sync(owed); },
                        [this, alive = std::weak_ptr<int>(alive_)](storage::Status s) {
                          if (alive.expired()) return;
                          sync_done(std::move(s));
                        });
      observe_changes();
      check_transfer();
      pump_all();
      return;
    }
    if (!after_persist(ready)) return;
  }
  end_drain();
}

void Node::sync_done(storage::Status status) {
  raft::Ready ready = std::move(*in_flight_);
  in_flight_.reset();
  if (stopped_) return;
  if (!status) return fail_stop("persisting to " + data_dir_.path() + " failed: " + status.error().message);
  fsync_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - sync_started_).count());
  if (!after_persist(ready)) return;
  auto steps = std::move(after_sync_);
  after_sync_.clear();
  for (auto& step : steps) {
    step();
    if (stopped_) return;
  }
  drain();
}

bool Node::after_persist(raft::Ready& ready) {
  if (ready.snapshot) {
    snapshot_index_ = ready.snapshot->index;
    if (applied_ < ready.snapshot->index) applied_ = ready.snapshot->index;
    spdlog::info("snapshot: installed the leader's snapshot through index {} (term {}); configuration {}",
                 ready.snapshot->index.value(), ready.snapshot->term.value(), describe(ready.snapshot->config));
    // Proposals this node was waiting for are now inside a snapshot: their
    // fate is unknown here.
    while (!pending_.empty() && pending_.begin()->first <= ready.snapshot->index) {
      auto node = pending_.extract(pending_.begin());
      node.mapped().done(Outcome{ipc::AdminError::kTimeout,
                                 "the outcome is unknown: this node installed a snapshot past the entry; check "
                                 "the log before retrying",
                                 node.key(), node.mapped().term});
    }
  }
  if (!ready.leader_may_send_first) send_messages(ready.messages);
  apply(ready);
  if (stopped_) return false;
  answer_reads(ready);
  raft_->advance(ready);
  return true;
}

void Node::end_drain() {
  observe_changes();
  check_transfer();
  pump_all();
  if (!in_flight_ && raft_->has_ready()) poke();
}

void Node::after_sync(std::function<void()> step) {
  if (in_flight_) {
    after_sync_.push_back(std::move(step));
  } else {
    step();
  }
}

void Node::send_messages(std::vector<raft::Message>& messages) {
  if (messages.empty()) return;
  // A configuration takes effect once appended: route these to any member
  // it introduced.
  update_peer_addresses();
  for (raft::Message& m : messages) {
    if (m.type == raft::MessageType::kInstallSnapshot) {
      send_snapshot(std::move(m));
    } else {
      network_->send(std::move(m));
    }
  }
}

void Node::apply(const raft::Ready& ready) {
  // The applications read committed entries from the log themselves
  // (node_apps.cpp); applying here is tracking the applied index, acting on
  // membership changes and answering whoever waits for a proposal.
  bool removed = false;
  for (const raft::Entry& entry : ready.committed) {
    if (entry.index <= applied_) continue;
    applied_ = entry.index;
    if (entry.type == raft::EntryType::kConfig) {
      apply_config_entry(entry);
      auto change = raft::decode_config_change(entry.data);
      if (change && change->type == raft::ConfigChangeType::kRemove && change->node == NodeId(config_.id)) {
        removed = true;
      }
    }
    resolve_committed(entry);
  }
  if (removed) finish(0, "this node's removal from the cluster committed at index " + std::to_string(applied_.value()));
}

void Node::apply_config_entry(const raft::Entry& entry) {
  auto change = raft::decode_config_change(entry.data);
  if (!change) {
    spdlog::error("membership: the configuration entry at index {} does not decode; ignoring it", entry.index.value());
    return;
  }
  const auto node = change->node.value();
  switch (change->type) {
    case raft::ConfigChangeType::kBootstrap:
      spdlog::info("membership: founding configuration committed (index {}): {}", entry.index.value(),
                   describe(change->founders));
      break;
    case raft::ConfigChangeType::kAddLearner:
      spdlog::info("membership: node {} added as a learner at {} (index {})", node, change->address,
                   entry.index.value());
      break;
    case raft::ConfigChangeType::kPromote:
      spdlog::info("membership: node {} promoted to voter (index {})", node, entry.index.value());
      to_promote_.erase(change->node);
      break;
    case raft::ConfigChangeType::kRemove:
      spdlog::info("membership: node {} removed (index {})", node, entry.index.value());
      to_promote_.erase(change->node);
      if (raft_->role() == Role::kLeader && change->node != NodeId(config_.id)) tell_removed(change->node, entry.index);
      break;
  }
}

void Node::observe_changes() {
  Role role = raft_->role();
  Term term = raft_->term();
  NodeId leader = raft_->leader();
  if (term != last_term_ || role != last_role_ || leader != last_leader_) {
    notify_status(describe_status(role, term, leader));  // systemd's STATUS= line
  }
  if (term != last_term_) {
    spdlog::info("term: {} -> {}", last_term_.value(), term.value());
    last_term_ = term;
  }
  if (role != last_role_) {
    spdlog::info("role: {} -> {} (term {})", raft::to_string(last_role_), raft::to_string(role), term.value());
    if (last_role_ == Role::kLeader) {
      // Join requests queued here are the new leader's to handle; joiners ask again.
      joins_waiting_.clear();
      joins_in_flight_.clear();
      fail_pending_on_step_down();
    }
    last_role_ = role;
  }
  if (leader != last_leader_) {
    fail_forwards_not_to(leader);
    if (leader == raft::kNoNode) {
      spdlog::info("leader: none known (term {})", term.value());
    } else {
      ++counts_.leader_changes;
      spdlog::info("leader: node {} at {} (term {})", leader.value(), address_of(leader), term.value());
    }
    last_leader_ = leader;
  }
}

void Node::update_peer_addresses() {
  const raft::Configuration& config = raft_->config();
  if (last_config_ && *last_config_ == config) return;
  const NodeId self(config_.id);
  for (const auto& [id, address] : config.addresses) known_addresses_[id] = address;
  std::map<NodeId, std::string> peers;
  auto add = [&](NodeId id) {
    if (id == self) return;
    auto it = config.addresses.find(id);
    if (it != config.addresses.end()) {
      peers[id] = it->second;
    } else if (auto k = known_addresses_.find(id); k != known_addresses_.end()) {
      peers[id] = k->second;
    }
  };
  for (NodeId id : config.voters) add(id);
  for (NodeId id : config.learners) add(id);
  // A joiner outside every configuration still answers the leader that
  // contacts it, at the address its join answer gave.
  if (!config.contains(self)) {
    for (const auto& [id, address] : known_addresses_) {
      if (id != self) peers.emplace(id, address);
    }
  }
  if (network_) network_->set_peer_addresses(peers);
  if (last_config_) spdlog::info("membership: configuration is now {}", describe(config));
  last_config_ = config;
  if (config.contains(self)) {
    was_member_ = true;
    removed_since_tick_.reset();
  }
}

void Node::expire_pending() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline_tick > tick_count_) {
      ++it;
      continue;
    }
    auto done = std::move(it->second.done);
    Outcome outcome{ipc::AdminError::kTimeout,
                    "not committed within " + std::to_string(ticks(20) * config_.tick_ms) +
                        " ms; it may still commit, so check the log before retrying",
                    it->first, it->second.term};
    it = pending_.erase(it);
    done(outcome);
  }
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    if (it->second.deadline_tick > tick_count_) {
      ++it;
      continue;
    }
    auto reply = std::move(it->second.reply);
    it = forwards_.erase(it);
    reply(ipc::AdminReply::failure(ipc::AdminError::kTimeout,
                                   "the leader did not answer the forwarded proposal in time; it may still "
                                   "commit, so check the log before retrying"));
  }
  expire_status_asks();
}

void Node::fail_stop(const std::string& what) {
  spdlog::critical("{}. Stopping now (fail-stop): nothing that was not persisted has been or will be acknowledged. "
                   "Fix the disk, then restart the node; it recovers from what was synced.",
                   what);
  finish(1, "fail-stop");
}

void Node::finish(int exit_code, const std::string& why) {
  if (stopped_) return;
  stopped_ = true;
  tick_timer_.cancel();
  fail_all_pending(ipc::AdminError::kShuttingDown, "the node is stopping (" + why + ")");
  fail_app_requests("the sidecar is stopping (" + why + ")");
  discard_incoming();
  spdlog::log(exit_code == 0 ? spdlog::level::info : spdlog::level::err, "node stopping: {} (exit code {})", why,
              exit_code);
  if (on_exit_) {
    // Posted, so the caller's stack (a drain, a handler) unwinds first.
    boost::asio::post(io_, [cb = on_exit_, exit_code] { cb(exit_code); });
  }
}

void Node::shutdown() {
  if (stopped_ || shutting_down_) return;
  shutting_down_ = true;
  shutdown_deadline_tick_ = tick_count_ + ticks(3);
  if (raft_->role() != Role::kLeader) return finish(0, "stopped on request");
  // Hand off to the most caught-up voter, so the cluster does not wait an
  // election timeout for a new leader.
  NodeId best = raft::kNoNode;
  Index best_match;
  for (const raft::PeerStatus& p : raft_->status().peers) {
    if (!p.voter || p.id == NodeId(config_.id)) continue;
    if (best == raft::kNoNode || p.match > best_match || (p.match == best_match && p.recently_active)) {
      best = p.id;
      best_match = p.match;
    }
  }
  if (best == raft::kNoNode) return finish(0, "stopped on request (no other voter to hand leadership to)");
  raft::Status s = raft_->transfer_leadership(best);
  spdlog::info("shutdown: handing leadership to node {} (match {}): {}", best.value(), best_match.value(),
               raft::to_string(s));
  if (s != raft::Status::kOk) return finish(0, "stopped on request");
  poke();
}

raft::NodeStatus Node::status() const {
  raft::NodeStatus s = raft_->status();
  s.applied = applied_;
  return s;
}

}  // namespace conclave::node
