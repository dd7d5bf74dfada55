// A node joins a cluster whose log was already compacted behind a snapshot,
// so it must start from the leader's snapshot rather than from entry 1; it
// catches up, becomes a voter, and its log then agrees with the others'.
#include <gtest/gtest.h>

#include <thread>

#include "tests/cluster/cluster.h"

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
  ADD_FAILURE() << "node " << id << " took no snapshot with --snapshot-entries " << kSnapshotEntries;
  return false;
}

TEST(Snapshot, NodeJoiningACompactedClusterStartsFromTheSnapshot) {
  ClusterOptions options;
  options.extra_args = {"--snapshot-entries", std::to_string(kSnapshotEntries)};
  Cluster cluster(options);
  cluster.start_founders(3);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  for (int i = 0; i < 4 * kSnapshotEntries; ++i) {
    ASSERT_TRUE(cluster.propose(1 + static_cast<std::uint64_t>(i) % 3, "entry " + std::to_string(i)).has_value());
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

  // A full member: it takes proposals, and they commit everywhere.
  ASSERT_TRUE(cluster.propose(joiner, "via the joiner").has_value());
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked()));

  cluster.stop_all();
  const std::vector<DiskLog> logs = cluster.expect_disk_logs_agree();
  EXPECT_GT(logs.back().snapshot_index, 0u) << "the joiner holds no snapshot";
}

}  // namespace
}  // namespace conclave::cluster_test
