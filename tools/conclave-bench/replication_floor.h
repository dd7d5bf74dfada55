// The least a commit can take on this machine with the nodes sharing it:
// the same hops and flushes as a commit, and nothing else. A leader and its
// followers are bare threads of this process; the proposer sends a record
// to the leader over loopback TCP, the leader sends it to every follower
// and then writes it into its own zero-filled file and fdatasyncs, each
// follower does the same and answers with one byte, and the proposer hears
// back once the leader and a majority with it have synced. No Raft, no
// Cap'n Proto, no event loop, no sync thread.
//
// fdatasync + RTT is the floor of nodes on separate disks. On one disk,
// the flushes of the leader and the followers queue behind each other, and
// on a virtual machine every wake-up of a sleeping thread costs tens of
// microseconds; this round pays both, as the local cluster does, so the
// cluster's latency over it is what Conclave itself adds.
#pragma once

#include <string>

namespace conclave::bench {

struct ReplicationFloor {
  int nodes = 0;
  int rounds = 0;
  bool fsync = true;
  double median_us = 0;  // one record, proposer to proposer
  double p99_us = 0;
};

// `rounds` records of `entry_bytes`, one at a time, among `nodes` threads
// (one leader), each with its own scratch file in `dir` (removed
// afterwards); with `fsync` false the records are written but not synced.
// Throws std::runtime_error on socket or I/O errors.
ReplicationFloor measure_replication_floor(const std::string& dir, int nodes, int rounds, std::size_t entry_bytes,
                                           bool fsync);

}  // namespace conclave::bench
