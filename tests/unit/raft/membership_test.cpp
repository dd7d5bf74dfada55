// Membership changes one server at a time: learners, promotion, removal, and
// the rules that keep single-server changes safe.
#include <gtest/gtest.h>

#include "tests/unit/raft/test_cluster.h"

namespace conclave::raft::testing {
namespace {

ConfigChange add_learner(int id) { return {ConfigChangeType::kAddLearner, NodeId(id)}; }
ConfigChange promote(int id) { return {ConfigChangeType::kPromote, NodeId(id)}; }
ConfigChange remove(int id) { return {ConfigChangeType::kRemove, NodeId(id)}; }

TEST(Membership, LearnerReceivesTheLogWithoutVoting) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  ASSERT_TRUE(c.raft(1).propose("before").ok());
  c.settle();
  c.add_empty_node(NodeId(4));
  ASSERT_TRUE(c.raft(1).propose_config_change(add_learner(4)).ok());
  c.settle();
  c.tick_all(2);
  EXPECT_TRUE(c.raft(1).config().is_learner(NodeId(4)));
  EXPECT_TRUE(c.raft(4).config().is_learner(NodeId(4)));
  // The founding configuration reached the joiner through the log.
  EXPECT_EQ(c.raft(4).config(), c.raft(1).config());
  EXPECT_EQ(c.applied_data(4), std::vector<std::string>{"before"});
  // A learner never campaigns, however long it waits alone.
  c.isolate(4);
  c.tick(4, 100);
  EXPECT_EQ(c.raft(4).role(), Role::kFollower);
}

TEST(Membership, ALearnerWhoseLeaderFellSilentAnswersVoteRequests) {
  // It may be a voter already without knowing it: the others may need its
  // vote. While it still counted the silent leader as live, check quorum
  // dropped every vote request it got, for as long as the leader's lease
  // seemed to run, and its election timer restarted it again and again.
  Options o;
  TestCluster c(3, o);
  ASSERT_TRUE(c.elect(1));
  c.add_empty_node(NodeId(4));
  ASSERT_TRUE(c.raft(1).propose_config_change(add_learner(4)).ok());
  c.settle();
  c.tick_all(2);
  ASSERT_EQ(c.raft(4).leader(), NodeId(1));
  c.isolate(1);
  c.tick(4, 2 * o.election_ticks);  // longer than any election timeout
  EXPECT_EQ(c.raft(4).leader(), kNoNode);
  for (int i = 0; i < 2 * o.election_ticks; ++i) {
    Message m;
    m.type = MessageType::kPreVote;
    m.from = NodeId(2);
    m.to = NodeId(4);
    m.term = c.raft(2).term().next();
    m.last_log_index = c.raft(2).last_index();
    m.last_log_term = c.raft(2).term();
    const std::size_t before = c.delivered.size();
    c.raft(4).step(m);
    c.settle();
    bool granted = false;
    for (std::size_t k = before; k < c.delivered.size(); ++k) {
      const Message& r = c.delivered[k];
      granted |= r.type == MessageType::kPreVoteResponse && r.from == NodeId(4) && !r.reject;
    }
    EXPECT_TRUE(granted) << "pre-vote at tick " << i << " of the silence went unanswered";
    c.tick(4);
  }
}

TEST(Membership, AddressesTravelWithTheConfiguration) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.add_empty_node(NodeId(4));
  ASSERT_TRUE(c.raft(1).propose_config_change({ConfigChangeType::kAddLearner, NodeId(4), "10.0.0.4:7000"}).ok());
  c.settle();
  c.tick_all(2);
  EXPECT_EQ(c.raft(2).config().addresses.at(NodeId(4)), "10.0.0.4:7000");
  EXPECT_EQ(c.raft(4).config().addresses.at(NodeId(4)), "10.0.0.4:7000");
  ASSERT_TRUE(c.raft(1).propose_config_change(remove(4)).ok());
  c.settle();
  EXPECT_EQ(c.raft(2).config().addresses.count(NodeId(4)), 0u);
}

TEST(Membership, LearnerDoesNotCountTowardCommit) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.add_empty_node(NodeId(4));
  ASSERT_TRUE(c.raft(1).propose_config_change(add_learner(4)).ok());
  c.settle();
  c.isolate(2);
  c.isolate(3);
  Index before = c.raft(1).commit_index();
  ASSERT_TRUE(c.raft(1).propose("x").ok());
  c.settle();
  EXPECT_EQ(c.raft(4).last_index(), c.raft(1).last_index());
  EXPECT_EQ(c.raft(1).commit_index(), before) << "leader plus learner is not a majority of voters";
}

TEST(Membership, PromotionWaitsForTheLearnerToCatchUp) {
  Options o;
  o.promote_lag_max = 5;
  TestCluster c(3, o);
  ASSERT_TRUE(c.elect(1));
  c.add_empty_node(NodeId(4));
  ASSERT_TRUE(c.raft(1).propose_config_change(add_learner(4)).ok());
  c.settle();
  c.isolate(4);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.raft(1).propose("p").ok());
  c.settle();
  EXPECT_EQ(c.raft(1).propose_config_change(promote(4)).status, Status::kLearnerNotCaughtUp);
  c.heal();
  c.tick_all(3 * o.election_ticks);
  ASSERT_TRUE(c.raft(1).propose_config_change(promote(4)).ok());
  c.settle();
  EXPECT_TRUE(c.raft(1).config().is_voter(NodeId(4)));
  EXPECT_EQ(c.raft(1).config().voters.size(), 4u);
}

TEST(Membership, OneChangeAtATime) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.isolate(2);
  c.isolate(3);
  ASSERT_TRUE(c.raft(1).propose_config_change(add_learner(4)).ok());
  c.settle();
  EXPECT_EQ(c.raft(1).propose_config_change(add_learner(5)).status, Status::kConfigChangePending);
}

TEST(Membership, NewLeaderMustCommitItsOwnEntryFirst) {
  Options o;
  o.id = NodeId(1);
  Raft solo(o, bootstrap({NodeId(1)}));
  solo.campaign();
  ASSERT_EQ(solo.role(), Role::kLeader);
  EXPECT_EQ(solo.propose_config_change(add_learner(2)).status, Status::kLeaderNotReady);
  Ready rd = solo.ready();
  solo.advance(rd);  // the no-op is now durable and, with one voter, committed
  EXPECT_TRUE(solo.propose_config_change(add_learner(2)).ok());
}

TEST(Membership, FoundersMustComeFromBootstrap) {
  Options o;
  o.id = NodeId(1);
  // A configuration outside the log could never reach a later joiner.
  Restored wrong{{}, SnapshotMeta{{}, {}, Configuration{{NodeId(1)}, {}}}, {}, {}};
  EXPECT_THROW(Raft(o, wrong), std::invalid_argument);
  EXPECT_THROW(bootstrap(std::set<NodeId>{}), std::invalid_argument);
}

TEST(Membership, InvalidChangesAreRefused) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  EXPECT_EQ(c.raft(1).propose_config_change(add_learner(2)).status, Status::kInvalidConfigChange);
  EXPECT_EQ(c.raft(1).propose_config_change(remove(7)).status, Status::kUnknownNode);
  EXPECT_EQ(c.raft(1).propose_config_change(promote(7)).status, Status::kUnknownNode);
  EXPECT_EQ(c.raft(1).propose_config_change(promote(2)).status, Status::kInvalidConfigChange);
  EXPECT_EQ(c.raft(2).propose_config_change(add_learner(4)).status, Status::kNotLeader);
  ConfigChange again = ConfigChange::founding(Configuration{{NodeId(1)}, {}});
  EXPECT_EQ(c.raft(1).propose_config_change(again).status, Status::kInvalidConfigChange);
}

TEST(Membership, RemovedFollowerLeavesAndDoesNotDisrupt) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  ASSERT_TRUE(c.raft(1).propose_config_change(remove(3)).ok());
  c.settle();
  const Term term = c.raft(1).term();
  EXPECT_FALSE(c.raft(1).config().contains(NodeId(3)));
  EXPECT_EQ(c.raft(1).config().quorum(), 2u);
  // Node 3 keeps running, hears nothing more, and must not disturb 1 and 2.
  c.tick_all(100);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).term(), term);
  ASSERT_TRUE(c.raft(1).propose("after").ok());
  c.settle();
  EXPECT_EQ(c.applied_data(2), std::vector<std::string>{"after"});
}

TEST(Membership, RemovedFollowerLearnsItsRemovalCommitted) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  Proposal p = c.raft(1).propose_config_change(remove(3));
  ASSERT_TRUE(p.ok());
  c.settle();
  // Node 3 holds the removal and knows it committed: its host can stop.
  EXPECT_FALSE(c.raft(3).config().contains(NodeId(3)));
  EXPECT_GE(c.raft(3).commit_index(), p.index);
  // And the leader no longer replicates to it.
  for (const PeerStatus& peer : c.raft(1).status().peers) EXPECT_NE(peer.id, NodeId(3));
}

TEST(Membership, RemovedNodeThatMissedItsRemovalCannotDisrupt) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.isolate(3);
  ASSERT_TRUE(c.raft(1).propose_config_change(remove(3)).ok());
  c.settle();
  const Term term = c.raft(1).term();
  // Node 3 still believes it is a voter; it times out and asks for votes.
  c.tick(3, 50);
  c.heal();
  c.tick_all(50);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).term(), term);
}

TEST(Membership, LeaderRemovingItselfStepsDownAfterCommit) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  ASSERT_TRUE(c.raft(1).propose_config_change(remove(1)).ok());
  c.settle();
  EXPECT_NE(c.raft(1).role(), Role::kLeader);
  c.tick_all(60);
  auto leaders = c.leaders();
  ASSERT_EQ(leaders.size(), 1u);
  EXPECT_NE(leaders[0], NodeId(1));
  EXPECT_EQ(c.raft(leaders[0]).config().voters.size(), 2u);
}

TEST(Membership, ConfigurationRollsBackWhenItsEntryIsTruncated) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.isolate(1);
  ASSERT_TRUE(c.raft(1).propose_config_change(add_learner(4)).ok());
  c.settle();
  EXPECT_TRUE(c.raft(1).config().is_learner(NodeId(4)));
  // 2 and 3 elect a new leader who never saw the change.
  c.tick_all(60);
  c.heal();
  ASSERT_TRUE(c.raft(2).role() == Role::kLeader || c.raft(3).role() == Role::kLeader);
  NodeId leader = c.leaders()[0];
  ASSERT_TRUE(c.raft(leader).propose("overwrite").ok());
  c.settle();
  c.tick_all(5);
  EXPECT_FALSE(c.raft(1).config().contains(NodeId(4))) << "the uncommitted change was truncated";
}

}  // namespace
}  // namespace conclave::raft::testing
