// The peer transport: Raft messages, snapshot streams and forwarded
// proposals between sidecars, over TCP with Boost.Asio. The wire protocol is
// documented in schema/peer.capnp; this header is the node's view of it.
//
// Threading: everything runs on the io_context the transport is given, and
// every handler call is made on it; none of the methods are thread-safe.
// That is the node's one event loop (sidecar/node).
//
// Delivery is best effort, as Raft expects: a message to a peer that is
// down, slow, or whose bounded send queue is full is dropped (and counted),
// never buffered without bound; the core retries what matters. Connections
// are dialed lazily on first send and redialed with exponential backoff and
// jitter. Inbound frames are bounded in size and validated; a peer that sends
// garbage, or fails the handshake, is disconnected with a reason in the log
// while every other connection carries on.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "schema/admin_types.h"
#include "sidecar/raft/message.h"
#include "sidecar/raft/types.h"

namespace conclave::peer {

struct TransportOptions {
  raft::NodeId self;
  std::string cluster_id;
  // Where to listen ("host:port"; port 0 picks a free port, see listen_port()).
  std::string listen_address = "127.0.0.1:0";
  // Shared secret proving cluster membership in the handshake. Empty means
  // none: anyone who knows the cluster id can connect (a warning is logged).
  std::string cluster_secret;
  // Mutual TLS (sidecar/peer/tls.h): PEM files of the cluster's CA, this
  // node's certificate (naming node-<self>.<cluster_id>) and its key. All
  // empty: plaintext (a warning is logged); start() throws naming a file
  // that cannot be used.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::size_t frame_bytes_max = 64u << 20;
  // Per peer: frames queued for sending beyond these are dropped.
  std::size_t send_queue_frames_max = 4096;
  std::size_t send_queue_bytes_max = 64u << 20;
  std::chrono::milliseconds reconnect_delay_min{50};
  std::chrono::milliseconds reconnect_delay_max{3000};
  std::size_t snapshot_chunk_bytes = 1u << 20;
  // A connection on which nothing (not even the handshake) arrives for this
  // long is closed; so is an outbound one whose dial, handshake or current
  // write takes longer (a peer that vanished without a reset).
  std::chrono::milliseconds idle_timeout{30000};
  // The kernel's send buffer on outbound connections (SO_SNDBUF); 0 keeps
  // the system's. Bytes there are already committed to the wire, so this
  // bounds how long a heartbeat can wait behind a snapshot stream.
  std::size_t socket_send_buffer_bytes = 0;
  // The kernel's receive buffer on accepted connections (SO_RCVBUF, set on
  // the listening socket); 0 keeps the system's autotuning, which suits
  // long fat links but lets megabytes of a snapshot queue ahead of a
  // heartbeat.
  std::size_t socket_receive_buffer_bytes = 0;
  // Where peers should dial this node ("host:port"), sent in the hello.
  // Empty: the listen address with the port actually bound.
  std::string advertised_address;
  // This node's welcome offers to read several forwarded proposals (and
  // results) per frame. Always on; off only to stand in, in tests, for an
  // older node that reads one per frame.
  bool welcome_forward_batches = true;
};

// An application's proposal passed from a follower's sidecar to the leader's.
struct ForwardedProposal {
  std::uint64_t request_id = 0;
  std::string data;
  std::uint64_t client_session = 0;
  std::uint64_t sequence = 0;
};

// The leader's answer: committed at (index, term), or an error.
struct ForwardResult {
  std::uint64_t request_id = 0;
  raft::Index index;
  raft::Term term;
  std::string error;  // empty on success
  raft::NodeId leader_hint;
};

// conclavectl status --cluster on a follower: it asks the leader for its
// view of every member (schema/admin.capnp clusterStatus).
struct StatusRequest {
  std::uint64_t request_id = 0;
};

// The leader's answer: its status (members with their replication
// progress), or why not and whom to ask instead.
struct StatusResult {
  std::uint64_t request_id = 0;
  std::string error;  // empty when `status` is the answer
  raft::NodeId leader_hint;
  admin::Status status;
};

// A node that starts empty asks to be added to the cluster.
struct JoinRequest {
  raft::NodeId node;
  std::string address;  // where the joiner listens for peers
};

struct JoinResult {
  bool accepted = false;
  std::string error;
  raft::NodeId leader;
  std::string leader_address;
  // Set: the receiver's removal committed at this index.
  raft::Index removed_at;
};

// One chunk of a snapshot arriving from the leader. Offsets run contiguously
// from 0; the last chunk has `done` and carries the InstallSnapshot message
// to step once the snapshot is durable.
struct SnapshotChunk {
  raft::NodeId from;
  // Index and term on every chunk; the configuration too on the first
  // (offset 0) and the last.
  raft::SnapshotMeta meta;
  std::uint64_t offset = 0;
  std::string data;
  bool done = false;
  std::uint64_t total_bytes = 0;
  std::optional<raft::Message> install;  // set when done
};

// What the transport delivers; called on the io_context's thread.
class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  // A Raft message from an authenticated peer, already validated
  // (m.to is this node, m.from the peer that said hello).
  virtual void on_raft_message(raft::Message m) = 0;
  // Returns false to refuse the stream (the connection is then closed).
  virtual bool on_snapshot_chunk(SnapshotChunk chunk) = 0;
  virtual void on_forwarded_proposal(raft::NodeId from, ForwardedProposal proposal) = 0;
  virtual void on_forward_result(raft::NodeId from, ForwardResult result) = 0;
  // Whether to accept a hello from `id` (a member, or anyone while this node
  // waits to be contacted by a cluster it will join). Hellos marked joining
  // are accepted regardless, and may carry only join requests.
  virtual bool accepts_peer(raft::NodeId id) = 0;
  virtual void on_join_request(JoinRequest request) = 0;
  virtual void on_join_result(JoinResult result) = 0;
  virtual void on_status_request(raft::NodeId from, StatusRequest request) = 0;
  virtual void on_status_result(raft::NodeId from, StatusResult result) = 0;
  // This node's connection to member `peer` failed with frames on it: those
  // queued were dropped, and the one being written may or may not have
  // arrived. (Raft recovers by itself; requests waiting for answers cannot.)
  virtual void on_connection_lost(raft::NodeId peer) = 0;
};

// Pulls the next chunk of a snapshot being sent; an empty string means the
// end. Returning nullopt aborts the stream (e.g. the snapshot file failed
// its checksum); the error is logged by whoever produced it.
using SnapshotChunkSource = std::function<std::optional<std::string>()>;

struct PeerCounters {
  std::uint64_t frames_sent = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t frames_dropped = 0;  // queue full or not connected
  bool connected = false;            // our outbound connection is up
  // Frames waiting in our send queue to this peer, and their bytes (snapshot
  // chunks excluded: a stream keeps at most two queued).
  std::uint64_t queued_frames = 0;
  std::uint64_t queued_bytes = 0;
  // Why our last connection to this peer failed or closed (a refusal's
  // reason, a connect error), empty if it never did.
  std::string last_error;
};

class Transport {
 public:
  Transport(boost::asio::io_context& io, TransportOptions options, TransportHandler& handler);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Binds and starts accepting. Throws std::runtime_error naming the
  // address if it cannot bind, or the TLS file that cannot be used.
  void start();
  // Closes every connection and stops accepting; pending sends are dropped.
  void stop();
  std::uint16_t listen_port() const;

  // Where each peer listens ("host:port"); replaces the previous map.
  // Connections to peers no longer listed are closed.
  void set_peer_addresses(const std::map<raft::NodeId, std::string>& addresses);

  // Any message but kInstallSnapshot, which needs its snapshot's bytes and
  // so goes through send_snapshot (send() drops it with an error in the
  // log). `from` is set to this node.
  void send(raft::Message message);
  // Streams a snapshot to message.to: chunks pulled from `source` as the
  // connection drains (never more than a few chunks queued), then the
  // InstallSnapshot `message` with the last chunk. A new stream to the same
  // peer replaces one in progress.
  void send_snapshot(raft::Message message, SnapshotChunkSource source);
  // False if the proposal was not queued (see Outbound::send): it did not leave.
  bool send_forward(raft::NodeId to, ForwardedProposal proposal);
  void send_forward_result(raft::NodeId to, ForwardResult result);
  void send_status_request(raft::NodeId to, StatusRequest request);
  void send_status_result(raft::NodeId to, const StatusResult& result);

  // Asks the member listening at `address` (id unknown to us) to add us.
  void send_join(const std::string& address, JoinRequest request);
  // Answers a joiner at the address its request gave.
  void send_join_result(const JoinRequest& to, JoinResult result);

  std::map<raft::NodeId, PeerCounters> counters() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace conclave::peer
