// Leadership transfer: the target catches up, then gets TimeoutNow.
#include <gtest/gtest.h>

#include "tests/unit/raft/test_cluster.h"

namespace conclave::raft::testing {
namespace {

TEST(Transfer, TargetBecomesLeaderInTheNextTerm) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  const Term term = c.raft(1).term();
  ASSERT_EQ(c.raft(1).transfer_leadership(NodeId(2)), Status::kOk);
  c.settle();
  EXPECT_EQ(c.raft(2).role(), Role::kLeader);
  EXPECT_EQ(c.raft(2).term(), term.next());
  EXPECT_EQ(c.raft(1).leader(), NodeId(2));
}

TEST(Transfer, LaggingTargetCatchesUpFirst) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.isolate(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.raft(1).propose("p").ok());
  c.settle();
  c.heal();
  ASSERT_EQ(c.raft(1).transfer_leadership(NodeId(3)), Status::kOk);
  EXPECT_EQ(c.raft(1).propose("during").status, Status::kTransferInProgress);
  c.settle();
  c.tick_all(3);
  EXPECT_EQ(c.raft(3).role(), Role::kLeader);
  EXPECT_EQ(c.applied_data(3).size(), 10u);
}

TEST(Transfer, AbandonedWhenTargetIsUnreachable) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.isolate(3);
  ASSERT_EQ(c.raft(1).transfer_leadership(NodeId(3)), Status::kOk);
  c.tick(1, Options{}.election_ticks + 1);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_TRUE(c.raft(1).propose("back to work").ok());
}

TEST(Transfer, RefusedForNonVoters) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  EXPECT_EQ(c.raft(1).transfer_leadership(NodeId(9)), Status::kUnknownNode);
  EXPECT_EQ(c.raft(2).transfer_leadership(NodeId(3)), Status::kNotLeader);
}

}  // namespace
}  // namespace conclave::raft::testing
