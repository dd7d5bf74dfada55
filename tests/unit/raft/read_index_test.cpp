// ReadIndex: a read is released only after a majority confirms leadership,
// and never before the leader has committed an entry of its term.
#include <gtest/gtest.h>

#include "tests/unit/raft/test_cluster.h"

namespace conclave::raft::testing {
namespace {

TEST(ReadIndex, LeaderReleasesReadAfterQuorumConfirms) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  ASSERT_TRUE(c.raft(1).propose("a").ok());
  c.settle();
  ASSERT_EQ(c.raft(1).read_index(7), Status::kOk);
  c.settle();
  ASSERT_EQ(c.node(1).reads.size(), 1u);
  EXPECT_EQ(c.node(1).reads[0].context, 7u);
  EXPECT_EQ(c.node(1).reads[0].index, c.raft(1).commit_index());
}

TEST(ReadIndex, NoReadWithoutAMajority) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.isolate(2);
  c.isolate(3);
  ASSERT_EQ(c.raft(1).read_index(7), Status::kOk);
  c.settle();
  EXPECT_TRUE(c.node(1).reads.empty());
  // When the leader steps down, the read fails instead of hanging.
  c.tick(1, 3 * Options{}.election_ticks);
  EXPECT_EQ(c.node(1).failed_reads, std::vector<std::uint64_t>{7});
  EXPECT_TRUE(c.node(1).reads.empty());
}

TEST(ReadIndex, ReadOnFollowerIsAnsweredByTheLeader) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  ASSERT_TRUE(c.raft(1).propose("a").ok());
  c.settle();
  ASSERT_EQ(c.raft(2).read_index(9), Status::kOk);
  c.settle();
  ASSERT_EQ(c.node(2).reads.size(), 1u);
  EXPECT_EQ(c.node(2).reads[0].context, 9u);
  EXPECT_EQ(c.node(2).reads[0].index, c.raft(1).commit_index());
}

TEST(ReadIndex, DuplicatedAnswerReleasesTheReadOnce) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  // The network delivers the forwarded request twice; the leader answers both.
  c.filter = [&](const Message& m) {
    if (m.type == MessageType::kReadIndex) c.raft(1).step(m);
    return true;
  };
  ASSERT_EQ(c.raft(2).read_index(9), Status::kOk);
  c.settle();
  EXPECT_EQ(c.node(2).reads.size(), 1u);
}

TEST(ReadIndex, ForwardedReadFailsWhenTheLeaderChanges) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.cut(2, 1);  // the request is lost
  ASSERT_EQ(c.raft(2).read_index(4), Status::kOk);
  c.settle();
  EXPECT_TRUE(c.node(2).reads.empty());
  c.heal();
  ASSERT_EQ(c.raft(1).transfer_leadership(NodeId(3)), Status::kOk);
  c.settle();
  ASSERT_EQ(c.raft(2).leader(), NodeId(3));
  EXPECT_EQ(c.node(2).failed_reads, std::vector<std::uint64_t>{4}) << "an answer may never come: fail it";
}

TEST(ReadIndex, ReadWithoutKnownLeaderIsRefused) {
  TestCluster c(3);
  EXPECT_EQ(c.raft(2).read_index(1), Status::kNotLeader);
}

TEST(ReadIndex, NewLeaderWaitsForItsNoopBeforeAnsweringReads) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  // Node 2 takes over, but the acknowledgements of its no-op are held back.
  c.filter = [](const Message& m) { return !(m.type == MessageType::kAppendResponse && m.to == NodeId(2)); };
  ASSERT_EQ(c.raft(1).transfer_leadership(NodeId(2)), Status::kOk);
  c.settle();
  ASSERT_EQ(c.raft(2).role(), Role::kLeader);
  ASSERT_EQ(c.raft(2).read_index(5), Status::kOk);
  c.settle();
  EXPECT_TRUE(c.node(2).reads.empty()) << "the commit index may still lag the previous leader's";
  c.filter = nullptr;
  c.tick_all(3 * Options{}.election_ticks);
  ASSERT_EQ(c.raft(2).role(), Role::kLeader);
  ASSERT_EQ(c.node(2).reads.size(), 1u);
  EXPECT_GE(c.node(2).reads[0].index, c.raft(2).commit_index().prev());
}

TEST(ReadIndex, SingleVoterAnswersAtOnce) {
  TestCluster c(1);
  ASSERT_TRUE(c.elect(1));
  ASSERT_EQ(c.raft(1).read_index(3), Status::kOk);
  c.settle();
  ASSERT_EQ(c.node(1).reads.size(), 1u);
}

}  // namespace
}  // namespace conclave::raft::testing
