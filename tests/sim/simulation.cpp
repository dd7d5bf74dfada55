// The simulation's event loop, fault schedule and liveness phase.
#include "tests/sim/simulation.h"

#include <algorithm>
#include <sstream>

#include "tests/sim/violation.h"
#include "tests/sim/workload.h"

namespace conclave::sim {

using raft::Index;
using raft::NodeId;

namespace {
// A runaway guard: no plan comes near it, so hitting it is a simulator bug
// (or a core that floods the network), reported like any other violation.
constexpr std::uint64_t kMaxSteps = 20'000'000;
}  // namespace

Simulation::Simulation(const RunPlan& plan, bool verbose, Observer* observer)
    : plan_(plan),
      observer_(observer),
      rng_(plan.seed),
      fault_rng_(rng_.fork()),
      network_(rng_.fork()),
      checker_(raft::Configuration{}) {
  trace_.enable(verbose);
  workload_ = std::make_unique<Workload>(*this, rng_.fork());
}

Simulation::~Simulation() = default;

Host* Simulation::host(NodeId id) {
  auto it = hosts_.find(id);
  return it == hosts_.end() ? nullptr : it->second.get();
}

bool Simulation::paused(NodeId id) const {
  auto it = paused_until_.find(id);
  return it != paused_until_.end() && it->second > now_;
}

std::vector<Host*> Simulation::live_hosts() {
  std::vector<Host*> out;
  for (auto& [id, h] : hosts_) {
    if (h->alive() && !paused(id)) out.push_back(h.get());
  }
  return out;
}

Host* Simulation::leader() {
  Host* best = nullptr;
  for (auto& [id, h] : hosts_) {
    if (!h->alive() || paused(id) || h->core().role() != raft::Role::kLeader) continue;
    if (best == nullptr || h->core().term() > best->core().term()) best = h.get();
  }
  return best;
}

void Simulation::schedule(std::uint64_t after_units, Kind kind, NodeId node,
                          std::uint64_t incarnation) {
  Event e;
  e.kind = kind;
  e.node = node;
  e.incarnation = incarnation;
  events_.push(now_ + after_units, std::move(e));
}

void Simulation::schedule_every(Kind kind, std::uint64_t mean_units) {
  if (mean_units == 0) return;
  schedule(fault_rng_.between(std::max<std::uint64_t>(1, mean_units / 2), mean_units * 3 / 2), kind);
}

Host& Simulation::create_host(NodeId id, const raft::SnapshotMeta& initial) {
  auto h = std::make_unique<Host>(id, initial, plan_.host, rng_.fork(), *this);
  Host& ref = *h;
  hosts_[id] = std::move(h);
  // Each host's clock runs a little fast or slow: ticks do not line up.
  tick_units_[id] = plan_.tick_units - 1 + rng_.below(3);
  if (id.value() >= next_id_) next_id_ = id.value() + 1;
  return ref;
}

void Simulation::start_host(Host& h) {
  h.start();
  schedule(rng_.between(1, tick_units_[h.id()]), Kind::kTick, h.id(), h.incarnation());
}

Host& Simulation::add_joiner() {
  const NodeId id(next_id_);
  // A joiner starts empty, with an empty configuration, and waits for the
  // leader to send it the log or a snapshot.
  Host& h = create_host(id, raft::SnapshotMeta{Index(0), raft::Term(0), raft::Configuration{}});
  start_host(h);
  return h;
}

void Simulation::stop_host(NodeId id, std::uint64_t after_units) {
  schedule(after_units, Kind::kStop, id);
}

void Simulation::send(Packet packet) {
  if (packet.transfer != 0 && packet.chunk == 0) ++stats_.snapshots_sent;
  const std::vector<std::uint64_t> arrivals =
      network_.fate(packet.message.from, packet.message.to, now_);
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    Event e;
    e.kind = Kind::kDeliver;
    e.packet = i + 1 < arrivals.size() ? packet : std::move(packet);
    events_.push(arrivals[i], std::move(e));
  }
}

void Simulation::on_applied(Host& host, const raft::Entry& entry) {
  workload_->on_applied(host, entry);
  if (observer_ != nullptr) observer_->on_applied(now_, host.id(), entry.index);
  if (entry.type != raft::EntryType::kConfig) return;
  const raft::Configuration& config = checker_.committed_config();
  if (config == last_config_) return;
  // A node removed by a committed change keeps running a little while (a
  // removed server must not disrupt the cluster), then stops for good.
  for (NodeId id : last_config_.voters) {
    if (!config.contains(id)) stop_host(id, fault_rng_.below(20 * plan_.tick_units));
  }
  for (NodeId id : last_config_.learners) {
    if (!config.contains(id)) stop_host(id, fault_rng_.below(20 * plan_.tick_units));
  }
  if (trace_.on()) trace_.line() << "committed configuration is now " << config;
  last_config_ = config;
}

void Simulation::on_read_served(Host& host, std::uint64_t context, Index read_index) {
  workload_->on_read_served(host, context, read_index);
}

void Simulation::on_read_failed(Host& host, std::uint64_t context) {
  workload_->on_read_failed(host, context);
}

void Simulation::on_snapshot_installed(Host& host) {
  ++stats_.snapshots_installed;
  workload_->on_snapshot_installed(host);
}

void Simulation::on_crashed(Host& host) {
  ++stats_.crashes;
  workload_->on_host_down(host.id());
  const std::uint64_t down = fault_rng_.between(1, plan_.max_down_ticks) * plan_.tick_units;
  schedule(liveness_ ? 1 : down, Kind::kRestart, host.id(), host.incarnation());
}

void Simulation::crash_some_host() {
  std::vector<Host*> live = live_hosts();
  const std::size_t down = hosts_.size() - live.size();
  if (live.empty() || down >= static_cast<std::size_t>(plan_.max_down_nodes)) return;
  // The leader half the time: its crashes are the ones that strand entries
  // on a minority and make the next elections interesting (Figure 8).
  Host* h = live[fault_rng_.below(live.size())];
  if (Host* l = leader(); l != nullptr && fault_rng_.chance(500)) h = l;
  if (fault_rng_.chance(500)) {
    h->crash();
    return;
  }
  // Strike inside the handling of the host's next output, at a chosen stage;
  // if it has none soon, crash it between steps instead.
  h->arm_crash(static_cast<CrashPoint>(fault_rng_.below(kCrashPoints)), fault_rng_.below(3));
  schedule(3 * plan_.tick_units, Kind::kCrash, h->id(), h->incarnation());
  if (trace_.on()) trace_.line() << "node " << h->id() << " armed to crash";
}

void Simulation::partition() {
  if (network_.partitioned()) return;
  std::vector<NodeId> ids;
  for (auto& [id, h] : hosts_) ids.push_back(id);
  if (ids.size() < 2) return;
  for (std::size_t i = ids.size() - 1; i > 0; --i) {
    std::swap(ids[i], ids[fault_rng_.below(i + 1)]);
  }
  std::set<NodeId> a;
  std::set<NodeId> b;
  switch (fault_rng_.below(4)) {
    case 0: {  // symmetric split into a minority and the rest
      const std::size_t k = fault_rng_.between(1, ids.size() / 2);
      a.insert(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k));
      b.insert(ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end());
      network_.cut(a, b, true);
      break;
    }
    case 1: {  // the leader alone
      Host* l = leader();
      const NodeId x = l != nullptr ? l->id() : ids[0];
      a.insert(x);
      for (NodeId id : ids) if (id != x) b.insert(id);
      network_.cut(a, b, true);
      break;
    }
    case 2: {  // one node hears but is not heard, or the reverse
      a.insert(ids[0]);
      b.insert(ids.begin() + 1, ids.end());
      if (fault_rng_.chance(500)) network_.cut(a, b, false); else network_.cut(b, a, false);
      break;
    }
    default: {  // a few random one-way links
      const std::uint64_t links = fault_rng_.between(1, ids.size());
      for (std::uint64_t i = 0; i < links; ++i) {
        const NodeId x = ids[fault_rng_.below(ids.size())];
        const NodeId y = ids[fault_rng_.below(ids.size())];
        network_.cut({x}, {y}, false);
      }
      break;
    }
  }
  ++stats_.partitions;
  if (trace_.on()) trace_.line() << "partition: " << network_.describe();
  if (observer_ != nullptr) observer_->on_partition(now_, network_.describe());
  schedule(fault_rng_.between(5, plan_.partition_ticks_max) * plan_.tick_units, Kind::kHeal);
}

void Simulation::pause_some_host() {
  std::vector<Host*> live = live_hosts();
  if (live.empty()) return;
  Host* h = live[fault_rng_.below(live.size())];
  if (Host* l = leader(); l != nullptr && fault_rng_.chance(500)) h = l;
  const std::uint64_t until =
      now_ + fault_rng_.between(1, plan_.pause_ticks_max) * plan_.tick_units;
  paused_until_[h->id()] = until;
  ++stats_.pauses;
  if (trace_.on()) trace_.line() << "node " << h->id() << " pauses until t=" << until;
}

void Simulation::begin_liveness() {
  liveness_ = true;
  network_.heal();
  NetworkFaults calm = plan_.network;
  calm.loss_permille = 0;
  calm.dup_permille = 0;
  calm.long_delay_permille = 0;
  calm.fifo = true;
  network_.set_faults(calm);
  // The bound: a fixed allowance for elections and restarts, plus the round
  // trips the flow-control limits need to carry the furthest-behind node's
  // gap (a snapshot may shorten it; it can only help).
  Index most;
  Index least = Index(~std::uint64_t{0});
  for (auto& [id, h] : hosts_) {
    most = std::max(most, h->disk().view().log.last_index());
    least = std::min(least, h->machine().applied);
  }
  const std::uint64_t gap = most > least ? most.value() - least.value() : 0;
  const std::uint64_t per_trip = plan_.host.options.max_entries_per_message *
                                 plan_.host.options.max_inflight_messages;
  const std::uint64_t trips = gap / std::max<std::uint64_t>(1, per_trip) + 1;
  liveness_deadline_ = now_ + plan_.liveness_ticks * plan_.tick_units +
                       trips * 2 * (calm.delay_max + plan_.tick_units);
  if (trace_.on()) trace_.line() << "liveness phase: faults stop, partitions heal, nodes restart";
  if (observer_ != nullptr) observer_->on_heal(now_);
  paused_until_.clear();
  for (auto& [id, h] : hosts_) {
    h->disarm();
    if (!h->alive()) start_host(*h);
  }
  schedule(plan_.tick_units, Kind::kProbe);
}

void Simulation::probe_liveness() {
  workload_->resolve_membership();
  if (marker_) {
    // Lost to a leader change: another entry committed at its index, or a
    // leader of a later term lacks it (a leader never rewrites its own log,
    // so that leader will never commit it).
    const HistorySlot* slot = checker_.history(marker_->first);
    const Host* l = leader();
    const std::optional<raft::Term> t =
        l == nullptr ? std::nullopt : l->disk().view().log.term_at(marker_->first);
    const bool superseded = l != nullptr && l->core().term() > marker_->second &&
                            (!t || *t != marker_->second);
    if ((slot != nullptr && slot->entry.term != marker_->second) ||
        (slot == nullptr && superseded)) {
      marker_.reset();
    }
  }
  const raft::Configuration& config = checker_.committed_config();
  if (!marker_) {
    Host* l = leader();
    if (l == nullptr || !config.is_voter(l->id())) return;
    const raft::Proposal p = l->core().propose("marker" + std::to_string(++marker_seq_));
    if (p.ok()) {
      marker_ = std::make_pair(p.index, p.term);
      acked_at_marker_ = checker_.acked_write();
    }
    l->drain();
    if (!marker_) return;
  }
  const HistorySlot* slot = checker_.history(marker_->first);
  if (slot == nullptr || slot->entry.term != marker_->second) return;
  // Every member must hold the marker and every write acknowledged before it.
  const Index need = std::max(marker_->first, acked_at_marker_);
  for (const std::set<NodeId>* group : {&config.voters, &config.learners}) {
    for (NodeId id : *group) {
      Host* h = host(id);
      if (h == nullptr || !h->alive() || h->machine().applied < need) return;
    }
  }
  if (trace_.on()) trace_.line() << "liveness: marker at index " << marker_->first << " applied everywhere";
  if (observer_ != nullptr) observer_->on_liveness_done(now_, marker_->first);
  done_ = true;
}

std::string Simulation::describe_cluster() {
  std::ostringstream out;
  out << "committed config " << checker_.committed_config() << ", committed through "
      << checker_.committed_through();
  if (marker_) out << ", marker at (" << marker_->first << ", " << marker_->second << ")";
  for (auto& [id, h] : hosts_) {
    out << "; node " << id << ": ";
    if (!h->alive()) {
      out << "down";
      continue;
    }
    out << raft::to_string(h->core().role()) << " term " << h->core().term() << " leader "
        << h->core().leader() << " commit " << h->core().commit_index() << " applied "
        << h->machine().applied << " last " << h->core().last_index();
  }
  return out.str();
}

void Simulation::dispatch(Event& e) {
  switch (e.kind) {
    case Kind::kDeliver: {
      const raft::Message& m = e.packet.message;
      Host* h = host(m.to);
      if (h == nullptr || !h->alive() || network_.blocked(m.from, m.to)) return;
      if (paused(m.to)) {  // waits in the socket buffer until the host resumes
        const std::uint64_t resume = paused_until_[m.to];
        events_.push(resume, std::move(e));
        return;
      }
      if (trace_.on() && e.packet.transfer == 0) {
        trace_.line() << m.from << "->" << m.to << " " << raft::to_string(m.type) << " term "
                      << m.term << (m.reject ? " reject" : "")
                      << (m.entries.empty() ? "" : " entries " + std::to_string(m.entries.size()))
                      << " commit " << m.commit << " match " << m.match_index << " log ("
                      << m.last_log_index << ", " << m.last_log_term << ") prev (" << m.prev_index
                      << ", " << m.prev_term << ")";
      }
      h->receive(std::move(e.packet));
      return;
    }
    case Kind::kTick: {
      Host* h = host(e.node);
      if (h == nullptr || !h->alive() || h->incarnation() != e.incarnation) return;
      if (paused(e.node)) {
        events_.push(paused_until_[e.node], std::move(e));
        return;
      }
      h->tick();
      if (h->alive() && h->incarnation() == e.incarnation) {
        schedule(tick_units_[e.node], Kind::kTick, e.node, e.incarnation);
      }
      return;
    }
    case Kind::kCrash: {
      if (liveness_) return;
      if (e.node != raft::kNoNode) {  // an armed crash that has not struck yet
        Host* h = host(e.node);
        if (h != nullptr && h->alive() && h->crash_armed() && h->incarnation() == e.incarnation) {
          h->crash();
        }
        return;
      }
      crash_some_host();
      schedule_every(Kind::kCrash, plan_.crash_every_ticks * plan_.tick_units);
      return;
    }
    case Kind::kRestart: {
      Host* h = host(e.node);
      if (h == nullptr || h->alive() || h->incarnation() != e.incarnation) return;
      start_host(*h);
      return;
    }
    case Kind::kPartition:
      if (liveness_) return;
      partition();
      schedule_every(Kind::kPartition, plan_.partition_every_ticks * plan_.tick_units);
      return;
    case Kind::kPause:
      if (liveness_) return;
      pause_some_host();
      schedule_every(Kind::kPause, plan_.pause_every_ticks * plan_.tick_units);
      return;
    case Kind::kHeal:
      if (!network_.partitioned()) return;
      network_.heal();
      if (trace_.on()) trace_.line() << "partition heals";
      if (observer_ != nullptr) observer_->on_heal(now_);
      return;
    case Kind::kPropose:
      // Once faults stop, the marker is the only proposal: a workload faster
      // than a tightly flow-controlled follower can absorb would otherwise
      // keep it behind forever, which says nothing about liveness.
      if (liveness_) return;
      workload_->propose();
      schedule_every(Kind::kPropose, plan_.propose_every_units);
      return;
    case Kind::kRead:
      workload_->read();
      schedule_every(Kind::kRead, plan_.read_every_units);
      return;
    case Kind::kMembership:
      if (liveness_) return;
      workload_->change_membership();
      schedule_every(Kind::kMembership, plan_.membership_every_ticks * plan_.tick_units);
      return;
    case Kind::kTransfer:
      if (liveness_) return;
      workload_->transfer_leadership();
      schedule_every(Kind::kTransfer, plan_.transfer_every_ticks * plan_.tick_units);
      return;
    case Kind::kStop: {
      if (host(e.node) == nullptr) return;
      if (trace_.on()) trace_.line() << "node " << e.node << " stops for good";
      workload_->on_host_down(e.node);
      hosts_.erase(e.node);
      stopped_.insert(e.node);
      return;
    }
    case Kind::kProbe:
      probe_liveness();
      schedule(plan_.tick_units, Kind::kProbe);
      return;
    case Kind::kDemoIsolate: {
      Host* l = leader();
      if (l == nullptr) {
        schedule(plan_.tick_units, Kind::kDemoIsolate);
        return;
      }
      std::set<NodeId> rest;
      for (auto& [id, h] : hosts_) if (id != l->id()) rest.insert(id);
      network_.cut({l->id()}, rest, true);
      if (observer_ != nullptr) observer_->on_partition(now_, network_.describe());
      schedule(plan_.partition_ticks_max * plan_.tick_units, Kind::kHeal);
      return;
    }
  }
}

void Simulation::after_step() {
  if (observer_ == nullptr) return;
  for (auto& [id, h] : hosts_) {
    const bool leading = h->alive() && h->core().role() == raft::Role::kLeader;
    auto it = leader_terms_.find(id);
    if (leading && (it == leader_terms_.end() || it->second != h->core().term())) {
      leader_terms_[id] = h->core().term();
      observer_->on_leader(now_, id, h->core().term());
    } else if (!leading && it != leader_terms_.end()) {
      observer_->on_step_down(now_, id, it->second);
      leader_terms_.erase(it);
    }
  }
}

RunResult Simulation::run() {
  RunResult result;
  try {
    // The founders' configuration is the first log entry (raft::bootstrap),
    // so the checker learns it when the founders apply it, like any other.
    std::set<NodeId> founders;
    for (int i = 1; i <= plan_.nodes; ++i) founders.insert(NodeId(static_cast<std::uint64_t>(i)));
    checker_ = Checker(raft::Configuration{});
    last_config_ = raft::Configuration{};
    const raft::Restored founding = raft::bootstrap(founders);
    for (NodeId id : founders) create_host(id, founding.snapshot).bootstrap(founding);
    for (NodeId id : founders) start_host(*host(id));
    network_.set_faults(plan_.network);
    fault_end_ = plan_.fault_ticks * plan_.tick_units;
    schedule_every(Kind::kPropose, plan_.propose_every_units);
    schedule_every(Kind::kRead, plan_.read_every_units);
    schedule_every(Kind::kCrash, plan_.crash_every_ticks * plan_.tick_units);
    schedule_every(Kind::kPartition, plan_.partition_every_ticks * plan_.tick_units);
    schedule_every(Kind::kMembership, plan_.membership_every_ticks * plan_.tick_units);
    schedule_every(Kind::kPause, plan_.pause_every_ticks * plan_.tick_units);
    schedule_every(Kind::kTransfer, plan_.transfer_every_ticks * plan_.tick_units);
    if (plan_.demo) schedule(fault_end_ / 4, Kind::kDemoIsolate);

    while (!done_) {
      if (events_.empty()) fail("simulator") << "no events left";
      if (stats_.steps >= kMaxSteps) fail("simulator") << "step bound " << kMaxSteps << " reached";
      auto [time, event] = events_.pop();
      now_ = time;
      trace_.set_time(now_);
      if (!liveness_ && now_ >= fault_end_) begin_liveness();
      if (liveness_ && now_ > liveness_deadline_) {
        fail("liveness") << "no leader committed a marker on every live member within "
                         << plan_.liveness_ticks << " ticks after faults stopped: "
                         << describe_cluster();
      }
      dispatch(event);
      ++stats_.steps;
      after_step();
    }
  } catch (const Violation& v) {
    result.violation = v.what();
  } catch (const std::exception& e) {
    // The core fails-stop on a broken invariant by throwing: that is a finding too.
    result.violation = std::string("core or simulator threw: ") + e.what();
  }
  result.violation_time = now_;
  stats_.end_time = now_;
  stats_.committed = checker_.committed_through().value();
  stats_.reads_checked = checker_.reads_checked();
  stats_.leaders = checker_.leaders_elected();
  result.stats = stats_;
  return result;
}

}  // namespace conclave::sim
