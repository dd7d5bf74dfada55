// Tests of the node loop: several Nodes on one io_context, with real data
// directories (fsync off) and an in-process network in place of the TCP
// transport. They cover what the node adds to the core: founding, the drain
// order, forwarded proposals, joining through a snapshot, promotion, removal
// and the leadership hand-off on shutdown.
//
// No timed assertions: each wait runs the io_context until a condition holds,
// with a generous bound that only stops a hung test.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "tests/unit/node/fake_app.h"
#include "tests/unit/node/node_cluster.h"

namespace conclave::node {
namespace {

using raft::NodeId;
using testing::Answer;
using testing::Cluster;
using testing::propose;

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::warn); }

  // Node 1, a solo leader whose log is compacted past index 10 behind a
  // snapshot of `app` (snapshots come from an application), so a node
  // joining it needs that snapshot.
  Node& compacted_founder(Cluster& cluster, std::shared_ptr<testing::FakeApp>& app) {
    NodeConfig founder = cluster.config(1);
    founder.solo = true;
    founder.snapshot_entries = 5;
    Node& one = cluster.add(founder);
    EXPECT_TRUE(cluster.run_until([&] { return one.status().role == raft::Role::kLeader; }));
    app = std::make_shared<testing::FakeApp>(cluster.io(), one, "one");
    app->attach(0);
    std::vector<std::shared_ptr<Answer>> answers;
    for (int i = 0; i < 20; ++i) answers.push_back(propose(one, "entry " + std::to_string(i)));
    EXPECT_TRUE(cluster.run_until([&] {
      for (const auto& a : answers) {
        if (!a->done) return false;
      }
      return true;
    }));
    for (const auto& a : answers) EXPECT_EQ(a->reply.error, ipc::AdminError::kNone) << a->reply.reason;
    // The application makes snapshots when asked, after it applies; the
    // answers above come at commit, so its latest snapshot may still be on
    // its way.
    EXPECT_TRUE(cluster.run_until([&] { return one.snapshot_index().value() > 10; }))
        << "snapshot index " << one.snapshot_index().value();
    return one;
  }

  // Node 2, joining node 1.
  Node& add_joiner(Cluster& cluster, bool fsync = false) {
    NodeConfig joiner = cluster.config(2);
    joiner.join = Cluster::address(1);
    joiner.no_fsync = !fsync;
    return cluster.add(joiner);
  }
};

TEST_F(NodeTest, FoundersElectALeaderAndAFollowerForwardsProposals) {
  Cluster cluster("founders");
  cluster.add_founders(3);
  ASSERT_TRUE(cluster.run_until([&] { return cluster.leader() != nullptr; }));
  Node* leader = cluster.leader();
  Node* follower = nullptr;
  for (std::uint64_t id = 1; id <= 3; ++id) {
    Node* n = cluster.node(NodeId(id));
    if (n != leader) follower = n;
  }
  ASSERT_NE(follower, nullptr);
  ASSERT_TRUE(cluster.run_until([&] { return follower->status().leader != raft::kNoNode; }));

  auto on_leader = propose(*leader, "a");
  auto forwarded = propose(*follower, "b");
  ASSERT_TRUE(cluster.run_until([&] { return on_leader->done && forwarded->done; }));
  ASSERT_EQ(on_leader->reply.error, ipc::AdminError::kNone) << on_leader->reply.reason;
  ASSERT_EQ(forwarded->reply.error, ipc::AdminError::kNone) << forwarded->reply.reason;
  ASSERT_TRUE(forwarded->reply.committed.has_value());
  std::uint64_t index = std::max(on_leader->reply.committed->index, forwarded->reply.committed->index);
  // Every member applies through both entries.
  ASSERT_TRUE(cluster.run_until([&] {
    for (std::uint64_t id = 1; id <= 3; ++id) {
      if (cluster.node(NodeId(id))->applied_index().value() < index) return false;
    }
    return true;
  }));
}

// A follower whose connection to the leader is down (backing off) cannot
// queue a forwarded proposal: it says so at once, as noLeader (which the
// SDK retries), instead of holding the caller until the deadline. One
// whose connection fails with the forward on it says the outcome is
// unknown, also at once.
TEST_F(NodeTest, AFollowerThatCannotReachTheLeaderAnswersAForwardAtOnce) {
  Cluster cluster("unreachable-leader");
  cluster.add_founders(3);
  ASSERT_TRUE(cluster.run_until([&] { return cluster.leader() != nullptr; }));
  Node* leader = cluster.leader();
  std::uint64_t follower_id = 0;
  for (std::uint64_t id = 1; id <= 3 && follower_id == 0; ++id) {
    if (cluster.node(NodeId(id)) != leader) follower_id = id;
  }
  Node* follower = cluster.node(NodeId(follower_id));
  ASSERT_TRUE(cluster.run_until([&] { return follower->status().leader != raft::kNoNode; }));

  cluster.member(follower_id).network->set_unreachable(leader->status().id, true);
  auto refused = propose(*follower, "not sent");
  ASSERT_TRUE(refused->done) << "answered before the loop ran again";
  EXPECT_EQ(refused->reply.error, ipc::AdminError::kNoLeader);
  EXPECT_NE(refused->reply.reason.find("was not sent"), std::string::npos) << refused->reply.reason;

  cluster.member(follower_id).network->set_unreachable(leader->status().id, false);
  auto sent = propose(*follower, "sent");
  ASSERT_TRUE(cluster.run_until([&] { return sent->done; }));
  EXPECT_EQ(sent->reply.error, ipc::AdminError::kNone) << sent->reply.reason;

  // Queued, then the connection fails under it: the caller hears at once
  // that the outcome is unknown (it may have arrived, and here it has).
  auto lost = propose(*follower, "on a failing connection");
  follower->on_connection_lost(leader->status().id);
  ASSERT_TRUE(lost->done);
  EXPECT_EQ(lost->reply.error, ipc::AdminError::kRejected);
  EXPECT_NE(lost->reply.reason.find("outcome is unknown"), std::string::npos) << lost->reply.reason;
}

TEST_F(NodeTest, AFollowerStoresTheLeadersSnapshotOffItsEventLoop) {
  // The snapshot's fsync covers the whole state; a loop waiting for it
  // hears no heartbeat. Here every node shares one loop, so a stalled one
  // stops the cluster.
  Cluster cluster("install");
  std::shared_ptr<testing::FakeApp> app;
  Node& one = compacted_founder(cluster, app);
  ASSERT_FALSE(HasFailure());

  Node& two = add_joiner(cluster, true);
  storage::testing::FaultPlan& disk = *cluster.member(2).faults;
  disk.hold_syncs_of = "/snapshots/";
  disk.hold_syncs = true;
  ASSERT_TRUE(cluster.run_until([&] { return disk.syncs_held_now.load() > 0; })) << "no snapshot was sent";

  auto during = propose(one, "while the joiner stores the snapshot");
  ASSERT_TRUE(cluster.run_until([&] { return during->done; }));
  EXPECT_GT(disk.syncs_held_now.load(), 0) << "the cluster waited for the joiner's snapshot fsync";
  EXPECT_EQ(two.snapshot_index().value(), 0u) << "installed before it was durable";

  disk.hold_syncs = false;
  ASSERT_TRUE(cluster.run_until([&] { return two.snapshot_index().value() > 0; }));
  ASSERT_TRUE(cluster.run_until([&] { return two.applied_index() >= one.snapshot_index(); }));
  app->detach();
}

TEST_F(NodeTest, AJoinerCatchesUpFromASnapshotIsPromotedAndStopsWhenRemoved) {
  Cluster cluster("join");
  std::shared_ptr<testing::FakeApp> app;
  Node& one = compacted_founder(cluster, app);
  ASSERT_FALSE(HasFailure());

  Node& two = add_joiner(cluster);
  ASSERT_TRUE(cluster.run_until([&] { return two.status().config.is_voter(NodeId(2)); }));
  EXPECT_GT(two.snapshot_index().value(), 0u) << "the joiner should have installed the leader's snapshot";
  ASSERT_TRUE(cluster.run_until([&] { return two.applied_index() >= one.snapshot_index(); }));

  // Now a two-voter cluster: a proposal needs both.
  auto after = propose(one, "after the join");
  ASSERT_TRUE(cluster.run_until([&] { return after->done; }));
  ASSERT_EQ(after->reply.error, ipc::AdminError::kNone) << after->reply.reason;

  auto removal = std::make_shared<Answer>();
  one.admin_remove(2, [removal](ipc::AdminReply r) {
    removal->done = true;
    removal->reply = std::move(r);
  });
  ASSERT_TRUE(cluster.run_until([&] { return removal->done; }));
  ASSERT_EQ(removal->reply.error, ipc::AdminError::kNone) << removal->reply.reason;
  ASSERT_TRUE(cluster.run_until([&] { return cluster.member(2).exit_code.has_value(); }));
  EXPECT_EQ(*cluster.member(2).exit_code, 0);
  EXPECT_FALSE(one.status().config.contains(NodeId(2)));
  app->detach();
}

TEST_F(NodeTest, ALeaderHandsOffLeadershipWhenShutDown) {
  Cluster cluster("shutdown");
  cluster.add_founders(3);
  ASSERT_TRUE(cluster.run_until([&] { return cluster.leader() != nullptr; }));
  Node* old_leader = cluster.leader();
  const NodeId old_id = old_leader->status().id;
  auto committed = propose(*old_leader, "x");
  ASSERT_TRUE(cluster.run_until([&] { return committed->done; }));

  old_leader->shutdown();
  ASSERT_TRUE(cluster.run_until([&] { return cluster.member(old_id.value()).exit_code.has_value(); }));
  EXPECT_EQ(*cluster.member(old_id.value()).exit_code, 0);
  // The hand-off means another node leads without waiting for an election
  // timeout; either way, one must lead.
  ASSERT_TRUE(cluster.run_until([&] {
    Node* l = cluster.leader();
    return l != nullptr && l->status().id != old_id;
  }));
}

TEST_F(NodeTest, AFailedSyncStopsTheLeaderWithoutAcknowledgingTheEntry) {
  Cluster cluster("failstop");
  cluster.add_founders(3, /*fsync=*/true);  // the failure is injected at fdatasync
  ASSERT_TRUE(cluster.run_until([&] { return cluster.leader() != nullptr; }));
  Node* leader = cluster.leader();
  auto first = propose(*leader, "durable");
  ASSERT_TRUE(cluster.run_until([&] { return first->done; }));
  ASSERT_EQ(first->reply.error, ipc::AdminError::kNone) << first->reply.reason;
  const std::uint64_t leader_id = leader->status().id.value();

  cluster.member(leader_id).faults->syncs_left = 0;  // every sync from now on fails
  auto doomed = propose(*leader, "never durable");
  ASSERT_TRUE(cluster.run_until([&] { return cluster.member(leader_id).exit_code.has_value(); }));
  EXPECT_EQ(*cluster.member(leader_id).exit_code, 1);
  ASSERT_TRUE(doomed->done);
  // The leader may have sent the entry before its own write (§10.2.1), so
  // the followers may still commit it; but the leader never said so.
  EXPECT_NE(doomed->reply.error, ipc::AdminError::kNone);
}

TEST_F(NodeTest, AFollowerWhoseSyncFailsNeverAcknowledgesTheEntry) {
  Cluster cluster("followerfail");
  cluster.add_founders(3, /*fsync=*/true);  // the failure is injected at fdatasync
  ASSERT_TRUE(cluster.run_until([&] { return cluster.leader() != nullptr; }));
  Node* leader = cluster.leader();
  auto first = propose(*leader, "durable");
  ASSERT_TRUE(cluster.run_until([&] { return first->done; }));
  const std::uint64_t leader_id = leader->status().id.value();
  std::vector<std::uint64_t> followers;
  for (std::uint64_t id = 1; id <= 3; ++id) {
    if (id != leader_id) followers.push_back(id);
  }
  // One follower is gone; the other's disk fails: no majority can hold the
  // next entry, so it must never be acknowledged.
  cluster.member(followers[0]).node->shutdown();
  ASSERT_TRUE(cluster.run_until([&] { return cluster.member(followers[0]).exit_code.has_value(); }));
  cluster.member(followers[1]).faults->syncs_left = 0;
  auto doomed = propose(*leader, "no majority");
  ASSERT_TRUE(cluster.run_until([&] { return cluster.member(followers[1]).exit_code.has_value(); }));
  EXPECT_EQ(*cluster.member(followers[1]).exit_code, 1);
  // Give the leader every chance to (wrongly) count an acknowledgement.
  cluster.run_until([&] { return doomed->done; });
  EXPECT_TRUE(!doomed->done || doomed->reply.error != ipc::AdminError::kNone)
      << "acknowledged at index " << (doomed->reply.committed ? doomed->reply.committed->index : 0)
      << " without a durable majority";
}

TEST_F(NodeTest, AFollowerAcknowledgesAnEntryOnlyAfterItsSyncFinished) {
  // The sync runs off the event loop (sync_thread.h) while the loop keeps
  // reading: an acknowledgement that left before the sync covering its
  // entry finished would be counted by the leader as durable when it is not.
  Cluster cluster("ackaftersync");
  cluster.add_founders(3, /*fsync=*/true);  // syncs are held at fdatasync
  ASSERT_TRUE(cluster.run_until([&] { return cluster.leader() != nullptr; }));
  Node* leader = cluster.leader();
  auto first = propose(*leader, "warm");
  ASSERT_TRUE(cluster.run_until([&] { return first->done; }));
  const NodeId leader_id = leader->status().id;
  const NodeId follower(leader_id.value() == 1 ? 2 : 1);
  auto& plan = *cluster.member(follower.value()).faults;
  const std::uint64_t next = leader->status().last_index.value() + 1;
  const long finished_before = plan.syncs_finished.load();
  plan.hold_syncs = true;
  int early_acks = 0;
  int acks = 0;
  cluster.on_send = [&](const raft::Message& m) {
    if (m.from != follower || m.type != raft::MessageType::kAppendResponse || m.reject) return;
    if (m.match_index.value() < next) return;
    ++acks;
    if (plan.syncs_finished.load() == finished_before) ++early_acks;
  };
  auto held = propose(*leader, "held");
  // The leader and the other follower commit it; this follower's sync waits.
  ASSERT_TRUE(cluster.run_until([&] { return held->done; }));
  EXPECT_EQ(held->reply.error, ipc::AdminError::kNone);
  plan.hold_syncs = false;
  ASSERT_TRUE(cluster.run_until([&] { return acks > 0; }));
  EXPECT_EQ(early_acks, 0) << "the follower acknowledged entry " << next << " before any sync finished";
  cluster.on_send = nullptr;
}

TEST_F(NodeTest, AnEmptyDataDirectoryWithoutAModeIsRefused) {
  Cluster cluster("nomode");
  NodeConfig c = cluster.config(1);
  EXPECT_THROW(cluster.add(c), std::runtime_error);
}

}  // namespace
}  // namespace conclave::node
