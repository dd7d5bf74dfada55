// Crashes with fsync on (these tests are about durability): SIGKILL of the
// leader, and of every node at once. Every acknowledged entry must be in
// every node's log on disk afterwards.
#include <gtest/gtest.h>

#include <csignal>

#include "tests/cluster/cluster.h"

namespace conclave::cluster_test {
namespace {

ClusterOptions durable() {
  ClusterOptions options;
  options.no_fsync = false;
  return options;
}

TEST(Crash, KilledLeaderIsReplacedAndCatchesUpWithEveryAcknowledgedEntry) {
  Cluster cluster(durable());
  cluster.start_founders(3);
  const std::uint64_t old_leader = cluster.wait_for_leader();
  ASSERT_NE(old_leader, 0u);
  ASSERT_TRUE(cluster.propose_through_each(cluster.running_ids(), "before the crash"));

  cluster.kill9(old_leader);
  auto exit = cluster.wait_exit(old_leader);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->signaled) << exit->describe();

  const auto survivors = cluster.running_ids();
  const std::uint64_t new_leader = cluster.wait_for_leader(survivors);
  ASSERT_NE(new_leader, 0u);
  EXPECT_NE(new_leader, old_leader);
  ASSERT_TRUE(cluster.propose_through_each(survivors, "after the crash"));

  cluster.start(old_leader);
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), {old_leader}));
  // It must be a working member again, not only a reader of the log.
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  ASSERT_TRUE(cluster.propose_through_each({old_leader}, "after the restart"));
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked()));

  cluster.kill_all();
  cluster.expect_disk_logs_agree();
}

TEST(Crash, EveryNodeKilledAtOnceComesBackWithEveryAcknowledgedEntry) {
  Cluster cluster(durable());
  cluster.start_founders(3);
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(cluster.propose_through_each(cluster.running_ids(), "round " + std::to_string(round)));
  }
  const std::uint64_t acked_before = cluster.max_acked();

  cluster.kill_all();  // SIGKILL to all first, then reap: one simultaneous crash
  for (auto id : cluster.ids()) cluster.start(id);
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  // A new leader commits its no-op, which commits everything before it.
  ASSERT_TRUE(cluster.wait_for_commit(acked_before));
  ASSERT_TRUE(cluster.propose_through_each(cluster.running_ids(), "after the restart"));
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked()));

  cluster.kill_all();
  cluster.expect_disk_logs_agree();
}

}  // namespace
}  // namespace conclave::cluster_test
