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
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "sidecar/node/node.h"
#include "sidecar/node/peer_network.h"
#include "tests/fault/faulty_filesystem.h"

namespace conclave::node {
namespace {

using raft::NodeId;

class Cluster;

// Delivers every send as a posted call on the receiving Node, by id or by
// address, as the TCP transport would (best effort: unknown targets drop).
class InProcessNetwork final : public PeerNetwork {
 public:
  InProcessNetwork(Cluster& cluster, NodeId self) : cluster_(cluster), self_(self) {}
  void set_peer_addresses(const std::map<NodeId, std::string>&) override {}
  void send(raft::Message m) override;
  void send_snapshot(raft::Message m, peer::SnapshotChunkSource source) override;
  void send_forward(NodeId to, peer::ForwardedProposal p) override;
  void send_forward_result(NodeId to, peer::ForwardResult r) override;
  void send_join(const std::string& address, peer::JoinRequest r) override;
  void send_join_result(const peer::JoinRequest& to, peer::JoinResult r) override;

 private:
  Cluster& cluster_;
  NodeId self_;
};

struct Member {
  // Every node's disk can be told to fail (tests/fault's FaultyFilesystem).
  std::unique_ptr<storage::testing::FaultPlan> faults;
  std::unique_ptr<storage::testing::FaultyFilesystem> fs;
  std::unique_ptr<storage::DataDir> dir;
  std::unique_ptr<InProcessNetwork> network;
  std::unique_ptr<Node> node;
  std::optional<int> exit_code;
};

class Cluster {
 public:
  explicit Cluster(std::string name) {
    root_ = std::filesystem::temp_directory_path() / ("conclave-node-test-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::remove_all(root_);
  }
  ~Cluster() {
    members_.clear();
    std::filesystem::remove_all(root_);
  }

  static std::string address(std::uint64_t id) { return "node" + std::to_string(id) + ".test:7000"; }

  NodeConfig config(std::uint64_t id) const {
    NodeConfig c;
    c.id = id;
    c.cluster_id = "test";
    c.data_dir = (root_ / ("n" + std::to_string(id))).string();
    c.peer_listen = address(id);
    c.advertise = address(id);
    c.tick_ms = 5;
    c.election_ticks = 10;
    c.heartbeat_ticks = 1;
    c.snapshot_entries = 0;
    c.no_fsync = true;
    return c;
  }

  Node& add(const NodeConfig& config) {
    Member& m = members_[config.id];
    storage::DataDirOptions options;
    options.log.fsync = !config.no_fsync;
    m.faults = std::make_unique<storage::testing::FaultPlan>();
    m.fs = std::make_unique<storage::testing::FaultyFilesystem>(*m.faults);
    auto dir = storage::DataDir::open(config.data_dir, options, *m.fs);
    if (!dir) throw std::runtime_error(dir.error().message);
    m.dir = std::move(dir).value();
    m.network = std::make_unique<InProcessNetwork>(*this, NodeId(config.id));
    m.node = std::make_unique<Node>(io_, config, *m.dir);
    m.node->recover();
    std::uint64_t id = config.id;
    m.node->start(*m.network, [this, id](int code) { members_[id].exit_code = code; });
    return *m.node;
  }

  Node* node(NodeId id) {
    auto it = members_.find(id.value());
    if (it == members_.end() || it->second.node->stopped()) return nullptr;
    return it->second.node.get();
  }
  Node* node_at(const std::string& addr) {
    for (auto& [id, m] : members_) {
      if (address(id) == addr) return node(NodeId(id));
    }
    return nullptr;
  }
  Member& member(std::uint64_t id) { return members_.at(id); }
  boost::asio::io_context& io() { return io_; }

  // Runs the loop until `done` holds; false if it never did within the bound.
  bool run_until(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  Node* leader() {
    for (auto& [id, m] : members_) {
      if (!m.node->stopped() && m.node->status().role == raft::Role::kLeader) return m.node.get();
    }
    return nullptr;
  }

 private:
  boost::asio::io_context io_;
  std::filesystem::path root_;
  std::map<std::uint64_t, Member> members_;
};

void InProcessNetwork::send(raft::Message m) {
  boost::asio::post(cluster_.io(), [this, m = std::move(m)]() mutable {
    if (Node* n = cluster_.node(m.to)) n->on_raft_message(std::move(m));
  });
}

void InProcessNetwork::send_snapshot(raft::Message m, peer::SnapshotChunkSource source) {
  // Pull the whole stream now, then deliver it chunk by chunk, as the
  // transport would.
  std::vector<std::string> chunks;
  for (int i = 0; i < 1000; ++i) {
    auto chunk = source();
    ASSERT_TRUE(chunk.has_value()) << "the snapshot source failed";
    if (chunk->empty()) break;
    chunks.push_back(std::move(*chunk));
  }
  std::uint64_t offset = 0;
  std::uint64_t total = 0;
  for (const auto& c : chunks) total += c.size();
  const NodeId to = m.to;
  for (std::size_t i = 0; i <= chunks.size(); ++i) {
    peer::SnapshotChunk chunk;
    chunk.from = self_;
    chunk.meta = *m.snapshot;
    chunk.offset = offset;
    if (i < chunks.size()) {
      chunk.data = chunks[i];
      offset += chunks[i].size();
    } else {
      chunk.done = true;
      chunk.total_bytes = total;
      chunk.install = m;
    }
    boost::asio::post(cluster_.io(), [this, to, chunk = std::move(chunk)]() mutable {
      if (Node* n = cluster_.node(to)) n->on_snapshot_chunk(std::move(chunk));
    });
  }
}

void InProcessNetwork::send_forward(NodeId to, peer::ForwardedProposal p) {
  boost::asio::post(cluster_.io(), [this, to, from = self_, p = std::move(p)]() mutable {
    if (Node* n = cluster_.node(to)) n->on_forwarded_proposal(from, std::move(p));
  });
}

void InProcessNetwork::send_forward_result(NodeId to, peer::ForwardResult r) {
  boost::asio::post(cluster_.io(), [this, to, from = self_, r = std::move(r)]() mutable {
    if (Node* n = cluster_.node(to)) n->on_forward_result(from, std::move(r));
  });
}

void InProcessNetwork::send_join(const std::string& address, peer::JoinRequest r) {
  boost::asio::post(cluster_.io(), [this, address, r = std::move(r)]() mutable {
    if (Node* n = cluster_.node_at(address)) n->on_join_request(std::move(r));
  });
}

void InProcessNetwork::send_join_result(const peer::JoinRequest& to, peer::JoinResult r) {
  boost::asio::post(cluster_.io(), [this, address = to.address, r = std::move(r)]() mutable {
    if (Node* n = cluster_.node_at(address)) n->on_join_result(std::move(r));
  });
}

// Proposes through a node's admin interface and records the answer.
struct Answer {
  bool done = false;
  ipc::AdminReply reply;
};
std::shared_ptr<Answer> propose(Node& n, std::string data) {
  auto answer = std::make_shared<Answer>();
  n.admin_propose(std::move(data), [answer](ipc::AdminReply r) {
    answer->done = true;
    answer->reply = std::move(r);
  });
  return answer;
}

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::warn); }
};

TEST_F(NodeTest, FoundersElectALeaderAndAFollowerForwardsProposals) {
  Cluster cluster("founders");
  std::map<std::uint64_t, std::string> members;
  for (std::uint64_t id = 1; id <= 3; ++id) members[id] = Cluster::address(id);
  for (std::uint64_t id = 1; id <= 3; ++id) {
    NodeConfig c = cluster.config(id);
    c.initial_members = members;
    cluster.add(c);
  }
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

TEST_F(NodeTest, AJoinerCatchesUpFromASnapshotIsPromotedAndStopsWhenRemoved) {
  Cluster cluster("join");
  NodeConfig founder = cluster.config(1);
  founder.solo = true;
  founder.snapshot_entries = 5;
  Node& one = cluster.add(founder);
  ASSERT_TRUE(cluster.run_until([&] { return one.status().role == raft::Role::kLeader; }));
  std::vector<std::shared_ptr<Answer>> answers;
  for (int i = 0; i < 20; ++i) answers.push_back(propose(one, "entry " + std::to_string(i)));
  ASSERT_TRUE(cluster.run_until([&] {
    for (const auto& a : answers) {
      if (!a->done) return false;
    }
    return true;
  }));
  for (const auto& a : answers) ASSERT_EQ(a->reply.error, ipc::AdminError::kNone) << a->reply.reason;
  ASSERT_GT(one.snapshot_index().value(), 10u);  // compacted past the start, so the joiner needs the snapshot

  NodeConfig joiner = cluster.config(2);
  joiner.join = Cluster::address(1);
  Node& two = cluster.add(joiner);
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
}

TEST_F(NodeTest, ALeaderHandsOffLeadershipWhenShutDown) {
  Cluster cluster("shutdown");
  std::map<std::uint64_t, std::string> members;
  for (std::uint64_t id = 1; id <= 3; ++id) members[id] = Cluster::address(id);
  for (std::uint64_t id = 1; id <= 3; ++id) {
    NodeConfig c = cluster.config(id);
    c.initial_members = members;
    cluster.add(c);
  }
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

TEST_F(NodeTest, AFailedSyncStopsTheLeaderBeforeItSendsTheEntry) {
  Cluster cluster("failstop");
  std::map<std::uint64_t, std::string> members;
  for (std::uint64_t id = 1; id <= 3; ++id) members[id] = Cluster::address(id);
  for (std::uint64_t id = 1; id <= 3; ++id) {
    NodeConfig c = cluster.config(id);
    c.initial_members = members;
    c.no_fsync = false;  // the failure is injected at fdatasync
    cluster.add(c);
  }
  ASSERT_TRUE(cluster.run_until([&] { return cluster.leader() != nullptr; }));
  Node* leader = cluster.leader();
  auto first = propose(*leader, "durable");
  ASSERT_TRUE(cluster.run_until([&] { return first->done; }));
  ASSERT_EQ(first->reply.error, ipc::AdminError::kNone) << first->reply.reason;
  const std::uint64_t leader_id = leader->status().id.value();
  const std::uint64_t last_before = leader->status().last_index.value();

  cluster.member(leader_id).faults->syncs_left = 0;  // every sync from now on fails
  auto doomed = propose(*leader, "never durable");
  ASSERT_TRUE(cluster.run_until([&] { return cluster.member(leader_id).exit_code.has_value(); }));
  EXPECT_EQ(*cluster.member(leader_id).exit_code, 1);
  ASSERT_TRUE(doomed->done);
  EXPECT_NE(doomed->reply.error, ipc::AdminError::kNone);
  // Nothing the leader failed to persist reached a follower.
  for (std::uint64_t id = 1; id <= 3; ++id) {
    if (id == leader_id) continue;
    EXPECT_LE(cluster.member(id).node->status().last_index.value(), last_before) << "node " << id;
  }
}

TEST_F(NodeTest, AnEmptyDataDirectoryWithoutAModeIsRefused) {
  Cluster cluster("nomode");
  NodeConfig c = cluster.config(1);
  EXPECT_THROW(cluster.add(c), std::runtime_error);
}

}  // namespace
}  // namespace conclave::node
