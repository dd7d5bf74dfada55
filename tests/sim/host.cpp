// A simulated server driving one Raft core by the contract in raft.h.
#include "tests/sim/host.h"

#include <algorithm>

#include "tests/sim/violation.h"

namespace conclave::sim {

using raft::Index;
using raft::MessageType;

namespace {
constexpr int kMaxReadiesPerInput = 64;
constexpr std::size_t kMaxAssemblies = 4;
constexpr std::size_t kMaxPendingReads = 4096;
}  // namespace

Host::Host(raft::NodeId id, const raft::SnapshotMeta& initial, const HostConfig& config,
           Rng rng, HostEnv& env)
    : id_(id),
      config_(config),
      rng_(rng),
      env_(env),
      disk_(initial, encode_snapshot(MachineState{}, 0)) {}

Host::~Host() = default;

void Host::bootstrap(const raft::Restored& founding) {
  disk_.write_entries(founding.entries);
  for (const raft::Entry& e : founding.entries) {
    if (const LogSlot* slot = disk_.view().log.at(e.index)) env_.checker().on_log_slot(id_, *slot);
  }
  disk_.write_hard_state(founding.hard_state);
  sync_disk();
}

void Host::start() {
  const SnapshotFile& snap = disk_.restart_snapshot();
  const std::optional<std::uint64_t> anchor =
      env_.checker().known_prefix_hash(snap.meta.index, snap.meta.term);
  if (!anchor) {
    fail("snapshot contract") << "node " << id_ << " restarts from a snapshot at (index "
                              << snap.meta.index << ", term " << snap.meta.term
                              << ") that matches no entry any log ever held";
  }
  const std::optional<MachineState> state = decode_snapshot(snap.data);
  if (!state || state->applied != snap.meta.index) {
    fail("snapshot contract") << "node " << id_ << " holds a corrupt snapshot at index "
                              << snap.meta.index;
  }
  raft::Restored restored = disk_.recover(*anchor);
  machine_ = *state;
  // Resume from the application's saved state when it is newer than the
  // snapshot and the recovered log still reaches it.
  if (saved_machine_ && saved_machine_->applied > restored.snapshot.index &&
      saved_machine_->applied <= restored.hard_state.commit &&
      saved_machine_->applied <= disk_.view().log.last_index()) {
    machine_ = *saved_machine_;
    restored.applied = machine_.applied;
  }
  saved_machine_.reset();
  env_.checker().on_machine_replaced(id_, machine_, "restarted from");
  raft::Options options = config_.options;
  options.id = id_;
  options.random_seed = rng_.next();
  core_ = std::make_unique<raft::Raft>(options, restored);
  ++incarnation_;
  last_snapshot_ = snap.meta.index;
  reads_.clear();
  assemblies_.clear();
  armed_ = false;
  last_role_ = raft::Role::kFollower;
  if (env_.trace().on()) {
    env_.trace().line() << "node " << id_ << " starts (incarnation " << incarnation_
                        << "): term " << restored.hard_state.term << ", vote "
                        << restored.hard_state.vote << ", commit " << restored.hard_state.commit
                        << ", snapshot " << snap.meta.index << ", applied " << restored.applied
                        << ", " << restored.entries.size()
                        << " entries, config " << snap.meta.config;
  }
  drain();
}

void Host::crash() {
  if (!alive()) return;
  if (env_.trace().on()) {
    env_.trace().line() << "node " << id_ << " crashes (applied " << machine_.applied
                        << ", durable last index " << disk_.durable().log.last_index() << ")";
  }
  core_.reset();
  held_.reset();
  const raft::HardState before = disk_.durable().hard_state;
  disk_.crash(rng_);
  env_.checker().on_durable_hard_state(id_, before, disk_.durable().hard_state);
  reads_.clear();
  assemblies_.clear();
  armed_ = false;
  ++crashes_;
  env_.on_crashed(*this);
}

void Host::arm_crash(CrashPoint point, std::size_t after_items) {
  armed_ = true;
  crash_point_ = point;
  crash_after_items_ = after_items;
}

bool Host::crash_here(CrashPoint point, std::size_t items_done) {
  if (!armed_ || point != crash_point_) return false;
  const bool counted = point == CrashPoint::kMidSend || point == CrashPoint::kMidApply;
  if (counted && items_done != crash_after_items_) return false;
  if (env_.trace().on()) {
    env_.trace().line() << "node " << id_ << " crash strikes inside ready handling (point "
                        << static_cast<int>(point) << ", after " << items_done << " items)";
  }
  crash();
  return true;
}

void Host::tick() {
  core_->tick();
  // A held sync finishes within a tick: a disk that never answers is the
  // watchdog's business (conclaved stops pinging), not the core's.
  if (!settle_held(true)) return;
  drain();
}

void Host::receive(Packet packet) {
  if (packet.message.to != id_) {
    fail("simulator") << "packet for node " << packet.message.to << " delivered to " << id_;
  }
  if (packet.transfer != 0) {
    receive_chunk(std::move(packet));
    return;
  }
  core_->step(packet.message);
  drain();
}

void Host::receive_chunk(Packet packet) {
  const auto key = std::make_pair(packet.message.from, packet.transfer);
  auto it = assemblies_.find(key);
  if (it == assemblies_.end()) {
    if (assemblies_.size() >= kMaxAssemblies) {
      auto oldest = std::min_element(assemblies_.begin(), assemblies_.end(),
                                     [](const auto& a, const auto& b) {
                                       return a.second.started < b.second.started;
                                     });
      assemblies_.erase(oldest);
    }
    Assembly a;
    a.message = packet.message;
    a.parts.resize(packet.chunks);
    a.started = assembly_seq_++;
    it = assemblies_.emplace(key, std::move(a)).first;
  }
  Assembly& a = it->second;
  if (packet.chunk >= a.parts.size() || !a.parts[packet.chunk].empty()) return;  // duplicate
  a.parts[packet.chunk] = std::move(packet.bytes);
  if (++a.received < a.parts.size()) return;

  std::string data;
  for (const std::string& part : a.parts) data += part;
  const raft::Message message = std::move(a.message);
  assemblies_.erase(it);
  const raft::SnapshotMeta& meta = *message.snapshot;
  const std::optional<MachineState> state = decode_snapshot(data);
  if (!state || state->applied != meta.index) {
    fail("snapshot transfer") << "node " << id_ << " reassembled a corrupt snapshot at index "
                              << meta.index;
  }
  // Durable before the core hears of it, as the transport contract says.
  disk_.store_snapshot(meta, std::move(data), false);
  if (env_.trace().on()) {
    env_.trace().line() << "node " << id_ << " received snapshot (index " << meta.index
                        << ", term " << meta.term << ") from node " << message.from;
  }
  core_->step(message);
  drain();
}

void Host::drain() {
  if (!settle_held(false)) return;
  // While a Ready's sync is held, a leader may hand out the appends made
  // since (raft.h, take_early_messages), as the daemon does.
  if (held_ && rng_.chance(config_.early_send_permille)) {
    for (const raft::Message& m : core_->take_early_messages()) {
      check_send_contract(m);
      send(m);
    }
  }
  for (int i = 0; i < kMaxReadiesPerInput && alive() && !held_ && core_->has_ready(); ++i) {
    if (!handle_ready()) return;
  }
  if (!alive()) return;
  if (!held_ && core_->has_ready()) {
    fail("core contract") << "node " << id_ << " still has output after " << kMaxReadiesPerInput
                          << " ready/advance rounds for one input";
  }
  report_role();
}

void Host::report_role() {
  Checker& checker = env_.checker();
  if (env_.trace().on() && core_->role() != last_role_) {
    env_.trace().line() << "node " << id_ << " becomes " << raft::to_string(core_->role())
                        << " in term " << core_->term() << " (last index " << core_->last_index()
                        << ", commit " << core_->commit_index() << ", config " << core_->config()
                        << ")";
  }
  last_role_ = core_->role();
  checker.on_role(id_, core_->role(), core_->term(), disk_.view().log);
  checker.on_progress(id_, incarnation_, core_->term(), core_->commit_index());
}

bool Host::handle_ready() {
  raft::Ready rd = core_->ready();
  if (env_.trace().on()) {
    auto line = env_.trace().line();
    line << "node " << id_ << " ready:";
    if (rd.snapshot) line << " snapshot " << rd.snapshot->index << "@" << rd.snapshot->term;
    if (!rd.entries.empty()) {
      line << " entries " << rd.entries.front().index << ".." << rd.entries.back().index;
    }
    if (rd.hard_state) {
      line << " hard state (term " << rd.hard_state->term << ", vote " << rd.hard_state->vote
           << ", commit " << rd.hard_state->commit << ")";
    }
    line << (rd.must_sync ? " sync" : "") << " messages " << rd.messages.size();
    if (!rd.committed.empty()) {
      line << " apply " << rd.committed.front().index << ".." << rd.committed.back().index;
    }
    if (!rd.reads.empty()) line << " reads " << rd.reads.size();
  }
  // A leader may send first when the core allows it (raft.h): a crash can
  // then leave followers with entries the leader never made durable.
  const bool send_first = rd.leader_may_send_first && rng_.chance(config_.leader_send_first_permille);
  if (send_first) {
    if (!send_all(rd)) return false;
    if (crash_here(CrashPoint::kBeforeSend, 0)) return false;
  }
  // 1. Persist, then sync when the core says a sync is owed (maybe later).
  persist(rd);
  if (crash_here(CrashPoint::kBeforeSync, 0)) return false;
  if (rd.must_sync && rng_.chance(config_.hold_sync_permille)) {
    if (env_.trace().on()) env_.trace().line() << "node " << id_ << " holds the ready until its sync is done";
    held_ = Held{std::move(rd), send_first};
    return true;
  }
  return finish_ready(rd, send_first);
}

bool Host::send_all(const raft::Ready& rd) {
  for (std::size_t i = 0; i < rd.messages.size(); ++i) {
    if (crash_here(CrashPoint::kMidSend, i)) return false;
    check_send_contract(rd.messages[i]);
    send(rd.messages[i]);
  }
  return true;
}

bool Host::settle_held(bool force) {
  if (!held_ || !(force || rng_.chance(config_.held_sync_done_permille))) return true;
  Held held = std::move(*held_);
  held_.reset();
  if (env_.trace().on()) env_.trace().line() << "node " << id_ << " finishes the held ready";
  return finish_ready(held.ready, held.sent_first);
}

bool Host::finish_ready(const raft::Ready& rd, bool sent_first) {
  if (rd.must_sync || (disk_.has_pending() && rng_.chance(config_.lazy_sync_permille))) sync_disk();
  // 2. Send.
  if (!sent_first) {
    if (crash_here(CrashPoint::kBeforeSend, 0)) return false;
    if (!send_all(rd)) return false;
  }
  if (crash_here(CrashPoint::kBeforeApply, 0)) return false;
  // 3. Apply: a snapshot replaces the state machine, then entries follow.
  if (rd.snapshot) install_snapshot(*rd.snapshot);
  for (std::size_t i = 0; i < rd.committed.size(); ++i) {
    if (crash_here(CrashPoint::kMidApply, i)) return false;
    apply(rd.committed[i]);
  }
  for (const raft::ReadState& r : rd.reads) {
    if (reads_.size() >= kMaxPendingReads) {
      fail("simulator") << "node " << id_ << " has " << reads_.size() << " reads pending";
    }
    reads_.push_back(r);
  }
  for (std::uint64_t context : rd.failed_reads) env_.on_read_failed(*this, context);
  serve_reads();
  if (crash_here(CrashPoint::kBeforeAdvance, 0)) return false;
  // 4. Acknowledge.
  core_->advance(rd);
  // The application saves its state only through what is durably committed
  // on this node, so a restart never claims to have applied past its commit.
  if (rng_.chance(config_.machine_save_permille) &&
      machine_.applied <= disk_.durable().hard_state.commit) {
    saved_machine_ = machine_;
  }
  return maybe_take_snapshot();
}

void Host::persist(const raft::Ready& rd) {
  Checker& checker = env_.checker();
  if (rd.snapshot) {
    const raft::SnapshotMeta& meta = *rd.snapshot;
    if (disk_.find_snapshot(meta.index, meta.term) == nullptr) {
      fail("snapshot contract") << "node " << id_ << " core installs snapshot (index "
                                << meta.index << ", term " << meta.term
                                << ") that the host never received";
    }
    const std::optional<std::uint64_t> anchor = checker.known_prefix_hash(meta.index, meta.term);
    if (!anchor) {
      fail("snapshot contract") << "node " << id_ << " installs a snapshot at (index "
                                << meta.index << ", term " << meta.term
                                << ") that matches no entry any log ever held";
    }
    disk_.write_install(meta, *anchor);
  }
  if (!rd.entries.empty()) {
    const std::vector<LogSlot> removed = disk_.write_entries(rd.entries);
    const StoredLog& log = disk_.view().log;
    for (const raft::Entry& e : rd.entries) {
      if (const LogSlot* slot = log.at(e.index)) checker.on_log_slot(id_, *slot);
    }
    raft::Term written_term;
    for (const raft::Entry& e : rd.entries) written_term = std::max(written_term, e.term);
    checker.on_slots_removed(id_, removed, log, written_term);
  }
  if (rd.hard_state) disk_.write_hard_state(*rd.hard_state);
}

void Host::sync_disk() {
  const raft::HardState before = disk_.durable().hard_state;
  disk_.sync();
  env_.checker().on_durable_hard_state(id_, before, disk_.durable().hard_state);
}

void Host::check_send_contract(const raft::Message& m) const {
  const DiskCopy& durable = disk_.durable();
  if (m.type == MessageType::kPreVote || m.type == MessageType::kPreVoteResponse) return;
  if (m.term > durable.hard_state.term) {
    fail("persist before send") << "node " << id_ << " sends " << raft::to_string(m.type)
                                << " at term " << m.term << " while its durable term is "
                                << durable.hard_state.term;
  }
  // A grant may leave late (stepped while a Ready was held), after a later
  // term is durable: no restart can vote in its term again, so it is safe.
  if (m.type == MessageType::kVoteResponse && !m.reject && durable.hard_state.term == m.term &&
      durable.hard_state.vote != m.to) {
    fail("persist before send") << "node " << id_ << " grants its vote to node " << m.to
                                << " in term " << m.term
                                << " before the vote is durable (durable term "
                                << durable.hard_state.term << ", vote " << durable.hard_state.vote
                                << ")";
  }
  // An acknowledgement stepped while a Ready was held may leave after a
  // later term is durable, and after that term's leader had the entries it
  // names cut. It is safe, as a late grant is: while the node held them it
  // refused every candidate whose log lacked them, so no leader that could
  // cut them was elected with this node's help, and its old term's leader
  // cannot have committed them with a majority that elected the new one.
  // Acknowledgements in the durable term are checked against the disk.
  if (m.type == MessageType::kAppendResponse && !m.reject && m.term == durable.hard_state.term) {
    const std::optional<std::uint64_t> on_disk = durable.log.prefix_hash_at(m.match_index);
    const std::optional<std::uint64_t> in_view = disk_.view().log.prefix_hash_at(m.match_index);
    const bool covered_by_base = m.match_index < durable.log.base_index();
    if (!covered_by_base && (!on_disk || on_disk != in_view)) {
      fail("persist before send") << "node " << id_ << " acknowledges entries through index "
                                  << m.match_index << " before they are durable (durable last "
                                  << durable.log.last_index() << ")";
    }
  }
}

void Host::send(const raft::Message& m) {
  if (m.type != MessageType::kInstallSnapshot) {
    env_.send(Packet{m, 0, 0, 0, {}});
    return;
  }
  if (!m.snapshot) fail("core contract") << "node " << id_ << " sends InstallSnapshot without meta";
  const SnapshotFile* file = disk_.find_snapshot(m.snapshot->index, m.snapshot->term);
  if (file == nullptr && m.snapshot->index < disk_.restart_snapshot().meta.index &&
      env_.checker().known_prefix_hash(m.snapshot->index, m.snapshot->term)) {
    // Asked for while a held Ready waited for its sync, and superseded by a
    // snapshot taken since: dropped, as conclaved does (node_snapshots.cpp);
    // the core sends a newer one when this transfer times out.
    if (env_.trace().on()) {
      env_.trace().line() << "node " << id_ << " drops the send of superseded snapshot " << m.snapshot->index;
    }
    return;
  }
  if (file == nullptr) {
    fail("snapshot contract") << "node " << id_ << " core sends snapshot (index "
                              << m.snapshot->index << ", term " << m.snapshot->term
                              << ") that the host does not hold";
  }
  // The transport streams the bytes in chunks; each can be lost or delayed.
  const std::size_t size = file->data.size();
  const std::size_t chunk = std::max<std::size_t>(1, config_.chunk_bytes);
  const auto chunks = static_cast<std::uint32_t>((size + chunk - 1) / chunk);
  const std::uint64_t transfer = next_transfer_++;
  for (std::uint32_t i = 0; i < chunks; ++i) {
    env_.send(Packet{m, transfer, i, chunks, file->data.substr(i * chunk, chunk)});
  }
}

void Host::install_snapshot(const raft::SnapshotMeta& meta) {
  const SnapshotFile* file = disk_.find_snapshot(meta.index, meta.term);
  const std::optional<MachineState> state =
      file == nullptr ? std::nullopt : decode_snapshot(file->data);
  if (!state || state->applied != meta.index) {
    fail("snapshot contract") << "node " << id_ << " has no valid snapshot data for index "
                              << meta.index;
  }
  if (state->applied < machine_.applied) {
    fail("snapshot contract") << "node " << id_ << " core installs a snapshot at index "
                              << meta.index << " below its applied index " << machine_.applied;
  }
  machine_ = *state;
  last_snapshot_ = meta.index;
  env_.checker().on_machine_replaced(id_, machine_, "installed a snapshot of");
  env_.on_snapshot_installed(*this);
  if (env_.trace().on()) {
    env_.trace().line() << "node " << id_ << " installs snapshot (index " << meta.index
                        << ", term " << meta.term << ")";
  }
}

void Host::apply(const raft::Entry& entry) {
  if (entry.index != machine_.applied.next()) {
    fail("core contract") << "node " << id_ << " is handed committed index " << entry.index
                          << " after applying " << machine_.applied;
  }
  if (entry.index > core_->commit_index()) {
    fail("core contract") << "node " << id_ << " is handed index " << entry.index
                          << " beyond its commit index " << core_->commit_index();
  }
  const LogSlot* slot = disk_.view().log.at(entry.index);
  if (slot != nullptr && !(slot->entry == entry)) {
    fail("core contract") << "node " << id_ << " is handed committed entry (index "
                          << entry.index << ", term " << entry.term
                          << ") that differs from its persisted log (term " << slot->entry.term
                          << ")";
  }
  machine_ = apply_entry(machine_, entry);
  env_.checker().on_apply(id_, entry, machine_);
  env_.on_applied(*this, entry);
}

void Host::serve_reads() {
  auto ready_end = std::partition(reads_.begin(), reads_.end(), [&](const raft::ReadState& r) {
    return r.index > machine_.applied;
  });
  std::vector<raft::ReadState> now(ready_end, reads_.end());
  reads_.erase(ready_end, reads_.end());
  for (const raft::ReadState& r : now) env_.on_read_served(*this, r.context, r.index);
}

bool Host::maybe_take_snapshot() {
  if (config_.snapshot_every == 0) return true;
  if (machine_.applied.value() < last_snapshot_.value() + config_.snapshot_every) return true;
  const std::optional<raft::SnapshotMeta> found = core_->snapshot_meta_at(machine_.applied);
  if (!found) {
    // A snapshot from the leader, stepped while a Ready was held, replaced
    // the log below what this host applied: it installs next; skip ours.
    if (machine_.applied >= core_->commit_index()) {
      fail("core contract") << "node " << id_ << " snapshot_meta_at(" << machine_.applied
                            << ") refused an applied index with no leader's snapshot past it";
    }
    return true;
  }
  const raft::SnapshotMeta& meta = *found;
  const std::optional<raft::Term> term = disk_.view().log.term_at(machine_.applied);
  if (meta.index != machine_.applied || !term || meta.term != *term) {
    fail("core contract") << "node " << id_ << " snapshot_meta_at(" << machine_.applied
                          << ") returned (index " << meta.index << ", term " << meta.term
                          << ") but its log holds term " << (term ? term->value() : 0);
  }
  const std::size_t padding = std::min<std::size_t>(
      config_.snapshot_bytes_max, machine_.writes * config_.snapshot_bytes_per_write);
  disk_.store_snapshot(meta, encode_snapshot(machine_, padding), true);
  // A crash here leaves a durable snapshot the core never heard of; the
  // restart begins from it.
  if (crash_here(CrashPoint::kMidSnapshot, 0)) return false;
  core_->snapshot_taken(meta);
  last_snapshot_ = meta.index;
  const std::uint64_t trailing = rng_.below(config_.compact_trailing_max + 1);
  const Index compact_to(meta.index.value() > trailing ? meta.index.value() - trailing : 0);
  if (compact_to > disk_.view().log.base_index()) {
    core_->compact(compact_to);
    disk_.compact(compact_to);
  }
  if (env_.trace().on()) {
    env_.trace().line() << "node " << id_ << " takes snapshot at index " << meta.index
                        << ", compacts through " << compact_to;
  }
  return true;
}

}  // namespace conclave::sim
