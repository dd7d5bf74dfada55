// conclave-bench: what a real cluster commits, through the SDK, beside what
// the machine allows.
//
// WHAT IT MEASURES. Committed entries/s and MB/s, and the commit latency of
// each proposal (from the propose() call to its completion: the SDK, the
// app socket, the leader's log and fdatasync, replication to a quorum and
// the followers' fdatasync, the answer back) at p50/p99/p99.9. In the same
// run it measures the disk's fdatasync rate (4 KiB appends, in the data
// dir's filesystem) and the loopback TCP round trip, and prints each figure
// also as a ratio to them: entries per fdatasync (how well commits are
// batched) and latency as a multiple of one fdatasync + one round trip (the
// least a single commit can take). Both limits are measured on an idle
// machine and with a CPU kept awake; the ratios use the awake figures
// (machine_limits.h says why). For a local cluster it also runs one
// fdatasync writer per node at once, for the tail of a disk they share.
// Last, the CPU time the nodes and the
// clients spent per committed entry in the window: the figure to compare
// changes by on a machine whose neighbours come and go (cpu_usage.h).
//
// HOW. Unless --socket is given, it starts its own cluster of --nodes real
// conclaved processes on loopback (temporary data dirs, free ports, fsync
// on unless --no-fsync), and waits until each node reports a leader. Then C
// conclave::Client instances attach round-robin to the nodes' app sockets,
// each keeping K proposals of S bytes in flight (see load.h) for W seconds
// of warm-up and T measured seconds. Each client is also a replica and is
// streamed every committed entry, as a real application would be.
//
//   conclave-bench [--clients C] [--inflight K] [--size S] [--seconds T]
//                  [--warmup W] [--nodes N] [--no-fsync] [--no-preallocate] [--leader-only]
//                  [--conclaved PATH]
//   conclave-bench --socket PATH [--socket PATH ...] [--disk-dir DIR] ...
//
// Exits 1 when the cluster does not come up (with the nodes' log tails) or
// nothing commits; the printout names what failed.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

#include "cpu_usage.h"
#include "load.h"
#include "local_cluster.h"
#include "machine_limits.h"
#include "report.h"

namespace {

using namespace conclave::bench;

// Enough samples for a stable median, few enough to take about a second
// on a slow disk.
constexpr int kDefaultSyncs = 300;
constexpr int kDefaultRoundTrips = 2000;
// A third of a second or so on a shared virtual disk.
constexpr int kDefaultReplicationRounds = 1000;
// Log lines of each node shown when the cluster does not come up.
constexpr std::size_t kLogTailLines = 30;

std::string temp_base() {
  const char* t = std::getenv("TMPDIR");
  return t != nullptr && *t != '\0' ? t : "/tmp";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"conclave-bench: committed entries/s, MB/s and commit latency of a Conclave cluster, "
               "beside the disk's fdatasync rate and the loopback round trip"};
  LoadOptions load;
  double seconds = 5;
  double warmup = 1;
  int nodes = 3;
  bool no_fsync = false;
  bool no_preallocate = false;
  bool leader_only = false;
  std::string conclaved = CONCLAVED_PATH;
  std::string disk_dir;
  int syncs = kDefaultSyncs;
  double disk_tail_seconds = 2;
  int replication_rounds = kDefaultReplicationRounds;
  app.add_option("--clients", load.clients, "SDK clients, attached to the nodes round-robin")->check(CLI::PositiveNumber);
  app.add_option("--inflight", load.inflight, "proposals each client keeps in flight")->check(CLI::PositiveNumber);
  app.add_option("--size", load.entry_bytes, "bytes per entry")->check(CLI::PositiveNumber);
  app.add_option("--seconds", seconds, "measured seconds")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "seconds of load before measuring")->check(CLI::NonNegativeNumber);
  app.add_option("--nodes", nodes, "nodes of the local cluster")->check(CLI::PositiveNumber);
  app.add_flag("--no-fsync", no_fsync, "start the local nodes with --no-fsync (to compare)");
  app.add_flag("--no-preallocate", no_preallocate, "start the local nodes with --log-preallocate false");
  app.add_flag("--leader-only", leader_only,
               "attach every client to the local cluster's leader (no forwarding through followers)");
  app.add_option("--conclaved", conclaved, "the conclaved binary for the local cluster");
  app.add_option("--socket", load.sockets, "attach to this running node's app socket instead (repeatable)");
  app.add_option("--disk-dir", disk_dir,
                 "where to measure fdatasync with --socket (the nodes' data filesystem; default: current dir)");
  app.add_option("--syncs", syncs, "fdatasyncs in the disk measurement")->check(CLI::PositiveNumber);
  app.add_option("--disk-tail-seconds", disk_tail_seconds,
                 "seconds of one fdatasync writer per local node at once, for the disk's own tail (0: skip)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--replication-rounds", replication_rounds,
                 "rounds of the bare replication floor of a local cluster (replication_floor.h; 0: skip)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  load.measure = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  load.warmup = std::chrono::milliseconds(static_cast<long long>(warmup * 1000));

  const bool local = load.sockets.empty();
  if (disk_dir.empty()) disk_dir = local ? temp_base() : ".";
  RunDescription run{.fsync = local ? !no_fsync : true, .clients = load.clients, .inflight = load.inflight,
                     .entry_bytes = load.entry_bytes, .warmup_s = warmup};

  try {
    // The machine first, on a quiet machine: the load would disturb it.
    // The nodes of a local cluster share the disk: its tail under as many
    // writers is what their p99 stands on.
    const int tail_writers = local && !no_fsync && nodes > 1 && disk_tail_seconds > 0 ? nodes : 0;
    MachineLimits machine = measure_machine(disk_dir, syncs, kDefaultRoundTrips, tail_writers, disk_tail_seconds);
    if (local && replication_rounds > 0) {
      machine.replication =
          measure_replication_floor(disk_dir, nodes, replication_rounds, load.entry_bytes, !no_fsync);
    }

    std::unique_ptr<LocalCluster> cluster;
    if (local) {
      cluster = std::make_unique<LocalCluster>(
          LocalClusterOptions{.conclaved_path = conclaved,
                              .nodes = nodes,
                              .fsync = !no_fsync,
                              .preallocate = !no_preallocate,
                              .temp_base = temp_base()});
      load.sockets = cluster->app_sockets();
      run.cluster = std::to_string(nodes) + " local nodes in " + cluster->dir() + ", fsync " +
                    (no_fsync ? "off" : "on") + (no_preallocate ? ", log segments not preallocated" : "");
      run.shared_disk = nodes > 1;
    } else {
      run.cluster = "attached to " + std::to_string(load.sockets.size()) + " socket(s)";
    }

    auto gone = [&] { return cluster ? cluster->exited_node() : std::string(); };
    auto driver = std::make_unique<Load>(load);
    std::string not_ready = driver->wait_ready(gone);
    if (not_ready.empty() && cluster && leader_only) {
      const std::uint64_t leader = driver->leader();
      if (leader == 0 || leader > load.sockets.size()) {
        not_ready = "no leader to attach to";
      } else {
        load.sockets = {load.sockets[leader - 1]};
        run.cluster += ", every client on the leader (node " + std::to_string(leader) + ")";
        driver = std::make_unique<Load>(load);
        not_ready = driver->wait_ready(gone);
      }
    }
    if (!not_ready.empty()) {
      std::fprintf(stderr, "conclave-bench: the cluster did not come up: %s\n", not_ready.c_str());
      if (cluster) {
        cluster->keep();
        std::fprintf(stderr, "%s(kept %s)\n", cluster->log_tails(kLogTailLines).c_str(), cluster->dir().c_str());
      }
      return 1;
    }
    std::vector<CpuSample> cpu;  // at the window's start and end
    const std::vector<pid_t> pids = cluster ? cluster->pids() : std::vector<pid_t>{};
    const LoadResult result = driver->run([&] { cpu.push_back(sample_cpu(pids)); });
    print_report(run, machine, result);
    if (cpu.size() == 2) {
      const std::string line = describe_cpu(cpu[0], cpu[1], result.committed);
      if (!line.empty()) std::printf("cpu:        %s\n", line.c_str());
    }
    if (result.committed == 0) {
      std::fprintf(stderr, "conclave-bench: nothing committed in the measured window%s%s\n",
                   result.first_error.empty() ? "" : ": ", result.first_error.c_str());
      if (cluster) cluster->keep();
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "conclave-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
