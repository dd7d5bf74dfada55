// Tests of the cluster status answer (admin clusterStatus) on nodes over the
// in-process network: the leader answers itself; a follower asks its leader
// and relays the leader's view; a leader that went away is reported as a
// timeout naming it, and a node that knows no leader says so.
//
// No timed assertions: each wait runs the io_context until a condition holds.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "tests/unit/node/node_cluster.h"

namespace conclave::node {
namespace {

using raft::NodeId;
using testing::Answer;
using testing::Cluster;

class NodeStatusTest : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::warn); }
};

std::shared_ptr<Answer> ask_cluster_status(Node& n) {
  auto answer = std::make_shared<Answer>();
  n.admin_cluster_status([answer](ipc::AdminReply r) {
    answer->done = true;
    answer->reply = std::move(r);
  });
  return answer;
}

// Three founders, once a leader is elected and a follower knows it: the
// leader and that follower, or nulls if that does not happen in time.
std::pair<Node*, Node*> settled_leader_and_follower(Cluster& cluster) {
  cluster.add_founders(3, /*fsync=*/true);
  if (!cluster.run_until([&] { return cluster.leader() != nullptr; })) return {};
  Node* leader = cluster.leader();
  for (std::uint64_t id = 1; id <= 3; ++id) {
    Node* n = cluster.node(NodeId(id));
    if (n == nullptr || n == leader) continue;
    if (!cluster.run_until([&] { return n->status().leader != raft::kNoNode; })) return {};
    return {leader, n};
  }
  return {};
}

TEST_F(NodeStatusTest, AFollowerRelaysTheLeadersView) {
  Cluster cluster("cluster-status");
  auto [leader, follower] = settled_leader_and_follower(cluster);
  ASSERT_NE(follower, nullptr) << "no leader elected, or no follower learned of it";
  const std::uint64_t leader_id = leader->status().id.value();

  auto own = ask_cluster_status(*leader);
  ASSERT_TRUE(own->done) << "the leader answers at once";
  ASSERT_TRUE(own->reply.status.has_value()) << own->reply.reason;
  EXPECT_EQ(own->reply.status->node_id, leader_id);

  // Until every follower has been heard from and has answered its first
  // append (probe, then replicate), the view may still miss one.
  std::shared_ptr<Answer> relayed;
  ASSERT_TRUE(cluster.run_until([&] {
    if (relayed && !relayed->done) return false;
    if (relayed && relayed->reply.status) {
      bool all_heard = true;
      for (const auto& m : relayed->reply.status->members) {
        all_heard &= m.id == leader_id || (m.heard && m.state == "replicate");
      }
      if (all_heard) return true;
    }
    relayed = ask_cluster_status(*follower);
    return false;
  }));
  ASSERT_EQ(relayed->reply.error, ipc::AdminError::kNone) << relayed->reply.reason;
  const ipc::StatusInfo& view = *relayed->reply.status;
  EXPECT_EQ(view.node_id, leader_id);
  EXPECT_EQ(view.role, "leader");
  EXPECT_EQ(relayed->reply.leader_hint, leader_id);
  ASSERT_EQ(view.members.size(), 3u);
  for (const auto& m : view.members) {
    EXPECT_EQ(m.address, Cluster::address(m.id));
    EXPECT_EQ(m.state, m.id == leader_id ? "leader" : "replicate") << "member " << m.id;
    EXPECT_FALSE(m.sending_snapshot);
  }
}

TEST_F(NodeStatusTest, ALeaderThatWentAwayIsATimeoutNamingIt) {
  Cluster cluster("cluster-status-gone");
  auto [leader, follower] = settled_leader_and_follower(cluster);
  ASSERT_NE(follower, nullptr) << "no leader elected, or no follower learned of it";
  const std::uint64_t leader_id = leader->status().id.value();
  ASSERT_EQ(follower->status().leader.value(), leader_id);

  // The leader's disk fails: it stops, and answers nothing from then on.
  cluster.member(leader_id).faults->syncs_left = 0;
  auto doomed = testing::propose(*leader, "never durable");
  ASSERT_TRUE(cluster.run_until([&] { return cluster.member(leader_id).exit_code.has_value(); }));
  auto asked = ask_cluster_status(*follower);
  if (asked->done) {
    // The follower had already given up on that leader: it says none is known.
    EXPECT_EQ(asked->reply.error, ipc::AdminError::kNoLeader) << asked->reply.reason;
    return;
  }
  ASSERT_TRUE(cluster.run_until([&] { return asked->done; }));
  EXPECT_EQ(asked->reply.error, ipc::AdminError::kTimeout) << asked->reply.reason;
  EXPECT_NE(asked->reply.reason.find("node " + std::to_string(leader_id)), std::string::npos) << asked->reply.reason;
  EXPECT_EQ(asked->reply.leader_hint, leader_id);
}

TEST_F(NodeStatusTest, ANodeThatKnowsNoLeaderSaysSo) {
  Cluster cluster("cluster-status-alone");
  // One founder of three, alone: it never learns of a leader.
  std::map<std::uint64_t, std::string> members;
  for (std::uint64_t id = 1; id <= 3; ++id) members[id] = Cluster::address(id);
  NodeConfig c = cluster.config(1);
  c.initial_members = members;
  Node& alone = cluster.add(c);
  auto asked = ask_cluster_status(alone);
  ASSERT_TRUE(asked->done);
  EXPECT_EQ(asked->reply.error, ipc::AdminError::kNoLeader);
  EXPECT_NE(asked->reply.reason.find("retry"), std::string::npos) << asked->reply.reason;
}

}  // namespace
}  // namespace conclave::node
