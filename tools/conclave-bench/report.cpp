// print_report: figures and ratios, one line each, stable labels (the
// smoke test and scripts grep them).
#include "report.h"

#include <cstdio>

namespace conclave::bench {

namespace {

// The targets for 3 nodes, fsync on, 256-byte entries.
constexpr double kTargetEntriesPerS = 100000;

}  // namespace

void print_report(const RunDescription& run, const MachineLimits& machine, const LoadResult& load) {
  const DiskSync& disk = machine.disk;
  const LoopbackRtt& rtt = machine.rtt;
  const double entries_per_s = load.measured_s > 0 ? static_cast<double>(load.committed) / load.measured_s : 0;
  const double mb_per_s = entries_per_s * static_cast<double>(run.entry_bytes) / 1e6;
  // One commit needs a follower's fdatasync and one round trip to it (the
  // leader's own fdatasync runs in parallel); without fsync, only the trip.
  const double floor_us = (run.fsync ? disk.median_us : 0) + rtt.median_us;
  const double p50 = quantile(load.latency_us, 0.50);
  const double p99 = quantile(load.latency_us, 0.99);
  const double p999 = quantile(load.latency_us, 0.999);
  const auto ratio = [&](double us) { return floor_us > 0 ? us / floor_us : 0; };

  std::printf("run:        %s; %d clients x %d in flight, %zu-byte entries, %.1f s measured after %.1f s warm-up\n",
              run.cluster.c_str(), run.clients, run.inflight, run.entry_bytes, load.measured_s, run.warmup_s);
  std::printf("disk:       %.0f fdatasync/s (4 KiB write into a zero-filled file + fdatasync, median %.0f us, "
              "p99 %.0f us, %d syncs); idle machine: %.0f/s, median %.0f us\n",
              disk.per_s, disk.median_us, disk.p99_us, disk.syncs, machine.disk_idle.per_s, machine.disk_idle.median_us);
  if (machine.disk_tail) {
    const DiskSyncTail& t = *machine.disk_tail;
    std::printf("disk tail:  %d writers at once (one per node), %.0f fdatasync/s in all over %.1f s: p99 %.0f us, "
                "p99.9 %.0f us, max %.0f us\n",
                t.writers, t.per_s, t.seconds, t.p99_us, t.p999_us, t.max_us);
  }
  std::printf("loopback:   round trip median %.1f us (%d ping-pongs over 127.0.0.1 TCP); idle machine: %.1f us\n",
              rtt.median_us, rtt.round_trips, machine.rtt_idle.median_us);
  if (machine.replication) {
    const ReplicationFloor& r = *machine.replication;
    std::printf("bare round: p50 %.0f us, p99 %.0f us; the hops and %s of a commit among bare threads, nothing "
                "else (a leader and %d followers over loopback TCP, a record into each one's zero-filled file, "
                "answered at a majority's; %d rounds)\n",
                r.median_us, r.p99_us, r.fsync ? "fdatasyncs" : "writes", r.nodes - 1, r.rounds);
  }
  std::printf("throughput: %.0f committed entries/s, %.2f MB/s; %.1f entries per fdatasync the disk can do; "
              "%.2fx the 100k/s target\n",
              entries_per_s, mb_per_s, disk.per_s > 0 ? entries_per_s / disk.per_s : 0,
              entries_per_s / kTargetEntriesPerS);
  std::printf("latency:    p50 %.0f us (%.2fx), p99 %.0f us (%.2fx), p99.9 %.0f us (%.2fx) "
              "of the floor %s = %.0f us\n",
              p50, ratio(p50), p99, ratio(p99), p999, ratio(p999),
              run.fsync ? "fdatasync + RTT" : "RTT (no fsync)", floor_us);
  if (run.fsync && run.shared_disk) {
    // Nodes on separate disks flush in parallel; on one disk the leader's
    // flush and its follower's queue one behind the other.
    const double shared_floor_us = 2 * disk.median_us + rtt.median_us;
    std::printf("            the local nodes share one disk, where a commit waits for two fdatasyncs in turn: "
                "p50 is %.2fx of 2 x fdatasync + RTT = %.0f us\n",
                shared_floor_us > 0 ? p50 / shared_floor_us : 0, shared_floor_us);
  }
  // One proposal at a time is what the bare round does; with more in
  // flight, queueing sets the latency.
  if (machine.replication && machine.replication->median_us > 0 && run.clients * run.inflight == 1) {
    std::printf("            p50 is %.2fx of the bare round above (%.0f us): what Conclave adds to this "
                "machine's own floor\n",
                p50 / machine.replication->median_us, machine.replication->median_us);
  }
  std::printf("stream:     %llu entries delivered to the handlers over the run (every client is a replica and "
              "gets every entry, warm-up included)\n",
              static_cast<unsigned long long>(load.entries_streamed));
  std::printf("errors:     %llu failed proposals%s%s\n", static_cast<unsigned long long>(load.failed),
              load.first_error.empty() ? "" : "; first: ", load.first_error.c_str());
}

}  // namespace conclave::bench
