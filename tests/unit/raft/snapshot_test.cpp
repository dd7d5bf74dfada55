// Snapshots: compaction, and InstallSnapshot for followers behind the log.
#include <gtest/gtest.h>

#include "tests/unit/raft/test_cluster.h"

namespace conclave::raft::testing {
namespace {

// Takes a snapshot of node `id` at its applied index and compacts through it.
SnapshotMeta snapshot_and_compact(TestCluster& c, int id) {
  Raft& r = c.raft(id);
  Index applied = r.status().applied;
  SnapshotMeta meta = r.snapshot_meta_at(applied).value();
  c.node(id).snapshot = meta;  // the host stores it durably first
  r.snapshot_taken(meta);
  r.compact(applied);
  auto& log = c.node(id).log;
  std::erase_if(log, [&](const Entry& e) { return e.index <= applied; });
  return meta;
}

TEST(Snapshot, MetaRecordsTermAndConfigurationAtItsIndex) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  ASSERT_TRUE(c.raft(1).propose("a").ok());
  c.settle();
  SnapshotMeta meta = c.raft(1).snapshot_meta_at(c.raft(1).commit_index()).value();
  EXPECT_EQ(meta.index, c.raft(1).commit_index());
  EXPECT_EQ(meta.term, c.raft(1).term());
  EXPECT_EQ(meta.config.voters.size(), 3u);
  EXPECT_FALSE(c.raft(1).snapshot_meta_at(c.raft(1).commit_index().next())) << "past applied";
}

TEST(Snapshot, CompactionRefusesToPassTheSnapshot) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  ASSERT_TRUE(c.raft(1).propose("a").ok());
  c.settle();
  EXPECT_THROW(c.raft(1).compact(Index(1)), std::invalid_argument) << "no snapshot taken yet";
}

TEST(Snapshot, FollowerBehindTheCompactedLogIsSentTheSnapshot) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.isolate(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.raft(1).propose("p" + std::to_string(i)).ok());
  c.settle();
  SnapshotMeta meta = snapshot_and_compact(c, 1);
  ASSERT_TRUE(c.raft(1).propose("after").ok());
  c.settle();
  c.heal();
  c.tick_all(3);
  ASSERT_EQ(c.node(3).installed_snapshots.size(), 1u);
  EXPECT_EQ(c.node(3).installed_snapshots[0], meta);
  EXPECT_EQ(c.raft(3).commit_index(), c.raft(1).commit_index());
  // After the snapshot, only the entry that follows it is applied as an entry.
  EXPECT_EQ(c.applied_data(3), std::vector<std::string>{"after"});
  EXPECT_EQ(c.raft(3).status().snapshot_index, meta.index);
}

// conclaved steps messages while a Ready waits for its sync: a leader's
// snapshot stepped then replaces the log below what the host has applied,
// and the host's own snapshot at that index must be refused, not thrown.
TEST(Snapshot, MetaIsRefusedOnceALeadersSnapshotReplacedTheLogBelowApplied) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.isolate(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.raft(1).propose("p" + std::to_string(i)).ok());
  c.settle();
  snapshot_and_compact(c, 1);
  std::optional<Message> held;
  c.filter = [&](const Message& m) {
    if (m.type != MessageType::kInstallSnapshot || held) return true;
    held = m;
    return false;
  };
  c.heal();
  c.tick_all(3);
  ASSERT_TRUE(held) << "the leader sent its snapshot";
  const Index applied = c.raft(3).status().applied;
  ASSERT_TRUE(c.raft(3).snapshot_meta_at(applied)) << "before: node 3 can snapshot what it applied";
  c.raft(3).step(*held);  // no ready()/advance() yet: the host's sync is out
  EXPECT_FALSE(c.raft(3).snapshot_meta_at(applied)) << "the log below the leader's snapshot is gone";
  c.filter = nullptr;
  c.tick_all(3);
  ASSERT_EQ(c.node(3).installed_snapshots.size(), 1u);
  EXPECT_EQ(c.raft(3).commit_index(), c.raft(1).commit_index());
}

TEST(Snapshot, LostSnapshotIsResent) {
  Options o;
  o.snapshot_timeout_ticks = 5;
  TestCluster c(3, o);
  ASSERT_TRUE(c.elect(1));
  c.isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.raft(1).propose("p").ok());
  c.settle();
  snapshot_and_compact(c, 1);
  c.heal();
  int dropped = 0;
  c.filter = [&](const Message& m) {
    if (m.type == MessageType::kInstallSnapshot && dropped == 0) {
      ++dropped;
      return false;
    }
    return true;
  };
  c.tick_all(20);
  EXPECT_EQ(dropped, 1);
  EXPECT_EQ(c.node(3).installed_snapshots.size(), 1u);
  EXPECT_EQ(c.raft(3).commit_index(), c.raft(1).commit_index());
}

TEST(Snapshot, NewLearnerJoinsFromSnapshot) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.raft(1).propose("p").ok());
  c.settle();
  snapshot_and_compact(c, 1);
  c.add_empty_node(NodeId(4));
  ASSERT_TRUE(c.raft(1).propose_config_change({ConfigChangeType::kAddLearner, NodeId(4)}).ok());
  c.settle();
  c.tick_all(3);
  ASSERT_EQ(c.node(4).installed_snapshots.size(), 1u);
  EXPECT_TRUE(c.raft(4).config().is_learner(NodeId(4)));
  EXPECT_EQ(c.raft(4).last_index(), c.raft(1).last_index());
}

TEST(Snapshot, RestartFromSnapshotReplaysOnlyWhatFollows) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  ASSERT_TRUE(c.raft(1).propose("a").ok());
  c.settle();
  snapshot_and_compact(c, 2);
  ASSERT_TRUE(c.raft(1).propose("b").ok());
  c.settle();
  c.restart(2);
  c.settle();
  EXPECT_EQ(c.applied_data(2), std::vector<std::string>{"b"});
}

}  // namespace
}  // namespace conclave::raft::testing
