// Elections: timeouts, pre-vote, check-quorum, the leader's no-op, and that
// votes are persisted with the reply that depends on them.
#include <gtest/gtest.h>

#include "tests/unit/raft/test_cluster.h"

namespace conclave::raft::testing {
namespace {

TEST(Election, ElectsExactlyOneLeaderByTimeout) {
  TestCluster c(3);
  c.tick_all(30);
  ASSERT_EQ(c.leaders().size(), 1u);
  NodeId leader = c.leaders()[0];
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(c.raft(i).leader(), leader);
    EXPECT_EQ(c.raft(i).term(), c.raft(leader).term());
  }
}

TEST(Election, NewLeaderCommitsANoopOfItsTerm) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  for (int i = 1; i <= 3; ++i) {
    ASSERT_FALSE(c.node(i).applied.empty()) << "node " << i;
    const Entry& e = c.node(i).applied.back();
    EXPECT_EQ(e.type, EntryType::kNoop);
    EXPECT_EQ(e.term, c.raft(1).term());
  }
}

TEST(Election, SingleVoterElectsItself) {
  TestCluster c(1);
  ASSERT_TRUE(c.elect(1));
  auto p = c.raft(1).propose("x");
  ASSERT_TRUE(p.ok());
  c.settle();
  EXPECT_EQ(c.applied_data(1), std::vector<std::string>{"x"});
}

TEST(Election, VoteIsPersistedInTheSameReadyAsTheReply) {
  TestCluster c(3);
  c.raft(1).campaign();  // pre-vote round
  // Drive by hand: deliver everything, then check node 2's vote reached disk.
  c.settle();
  ASSERT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(2).hard_state.term, c.raft(1).term());
  // Node 2 voted for 1, or node 3 did; at least one durable vote for 1.
  int votes = (c.node(2).hard_state.vote == NodeId(1)) + (c.node(3).hard_state.vote == NodeId(1));
  EXPECT_GE(votes, 1);
}

TEST(Election, VoteReplyAndDurableVoteTravelTogether) {
  Options o;
  o.id = NodeId(2);
  Raft r(o, bootstrap(founders(3)));
  Message m = make_message(MessageType::kVote, NodeId(2), Term(5));
  m.from = NodeId(1);
  m.last_log_index = Index(1);  // as up to date as the voter
  m.last_log_term = Term(1);
  r.step(m);
  Ready rd = r.ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term, Term(5));
  EXPECT_EQ(rd.hard_state->vote, NodeId(1));
  EXPECT_TRUE(rd.must_sync);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_EQ(rd.messages[0].type, MessageType::kVoteResponse);
  EXPECT_FALSE(rd.messages[0].reject);
  r.advance(rd);
}

TEST(Election, RefusesCandidateWithStaleLog) {
  Options o;
  o.id = NodeId(2);
  Raft r(o, founder_with_log(3, {1, 2}, Term(2)));
  // Candidate's last entry is (5, term 1): older term than ours, longer log.
  Message m = make_message(MessageType::kVote, NodeId(2), Term(3));
  m.from = NodeId(1);
  m.last_log_index = Index(5);
  m.last_log_term = Term(1);
  r.step(m);
  Ready rd = r.ready();
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_TRUE(rd.messages[0].reject);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->vote, kNoNode);
}

TEST(Election, OneVotePerTerm) {
  Options o;
  o.id = NodeId(3);
  Raft r(o, bootstrap(founders(3)));
  for (int from : {1, 2}) {
    Message m = make_message(MessageType::kVote, NodeId(3), Term(4));
    m.from = NodeId(from);
    m.last_log_index = Index(1);
    m.last_log_term = Term(1);
    r.step(m);
  }
  Ready rd = r.ready();
  ASSERT_EQ(rd.messages.size(), 2u);
  EXPECT_FALSE(rd.messages[0].reject);
  EXPECT_TRUE(rd.messages[1].reject);
}

TEST(Election, PreVoteKeepsAnIsolatedNodeFromRaisingTerms) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  const Term term = c.raft(1).term();
  c.isolate(3);
  c.tick_all(100);
  EXPECT_EQ(c.raft(3).term(), term) << "pre-vote must not bump the term of an isolated node";
  c.heal();
  c.tick_all(20);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).term(), term) << "the returning node must not disrupt the leader";
}

TEST(Election, WithoutPreVoteAnIsolatedNodeRaisesItsTerm) {
  Options o;
  o.pre_vote = false;
  TestCluster c(3, o);
  ASSERT_TRUE(c.elect(1));
  const Term term = c.raft(1).term();
  c.isolate(3);
  c.tick_all(100);
  EXPECT_GT(c.raft(3).term(), term);  // the failure pre-vote prevents
}

TEST(Election, CheckQuorumStepsDownAnIsolatedLeader) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.isolate(1);
  c.tick(1, 2 * Options{}.election_ticks + 1);
  EXPECT_NE(c.raft(1).role(), Role::kLeader);
}

TEST(Election, WithoutCheckQuorumAnIsolatedLeaderStays) {
  Options o;
  o.check_quorum = false;
  TestCluster c(3, o);
  ASSERT_TRUE(c.elect(1));
  c.isolate(1);
  c.tick(1, 2 * o.election_ticks + 1);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
}

TEST(Election, MajorityPartitionElectsNewLeader) {
  TestCluster c(5);
  ASSERT_TRUE(c.elect(1));
  const Term term = c.raft(1).term();
  c.isolate(1);
  c.tick_all(60);
  std::set<NodeId> leaders;
  for (NodeId id : c.leaders()) {
    if (id != NodeId(1)) leaders.insert(id);
  }
  ASSERT_EQ(leaders.size(), 1u);
  EXPECT_GT(c.raft(*leaders.begin()).term(), term);
  EXPECT_NE(c.raft(1).role(), Role::kLeader);
  c.heal();
  c.tick_all(5);
  EXPECT_EQ(c.raft(1).leader(), *leaders.begin());
}

TEST(Election, RestartKeepsTermAndVote) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  const Term term = c.raft(2).term();
  const NodeId vote = c.node(2).hard_state.vote;
  c.restart(2);
  EXPECT_EQ(c.raft(2).term(), term);
  EXPECT_EQ(c.node(2).hard_state.vote, vote);
}

}  // namespace
}  // namespace conclave::raft::testing
