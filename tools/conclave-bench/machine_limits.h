// What the machine itself allows, measured in the same run as the load so
// the benchmark's figures can be read as ratios to it: how fast the disk
// makes a small append durable, and how long a loopback TCP round trip
// takes. A commit needs at least one of each (a follower's fdatasync, and
// the leader's AppendEntries to it and back), so their sum is the floor
// for a single proposal's latency.
#pragma once

#include <string>

namespace conclave::bench {

struct DiskSync {
  int syncs = 0;
  double per_s = 0;      // fdatasyncs per second, back to back
  double median_us = 0;  // one 4 KiB write + fdatasync
  double p99_us = 0;     // disks stall now and then; the rate includes the stalls
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
};

MachineLimits measure_machine(const std::string& dir, int syncs, int round_trips);

// `syncs` writes of 4 KiB, each followed by fdatasync, over a zero-filled
// scratch file in `dir` (removed afterwards), the way the log writes. Throws std::runtime_error on I/O errors.
DiskSync measure_disk_sync(const std::string& dir, int syncs);

// Ping-pong of one byte with TCP_NODELAY between two threads of this
// process. Throws std::runtime_error on socket errors.
LoopbackRtt measure_loopback_rtt(int round_trips);

}  // namespace conclave::bench
