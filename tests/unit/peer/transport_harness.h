// Test support for Transports on loopback: a handler that records what it
// is given, a node (handler + transport) on 127.0.0.1 port 0, a loop that
// runs the io_context until a condition holds (with a generous deadline that
// only fails a hung test), and a capture of the log lines.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "sidecar/peer/transport.h"

namespace conclave::peer::testing {

inline constexpr const char* kCluster = "test-cluster";
inline constexpr const char* kSecret = "correct horse battery staple";

struct Recorder : TransportHandler {
  std::vector<raft::Message> raft;
  std::vector<SnapshotChunk> chunks;
  std::vector<std::string> events;  // "raft" / "chunk", in arrival order
  std::vector<std::pair<raft::NodeId, ForwardedProposal>> forwards;
  std::vector<std::pair<raft::NodeId, ForwardResult>> forward_results;
  std::vector<JoinRequest> joins;
  std::vector<JoinResult> join_results;
  std::vector<std::pair<raft::NodeId, StatusRequest>> status_requests;
  std::vector<std::pair<raft::NodeId, StatusResult>> status_results;
  std::vector<raft::NodeId> connections_lost;
  std::set<raft::NodeId> members;
  bool accept_anyone = false;
  // Called as each chunk arrives, before it is recorded.
  std::function<void(const SnapshotChunk&)> chunk_hook;

  void on_raft_message(raft::Message m) override {
    raft.push_back(std::move(m));
    events.push_back("raft");
  }
  bool on_snapshot_chunk(SnapshotChunk chunk) override {
    if (chunk_hook) chunk_hook(chunk);
    chunks.push_back(std::move(chunk));
    events.push_back("chunk");
    return true;
  }
  void on_forwarded_proposal(raft::NodeId from, ForwardedProposal p) override {
    forwards.emplace_back(from, std::move(p));
  }
  void on_forward_result(raft::NodeId from, ForwardResult r) override {
    forward_results.emplace_back(from, std::move(r));
  }
  bool accepts_peer(raft::NodeId id) override { return accept_anyone || members.count(id) != 0; }
  void on_join_request(JoinRequest r) override { joins.push_back(std::move(r)); }
  void on_join_result(JoinResult r) override { join_results.push_back(std::move(r)); }
  void on_status_request(raft::NodeId from, StatusRequest r) override { status_requests.emplace_back(from, r); }
  void on_status_result(raft::NodeId from, StatusResult r) override {
    status_results.emplace_back(from, std::move(r));
  }
  void on_connection_lost(raft::NodeId peer) override { connections_lost.push_back(peer); }
};

inline TransportOptions options_for(std::uint64_t id) {
  TransportOptions o;
  o.self = raft::NodeId(id);
  o.cluster_id = kCluster;
  o.cluster_secret = kSecret;
  o.listen_address = "127.0.0.1:0";
  return o;
}

struct TestNode {
  TestNode(boost::asio::io_context& io, TransportOptions o) : options(std::move(o)) {
    transport = std::make_unique<Transport>(io, options, recorder);
    transport->start();
  }
  raft::NodeId id() const { return options.self; }
  std::string address() const { return "127.0.0.1:" + std::to_string(transport->listen_port()); }
  PeerCounters counters_for(raft::NodeId peer) const {
    auto all = transport->counters();
    auto it = all.find(peer);
    return it == all.end() ? PeerCounters{} : it->second;
  }

  TransportOptions options;
  Recorder recorder;
  std::unique_ptr<Transport> transport;
};

// Makes every node a member of every other's cluster, with addresses.
inline void introduce(const std::vector<TestNode*>& nodes) {
  std::map<raft::NodeId, std::string> addresses;
  for (TestNode* n : nodes) addresses[n->id()] = n->address();
  for (TestNode* n : nodes) {
    for (TestNode* m : nodes) n->recorder.members.insert(m->id());
    n->transport->set_peer_addresses(addresses);
  }
}

// Runs `io` until `done()` holds, calling `each()` (if given) every ~10 ms,
// e.g. to resend what a reconnecting peer may have dropped. Returns false at
// the deadline, which only a hung test reaches.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      const std::function<void()>& each = {},
                      std::chrono::seconds deadline = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    if (each) each();
    if (io.run_for(std::chrono::milliseconds(10)) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (io.stopped()) io.restart();
  }
  return true;
}

// Sends every log line to a string as well, for the duration of a test.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  bool contains(const std::string& text) const { return out_.str().find(text) != std::string::npos; }
  std::string text() const { return out_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream out_;
};

inline raft::Message heartbeat(raft::NodeId from, raft::NodeId to, std::uint64_t context = 0) {
  raft::Message m = raft::make_message(raft::MessageType::kHeartbeat, to, raft::Term(1));
  m.from = from;
  m.context = context;
  return m;
}

}  // namespace conclave::peer::testing
