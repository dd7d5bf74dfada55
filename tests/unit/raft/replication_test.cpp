// Log replication: commit, the current-term commit rule, fast backtracking,
// flow control, and follower proposals.
#include <gtest/gtest.h>

#include <set>

#include "tests/unit/raft/test_cluster.h"

namespace conclave::raft::testing {
namespace {

TEST(Replication, ProposalsCommitOnEveryNodeInOrder) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.raft(1).propose("v" + std::to_string(i)).ok());
  c.settle();
  auto want = c.applied_data(1);
  ASSERT_EQ(want.size(), 10u);
  EXPECT_EQ(want.front(), "v0");
  EXPECT_EQ(c.applied_data(2), want);
  EXPECT_EQ(c.applied_data(3), want);
}

// While its Ready syncs, a leader hands out the appends for what was
// proposed since (raft.h, take_early_messages); its own copy still counts
// toward a commit only once advanced.
TEST(Replication, ALeaderSendsAppendsMadeWhileItsReadyIsSyncing) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  Raft& leader = c.raft(1);
  EXPECT_TRUE(leader.take_early_messages().empty()) << "no Ready is outstanding";
  ASSERT_TRUE(leader.propose("a").ok());
  Ready first = leader.ready();
  ASSERT_TRUE(first.leader_may_send_first);
  Proposal b = leader.propose("b");
  ASSERT_TRUE(b.ok());
  std::vector<Message> early = leader.take_early_messages();
  std::set<NodeId> to;
  for (const Message& m : early) {
    EXPECT_EQ(m.type, MessageType::kAppend);
    ASSERT_FALSE(m.entries.empty());
    EXPECT_EQ(m.entries.back().index, b.index);
    EXPECT_EQ(m.entries.back().data, "b");
    to.insert(m.to);
  }
  EXPECT_EQ(to, (std::set<NodeId>{NodeId(2), NodeId(3)}));
  EXPECT_TRUE(leader.take_early_messages().empty()) << "handed out once";
  EXPECT_TRUE(c.raft(2).take_early_messages().empty()) << "a follower has nothing to send early";
  leader.advance(first);
}

// A lone voter elects itself without a message: its first Ready carries the
// new term, and until that is durable nothing may speak for the term, not
// even to a learner.
TEST(Replication, ALoneVoterSendsNothingEarlyBeforeItsTermIsDurable) {
  TestCluster c(1);
  ASSERT_TRUE(c.elect(1));
  c.add_empty_node(NodeId(2));
  ASSERT_TRUE(c.raft(1).propose_config_change({ConfigChangeType::kAddLearner, NodeId(2)}).ok());
  c.settle();
  ASSERT_EQ(c.raft(1).config().learners, (std::set<NodeId>{NodeId(2)}));
  const Term before = c.raft(1).term();
  c.restart(1);
  Raft& r = c.raft(1);
  r.campaign();  // a lone voter: leader at once, in a term not yet on disk
  ASSERT_EQ(r.role(), Role::kLeader);
  ASSERT_GT(r.term(), before);
  Ready bump = r.ready();
  ASSERT_TRUE(bump.hard_state.has_value());
  EXPECT_FALSE(bump.leader_may_send_first);
  ASSERT_TRUE(r.propose("x").ok());
  Options defaults;
  for (int i = 0; i < defaults.heartbeat_ticks; ++i) r.tick();  // a heartbeat to the learner is due
  EXPECT_TRUE(r.take_early_messages().empty());
  r.advance(bump);
}

TEST(Replication, ProposalReturnsIndexAndTermOfItsEntry) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  Proposal p = c.raft(1).propose("x");
  ASSERT_TRUE(p.ok());
  c.settle();
  const Entry& e = c.node(2).applied.back();
  EXPECT_EQ(e.index, p.index);
  EXPECT_EQ(e.term, p.term);
  EXPECT_EQ(e.data, "x");
}

TEST(Replication, FollowerRefusesProposalWithLeaderHint) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  Proposal p = c.raft(2).propose("x");
  EXPECT_EQ(p.status, Status::kNotLeader);
  EXPECT_EQ(p.leader_hint, NodeId(1));
}

TEST(Replication, MinorityCannotCommit) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.isolate(2);
  c.isolate(3);
  Index before = c.raft(1).commit_index();
  ASSERT_TRUE(c.raft(1).propose("lonely").ok());
  c.settle();
  EXPECT_EQ(c.raft(1).commit_index(), before);
  EXPECT_TRUE(c.applied_data(1).empty());
}

// Figure 8: a leader must not commit an earlier term's entry by counting the
// replicas that hold it; only an entry of its own term commits that way.
TEST(Replication, PreviousTermEntryIsNotCommittedByCountingReplicas) {
  Options o;
  o.id = NodeId(1);
  // Log: bootstrap (1, term 1), (2, term 1), (3, term 2).
  Raft r(o, founder_with_log(3, {1, 2}, Term(2)));
  // Win an election in term 3 (no pre-vote to keep the test short).
  r.campaign();
  for (int round = 0; round < 2 && r.role() != Role::kLeader; ++round) {
    Ready rd = r.ready();
    r.advance(rd);
    for (const Message& m : rd.messages) {
      if (m.type != MessageType::kPreVote && m.type != MessageType::kVote) continue;
      Message resp = make_message(m.type == MessageType::kPreVote ? MessageType::kPreVoteResponse
                                                                  : MessageType::kVoteResponse,
                                  NodeId(1), m.term);
      resp.from = m.to;
      r.step(resp);
    }
  }
  ASSERT_EQ(r.role(), Role::kLeader);
  Ready rd = r.ready();  // persists the no-op at index 4
  r.advance(rd);
  // Node 2 reports holding index 3 (term 2), not yet the no-op.
  Message ack = make_message(MessageType::kAppendResponse, NodeId(1), r.term());
  ack.from = NodeId(2);
  ack.match_index = Index(3);
  r.step(ack);
  EXPECT_EQ(r.commit_index(), Index(1)) << "entry 3 is from term 2; the leader is in term 3";
  // Once node 2 holds the no-op of term 3, all commit together.
  ack.match_index = Index(4);
  r.step(ack);
  EXPECT_EQ(r.commit_index(), Index(4));
}

TEST(Replication, FastBacktrackingSkipsWholeTerms) {
  TestCluster c(3);
  // Nodes 1 and 3 agree (entries 2..10 of term 1, 11..15 of term 3); node 2
  // holds 40 entries of a term nobody else has after index 10.
  std::vector<int> good(9, 1);
  good.insert(good.end(), 5, 3);
  std::vector<int> stale(9, 1);
  stale.insert(stale.end(), 40, 2);
  c.start(NodeId(1), founder_with_log(3, good, Term(3), "g"));
  c.start(NodeId(2), founder_with_log(3, stale, Term(3), "s"));
  c.start(NodeId(3), founder_with_log(3, good, Term(3), "g"));
  ASSERT_TRUE(c.elect(1));
  int rejections = 0;
  for (const Message& m : c.delivered) {
    if (m.type == MessageType::kAppendResponse && m.from == NodeId(2) && m.reject) ++rejections;
  }
  EXPECT_LE(rejections, 2) << "one hint per term, not one round trip per entry";
  EXPECT_EQ(c.raft(2).last_index(), c.raft(1).last_index());
  EXPECT_EQ(c.node(2).log.back().term, c.raft(1).term());
  EXPECT_EQ(c.node(2).log[10].data, "g11") << "the stale suffix is replaced";
  EXPECT_EQ(c.node(2).log.size(), 16u);
}

TEST(Replication, InflightWindowBoundsUnacknowledgedAppends) {
  Options o;
  o.max_entries_per_message = 1;
  o.max_inflight_messages = 3;
  TestCluster c(3, o);
  ASSERT_TRUE(c.elect(1));
  // Node 2 stops answering; node 3 still does, so commits continue.
  c.filter = [](const Message& m) { return !(m.from == NodeId(2) && m.type == MessageType::kAppendResponse); };
  c.delivered.clear();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.raft(1).propose("p").ok());
  c.settle();
  int appends_to_2 = 0;
  int appends_to_3 = 0;
  for (const Message& m : c.delivered) {
    if (m.type != MessageType::kAppend || m.entries.empty()) continue;
    if (m.to == NodeId(2)) ++appends_to_2;
    if (m.to == NodeId(3)) ++appends_to_3;
  }
  EXPECT_EQ(appends_to_2, 3);
  EXPECT_GE(appends_to_3, 20);
  EXPECT_EQ(c.applied_data(3).size(), 20u);
}

TEST(Replication, MessageSizeLimitBatchesEntries) {
  Options o;
  o.max_entries_per_message = 4;
  TestCluster c(3, o);
  ASSERT_TRUE(c.elect(1));
  c.delivered.clear();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.raft(1).propose("p").ok());
  c.settle();
  std::size_t most = 0;
  for (const Message& m : c.delivered) {
    if (m.type == MessageType::kAppend) most = std::max(most, m.entries.size());
  }
  EXPECT_EQ(most, 4u);
  EXPECT_EQ(c.applied_data(2).size(), 10u);
}

TEST(Replication, LostAppendsAreResentAfterAStall) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.raft(1).propose("p").ok());
  c.settle();
  c.heal();
  c.tick_all(3 * Options{}.election_ticks);
  EXPECT_EQ(c.applied_data(3).size(), 5u);
}

TEST(Replication, RestartedFollowerCatchesUp) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(1));
  ASSERT_TRUE(c.raft(1).propose("a").ok());
  c.settle();
  c.restart(3);
  ASSERT_TRUE(c.raft(1).propose("b").ok());
  c.settle();
  c.tick_all(5);
  EXPECT_EQ(c.applied_data(3), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace conclave::raft::testing

namespace conclave::raft::testing {
namespace {

// A stale append delivered late (the network reorders) holds a prefix of
// what the follower already acknowledged; the follower must keep the rest.
TEST(Replication, StaleAppendNeverTruncatesMatchingEntries) {
  Options o;
  o.id = NodeId(2);
  Raft r(o, bootstrap(founders(3)));
  Message full = make_message(MessageType::kAppend, NodeId(2), Term(1));
  full.from = NodeId(1);
  full.prev_index = Index(1);
  full.prev_term = Term(1);
  for (int i = 2; i <= 4; ++i) full.entries.push_back(Entry{Index(i), Term(1), EntryType::kNormal, "x"});
  Message stale = full;
  stale.entries.resize(1);
  r.step(full);
  r.step(stale);
  EXPECT_EQ(r.last_index(), Index(4));
  Ready rd = r.ready();
  ASSERT_EQ(rd.messages.size(), 2u);
  EXPECT_EQ(rd.messages[0].match_index, Index(4));
  EXPECT_EQ(rd.messages[1].match_index, Index(2));
  EXPECT_EQ(rd.entries.size(), 3u);
}

}  // namespace
}  // namespace conclave::raft::testing
