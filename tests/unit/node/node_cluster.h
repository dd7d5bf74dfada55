// The node tests' harness: several Nodes on one io_context, with real data
// directories (fsync off) and an in-process network in place of the TCP
// transport, delivering every send as a posted call on the receiving Node.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "sidecar/node/node.h"
#include "sidecar/node/peer_network.h"
#include "tests/fault/faulty_filesystem.h"

namespace conclave::node::testing {


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
  bool send_forward(NodeId to, peer::ForwardedProposal p) override;
  void send_forward_result(NodeId to, peer::ForwardResult r) override;
  void send_join(const std::string& address, peer::JoinRequest r) override;
  void send_join_result(const peer::JoinRequest& to, peer::JoinResult r) override;
  void send_status_request(NodeId to, peer::StatusRequest r) override;
  void send_status_result(NodeId to, peer::StatusResult r) override;
  // While set, nothing this node sends to `to` leaves, and send_forward
  // says so, as the transport does while a connection backs off.
  void set_unreachable(NodeId to, bool unreachable) {
    if (unreachable) {
      unreachable_.insert(to);
    } else {
      unreachable_.erase(to);
    }
  }

 private:
  Cluster& cluster_;
  NodeId self_;
  std::set<NodeId> unreachable_;
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
    options.log.segment_bytes_max = segment_bytes_max;
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

  // Founds a cluster of nodes 1..n; with fsync on, a test can make a
  // node's disk fail at fdatasync (member(id).faults).
  void add_founders(std::uint64_t n, bool fsync = false) {
    std::map<std::uint64_t, std::string> members;
    for (std::uint64_t id = 1; id <= n; ++id) members[id] = address(id);
    for (std::uint64_t id = 1; id <= n; ++id) {
      NodeConfig c = config(id);
      c.initial_members = members;
      c.no_fsync = !fsync;
      add(c);
    }
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
  // For nodes added from now on: small segments make compaction drop files,
  // so the log really stops starting at index 1.
  std::uint64_t segment_bytes_max = 64u << 20;
  boost::asio::io_context& io() { return io_; }
  // Sees every Raft message as it is sent (before delivery).
  std::function<void(const raft::Message&)> on_send;

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

inline void InProcessNetwork::send(raft::Message m) {
  if (cluster_.on_send) cluster_.on_send(m);
  if (unreachable_.count(m.to)) return;
  boost::asio::post(cluster_.io(), [this, m = std::move(m)]() mutable {
    if (Node* n = cluster_.node(m.to)) n->on_raft_message(std::move(m));
  });
}

inline void InProcessNetwork::send_snapshot(raft::Message m, peer::SnapshotChunkSource source) {
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

inline bool InProcessNetwork::send_forward(NodeId to, peer::ForwardedProposal p) {
  if (unreachable_.count(to)) return false;
  boost::asio::post(cluster_.io(), [this, to, from = self_, p = std::move(p)]() mutable {
    if (Node* n = cluster_.node(to)) n->on_forwarded_proposal(from, std::move(p));
  });
  return true;
}

inline void InProcessNetwork::send_forward_result(NodeId to, peer::ForwardResult r) {
  boost::asio::post(cluster_.io(), [this, to, from = self_, r = std::move(r)]() mutable {
    if (Node* n = cluster_.node(to)) n->on_forward_result(from, std::move(r));
  });
}

inline void InProcessNetwork::send_join(const std::string& address, peer::JoinRequest r) {
  boost::asio::post(cluster_.io(), [this, address, r = std::move(r)]() mutable {
    if (Node* n = cluster_.node_at(address)) n->on_join_request(std::move(r));
  });
}

inline void InProcessNetwork::send_join_result(const peer::JoinRequest& to, peer::JoinResult r) {
  boost::asio::post(cluster_.io(), [this, address = to.address, r = std::move(r)]() mutable {
    if (Node* n = cluster_.node_at(address)) n->on_join_result(std::move(r));
  });
}

inline void InProcessNetwork::send_status_request(NodeId to, peer::StatusRequest r) {
  boost::asio::post(cluster_.io(), [this, to, from = self_, r]() {
    if (Node* n = cluster_.node(to)) n->on_status_request(from, r);
  });
}

inline void InProcessNetwork::send_status_result(NodeId to, peer::StatusResult r) {
  boost::asio::post(cluster_.io(), [this, to, from = self_, r = std::move(r)]() mutable {
    if (Node* n = cluster_.node(to)) n->on_status_result(from, std::move(r));
  });
}

// Proposes through a node's admin interface and records the answer.
struct Answer {
  bool done = false;
  ipc::AdminReply reply;
};
inline std::shared_ptr<Answer> propose(Node& n, std::string data) {
  auto answer = std::make_shared<Answer>();
  n.admin_propose(std::move(data), [answer](ipc::AdminReply r) {
    answer->done = true;
    answer->reply = std::move(r);
  });
  return answer;
}

}  // namespace conclave::node::testing
