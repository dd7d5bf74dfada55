// What the machine itself allows, measured in the same run as the load so
// the benchmark's figures can be read as ratios to it: how fast the disk
// makes a small append durable, and how long a loopback TCP round trip
// takes. A commit needs at least one of each (a follower's fdatasync, and
// the leader's AppendEntries to it and back), so their sum is the floor
// for a single proposal's latency.
#pragma once

#include <optional>
#include <string>

#include "replication_floor.h"

namespace conclave::bench {

struct DiskSync {
  int syncs = 0;
  double per_s = 0;      // fdatasyncs per second, back to back
  double median_us = 0;  // one 4 KiB write + fdatasync
  double p99_us = 0;     // disks stall now and then; the rate includes the stalls
};

// Several writers at once, each appending 4 KiB and fdatasyncing back to
// back in its own file, as the nodes of a local cluster do on one disk. A
// virtual disk may hold its flushes for a whole accounting period once
// their rate passes its budget: three such writers saw a 10-40 ms stall
// every 100 ms here, with nothing of Conclave running. That tail, not the
// median, bounds a shared-disk cluster's p99.
struct DiskSyncTail {
  int writers = 0;
  double seconds = 0;
  double per_s = 0;  // all writers together
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
};

struct LoopbackRtt {
  int round_trips = 0;
  double median_us = 0;  // one byte there and back over 127.0.0.1 TCP
};

// IDLE VS AWAKE. On an otherwise idle (virtual) machine an fdatasync can
// take a whole timer tick (4 ms here) against ~0.2 ms while other threads
// keep the CPUs busy, as a running cluster does: the completion waits for
// an idle CPU to wake. So each figure is measured both ways, the second
// time with a thread spinning to keep a CPU awake; the awake one is the
// limit a loaded cluster sees.
struct MachineLimits {
  DiskSync disk_idle;
  DiskSync disk;  // awake
  LoopbackRtt rtt_idle;
  LoopbackRtt rtt;  // awake
  std::optional<DiskSyncTail> disk_tail;  // when asked for (writers > 0)
  std::optional<ReplicationFloor> replication;  // a local cluster's, when asked for
};

// `tail_writers` > 0 adds measure_disk_sync_tail over `tail_seconds`.
MachineLimits measure_machine(const std::string& dir, int syncs, int round_trips, int tail_writers = 0,
                              double tail_seconds = 0);

// `syncs` writes of 4 KiB, each followed by fdatasync, over a zero-filled
// scratch file in `dir` (removed afterwards), the way the log writes. Throws std::runtime_error on I/O errors.
DiskSync measure_disk_sync(const std::string& dir, int syncs);

// `writers` threads, each with its own zero-filled scratch file in `dir`,
// each writing 4 KiB + fdatasync back to back for `seconds`.
DiskSyncTail measure_disk_sync_tail(const std::string& dir, int writers, double seconds);

// Ping-pong of one byte with TCP_NODELAY between two threads of this
// process. Throws std::runtime_error on socket errors.
LoopbackRtt measure_loopback_rtt(int round_trips);

}  // namespace conclave::bench
