// One simulated server: it owns a Raft core, a simulated disk and a state
// machine, and drives the core exactly by the contract at the top of raft.h:
// drain ready(), persist (snapshot, entries, hard state) and sync, send, apply,
// advance. A crash can be armed to strike at any stage of that sequence; it
// destroys the core and everything not synced. start() rebuilds the core from
// the durable copy. The host also moves snapshots as chunked transfers and
// takes snapshots of its own state to compact its log.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sidecar/raft/raft.h"
#include "tests/sim/checker.h"
#include "tests/sim/disk.h"
#include "tests/sim/network.h"
#include "tests/sim/rng.h"
#include "tests/sim/state_machine.h"
#include "tests/sim/trace.h"

namespace conclave::sim {

class Host;

// What a host reports to; the simulation implements it.
class HostEnv {
 public:
  virtual void send(Packet packet) = 0;
  virtual Checker& checker() = 0;
  virtual const Trace& trace() const = 0;
  // A committed entry this host applied (clients acknowledge proposals here).
  virtual void on_applied(Host& host, const raft::Entry& entry) = 0;
  virtual void on_read_served(Host& host, std::uint64_t context, raft::Index read_index) = 0;
  virtual void on_read_failed(Host& host, std::uint64_t context) = 0;
  // The state machine was replaced by a snapshot (proposals at or below it
  // can no longer be acknowledged by this host).
  virtual void on_snapshot_installed(Host& host) = 0;
  // The host crashed (now, or at an armed point inside ready handling).
  virtual void on_crashed(Host& host) = 0;

 protected:
  ~HostEnv() = default;
};

// Where in the handling of one Ready an armed crash strikes.
enum class CrashPoint : std::uint8_t {
  kBeforeSync,    // written, not synced: the unsynced tail is torn
  kBeforeSend,    // synced, nothing sent
  kMidSend,       // some messages sent
  kBeforeApply,   // sent, nothing applied
  kMidApply,      // some committed entries applied
  kBeforeAdvance, // all done but advance()
  kMidSnapshot,   // a snapshot stored durably, the core not yet told
};
inline constexpr int kCrashPoints = 7;

struct HostConfig {
  raft::Options options;  // id and random_seed are set per incarnation
  // Take a snapshot after this many applied entries (0: never).
  std::uint64_t snapshot_every = 0;
  // Compaction keeps up to this many entries behind the snapshot.
  std::uint64_t compact_trailing_max = 4;
  std::size_t chunk_bytes = 64;
  // Snapshot bytes per write applied, standing for application data.
  std::size_t snapshot_bytes_per_write = 2;
  std::size_t snapshot_bytes_max = 512;
  // When the core says no sync is owed, sync anyway this often (background
  // flushing); otherwise the write stays in the page cache until the next sync.
  std::uint64_t lazy_sync_permille = 300;
  // How often, after handling a Ready, the application persists its own
  // state machine (so a restart resumes from it rather than from the
  // snapshot, and the core must not hand those entries out again).
  std::uint64_t machine_save_permille = 0;
  // How often a leader sends before it persists when the core allows it
  // (raft.h, dissertation §10.2.1), as the daemon always does.
  std::uint64_t leader_send_first_permille = 500;
  // How often a Ready that owes a sync is held: written at once, but synced,
  // sent (unless sent first), applied and advanced only at a later input,
  // while the inputs in between step the core (raft.h allows step, tick and
  // propose between ready() and advance()). The daemon works this way: its
  // sync runs on a thread while the loop reads the network.
  std::uint64_t hold_sync_permille = 0;
  // Once held, how likely each later input (other than a tick, which always
  // does) is to find the sync finished.
  std::uint64_t held_sync_done_permille = 500;
  // While a sync is held, how often an input is followed by sending what
  // take_early_messages() hands out (a leader's appends since).
  std::uint64_t early_send_permille = 0;
};

class Host {
 public:
  Host(raft::NodeId id, const raft::SnapshotMeta& initial, const HostConfig& config, Rng rng,
       HostEnv& env);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  raft::NodeId id() const { return id_; }
  bool alive() const { return core_ != nullptr; }
  std::uint64_t incarnation() const { return incarnation_; }
  raft::Raft& core() { return *core_; }
  const raft::Raft& core() const { return *core_; }
  const MachineState& machine() const { return machine_; }
  const Disk& disk() const { return disk_; }
  std::uint64_t crashes() const { return crashes_; }

  // A founding member persists the bootstrap state before its first start.
  void bootstrap(const raft::Restored& founding);
  // Builds the core from the durable copy (a first start, or a restart).
  void start();
  // Crashes now: the core, the state machine and every unsynced write are lost.
  void crash();
  // The next Ready handled crashes the host at this point.
  void arm_crash(CrashPoint point, std::size_t after_items);
  bool crash_armed() const { return armed_; }
  void disarm() { armed_ = false; }

  // Inputs; each drains the core's output afterwards. Calling one on a dead
  // host is a simulator bug.
  void tick();
  void receive(Packet packet);
  // After a direct call on core() (propose, read_index, ...).
  void drain();

 private:
  // Handles one Ready; returns false when an armed crash struck. A held
  // Ready returns true with held_ set: the rest waits for finish_ready.
  bool handle_ready();
  // Sync (when owed), send what did not go first, apply, advance.
  bool finish_ready(const raft::Ready& rd, bool sent_first);
  // Finishes the held Ready if its sync is done now (always when `force`).
  // Returns false when an armed crash struck.
  bool settle_held(bool force);
  bool send_all(const raft::Ready& rd);
  bool crash_here(CrashPoint point, std::size_t items_done);
  void persist(const raft::Ready& rd);
  void sync_disk();
  void send(const raft::Message& m);
  void check_send_contract(const raft::Message& m) const;
  void install_snapshot(const raft::SnapshotMeta& meta);
  void apply(const raft::Entry& entry);
  void serve_reads();
  // Returns false when an armed crash struck.
  bool maybe_take_snapshot();
  void receive_chunk(Packet packet);
  void report_role();

  raft::NodeId id_;
  HostConfig config_;
  Rng rng_;
  HostEnv& env_;
  Disk disk_;
  std::unique_ptr<raft::Raft> core_;
  MachineState machine_;
  // The application's own durable copy of its state, if it keeps one.
  std::optional<MachineState> saved_machine_;
  std::uint64_t incarnation_ = 0;
  std::uint64_t crashes_ = 0;
  raft::Index last_snapshot_;
  std::uint64_t next_transfer_ = 1;
  // Read states waiting for the state machine to reach their index.
  std::vector<raft::ReadState> reads_;
  // Snapshot transfers being reassembled, by (sender, transfer id).
  struct Assembly {
    raft::Message message;
    std::vector<std::string> parts;
    std::uint32_t received = 0;
    std::uint64_t started = 0;  // order of arrival, to evict the oldest
  };
  std::map<std::pair<raft::NodeId, std::uint64_t>, Assembly> assemblies_;
  std::uint64_t assembly_seq_ = 0;

  // A Ready written but not yet synced (hold_sync_permille); the core gives
  // no other Ready until it is advanced.
  struct Held {
    raft::Ready ready;
    bool sent_first = false;
  };
  std::optional<Held> held_;

  raft::Role last_role_ = raft::Role::kFollower;
  bool armed_ = false;
  CrashPoint crash_point_ = CrashPoint::kBeforeSync;
  std::size_t crash_after_items_ = 0;
};

}  // namespace conclave::sim
