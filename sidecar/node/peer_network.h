// The node's view of its peers: the calls it makes on the peer transport,
// as an interface, so the node loop can be tested with an in-process network
// (tests/unit/node) and run for real over peer::Transport (TransportNetwork
// below). Same contract as sidecar/peer/transport.h: best effort, called on
// the node's io_context thread only.
#pragma once

#include <map>
#include <string>

#include "sidecar/peer/transport.h"

namespace conclave::node {

class PeerNetwork {
 public:
  virtual ~PeerNetwork() = default;
  virtual void set_peer_addresses(const std::map<raft::NodeId, std::string>& addresses) = 0;
  virtual void send(raft::Message message) = 0;
  virtual void send_snapshot(raft::Message message, peer::SnapshotChunkSource source) = 0;
  // False when the proposal was not even queued (no connection to `to`,
  // or one backing off after a failure, or a full queue): it certainly
  // did not leave.
  virtual bool send_forward(raft::NodeId to, peer::ForwardedProposal proposal) = 0;
  virtual void send_forward_result(raft::NodeId to, peer::ForwardResult result) = 0;
  virtual void send_join(const std::string& address, peer::JoinRequest request) = 0;
  virtual void send_join_result(const peer::JoinRequest& to, peer::JoinResult result) = 0;
  virtual void send_status_request(raft::NodeId to, peer::StatusRequest request) = 0;
  virtual void send_status_result(raft::NodeId to, peer::StatusResult result) = 0;
  // Connection state per peer, for status; empty when unknown.
  virtual std::map<raft::NodeId, peer::PeerCounters> counters() const { return {}; }
};

// The real thing: forwards to a peer::Transport.
class TransportNetwork final : public PeerNetwork {
 public:
  explicit TransportNetwork(peer::Transport& transport) : transport_(transport) {}
  void set_peer_addresses(const std::map<raft::NodeId, std::string>& addresses) override {
    transport_.set_peer_addresses(addresses);
  }
  void send(raft::Message message) override { transport_.send(std::move(message)); }
  void send_snapshot(raft::Message message, peer::SnapshotChunkSource source) override {
    transport_.send_snapshot(std::move(message), std::move(source));
  }
  bool send_forward(raft::NodeId to, peer::ForwardedProposal proposal) override {
    return transport_.send_forward(to, std::move(proposal));
  }
  void send_forward_result(raft::NodeId to, peer::ForwardResult result) override {
    transport_.send_forward_result(to, std::move(result));
  }
  void send_join(const std::string& address, peer::JoinRequest request) override {
    transport_.send_join(address, std::move(request));
  }
  void send_join_result(const peer::JoinRequest& to, peer::JoinResult result) override {
    transport_.send_join_result(to, std::move(result));
  }
  void send_status_request(raft::NodeId to, peer::StatusRequest request) override {
    transport_.send_status_request(to, request);
  }
  void send_status_result(raft::NodeId to, peer::StatusResult result) override {
    transport_.send_status_result(to, result);
  }
  std::map<raft::NodeId, peer::PeerCounters> counters() const override { return transport_.counters(); }

 private:
  peer::Transport& transport_;
};

}  // namespace conclave::node
