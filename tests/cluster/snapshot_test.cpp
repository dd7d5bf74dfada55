// A node joins a cluster whose log was already compacted behind a snapshot,
// so it must start from the leader's snapshot rather than from entry 1; it
// catches up, becomes a voter, and its log then agrees with the others'.
// Snapshots come from the applications (the kv example on every node), and
// the application on the new node starts from that snapshot with the same
// state as the others, without ever talking to them.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "tests/cluster/cluster.h"
#include "tests/cluster/example_apps.h"

namespace conclave::cluster_test {
namespace {

constexpr int kSnapshotEntries = 5;

// Polls until node `id` reports a snapshot; fails the test at the deadline.
bool wait_for_snapshot(Cluster& cluster, std::uint64_t id) {
  const auto until = Clock::now() + kCommitDeadline;
  while (Clock::now() < until) {
    auto s = cluster.status(id);
    if (s && s->snapshot_index > 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "node " << id << " took no snapshot with --snapshot-entries " << kSnapshotEntries
                << " although an application is attached";
  return false;
}

TEST(Snapshot, NodeJoiningACompactedClusterStartsFromTheSnapshot) {
  ClusterOptions options;
  options.extra_args = {"--snapshot-entries", std::to_string(kSnapshotEntries)};
  Cluster cluster(options);
  ExampleApps kv(cluster);
  cluster.start_founders(3);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  for (std::uint64_t id = 1; id <= 3; ++id) kv.start(id);
  for (int i = 0; i < 4 * kSnapshotEntries; ++i) {
    ASSERT_TRUE(cluster.propose(1 + static_cast<std::uint64_t>(i) % 3, "entry " + std::to_string(i)).has_value());
    ASSERT_TRUE(kv.put(1 + static_cast<std::uint64_t>(i) % 3, "k" + std::to_string(i), "v" + std::to_string(i)));
  }
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked()));
  ASSERT_TRUE(wait_for_snapshot(cluster, leader));

  const std::uint64_t joiner = cluster.add_node();
  cluster.start(joiner, StartMode::kJoin, leader);
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), {joiner}));
  // Its first state came from a snapshot, not from replaying entry 1 on.
  const auto until = Clock::now() + kCommitDeadline;
  bool from_snapshot = false;
  while (!from_snapshot && Clock::now() < until) {
    from_snapshot = cluster.log_text(joiner).find("snapshot: stored snapshot") != std::string::npos;
    if (!from_snapshot) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(from_snapshot) << "node " << joiner << " never logged storing a snapshot from the leader";

  // Its application joins from the node's snapshot and reads what the
  // others wrote.
  kv.start(joiner);
  for (int i = 0; i < 4 * kSnapshotEntries; ++i) {
    EXPECT_EQ(kv.get(joiner, "k" + std::to_string(i)), "v" + std::to_string(i)) << "key k" << i;
  }
  EXPECT_NE(read_text_file(cluster.log_path(joiner)).find("joins from the snapshot"), std::string::npos)
      << "the joiner's application should have started from a snapshot";

  // A full member: it takes proposals, and they commit everywhere.
  ASSERT_TRUE(cluster.propose(joiner, "via the joiner").has_value());
  ASSERT_TRUE(kv.put(joiner, "from-the-joiner", "yes"));
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked()));
  for (std::uint64_t id = 1; id <= 3; ++id) EXPECT_EQ(kv.get(id, "from-the-joiner"), "yes") << "node " << id;

  cluster.stop_all();
  const std::vector<DiskLog> logs = cluster.expect_disk_logs_agree();
  EXPECT_GT(logs.back().snapshot_index, 0u) << "the joiner holds no snapshot";
}

// An application that stops reading holds its node's log back only so far.
// Stopped (SIGSTOP), its sidecar's queue to it fills and its cursor stops;
// once a snapshot (made by a second application on the same node) is more
// than --application-lag-max entries past it, the sidecar detaches it and
// compacts. Running again, the SDK attaches anew and the application
// catches up with everything written meanwhile.
TEST(Snapshot, AnApplicationStoppedPastTheLagBoundIsDetachedAndCatchesUpWhenItRunsAgain) {
  ClusterOptions options;
  // A snapshot request that went to the application before it stopped is
  // abandoned after a second; the next goes to the one furthest ahead.
  options.extra_args = {"--snapshot-entries", "10", "--application-lag-max", "50", "--snapshot-timeout-ms", "1000"};
  Cluster cluster(options);
  ExampleApps kv(cluster);
  ExampleApps second(cluster, conclave_kv_path(), "second");
  cluster.start_founders(3);
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  for (std::uint64_t id = 1; id <= 3; ++id) kv.start(id);
  second.start(3);
  ASSERT_TRUE(kv.put(3, "before", "stopped"));

  kv.signal(3, SIGSTOP);
  // Large values fill the socket and the sidecar's queue (a few MiB) soon,
  // so the stopped application's cursor stops well short of the end.
  const std::string big(64 << 10, 'x');
  bool detached = false;
  int written = 0;
  for (; written < 600 && !detached; ++written) {
    ASSERT_TRUE(kv.put(1 + static_cast<std::uint64_t>(written) % 2, "k" + std::to_string(written),
                       std::to_string(written) + big));
    if (written % 20 == 19) detached = cluster.log_text(3).find("application_lag_max") != std::string::npos;
  }
  kv.signal(3, SIGCONT);
  ASSERT_TRUE(detached) << "node 3 never detached its stopped application after " << written << " writes\n"
                        << cluster.log_text(3);

  // Running again: reads through node 3 are linearizable, so each answer
  // waits until its application has caught up.
  EXPECT_EQ(kv.get(3, "before"), "stopped");
  for (int i = 0; i < written; i += 7) {
    auto v = kv.get(3, "k" + std::to_string(i));
    ASSERT_TRUE(v.has_value()) << "k" << i;
    EXPECT_EQ(*v, std::to_string(i) + big) << "k" << i;
  }
}

}  // namespace
}  // namespace conclave::cluster_test
