// The fault-injecting TCP proxy of the cluster tests: one listener per
// node, at the address the node advertises to its peers, forwarding to the
// node's real listen address. Each connection learns which node dialed from
// the handshake's hello (proxied_connection.h), so a rule per ordered pair
// (link_rules.h) can cut or slow exactly the traffic one node sends another.
//
// It runs inside the test process, on its own thread with its own
// io_context: no extra binary to build and find, and the test changes rules
// with a direct call that returns once they are in force.
//
// What a blocked pair does: its open connections are closed, and a new one
// is closed as soon as its hello shows it belongs to the pair. We do not
// hold bytes instead: frames half-sent when the cut happens could not be
// dropped without corrupting the stream, and held traffic would arrive,
// stale, on heal. Closing gives Raft the same silence a cut cable does (no
// message crosses, so a leader's check-quorum finds no followers and a
// follower's election timer runs out), and heal() needs nothing more than
// the daemon's own reconnect with backoff. (The proxy must dial the node
// before it learns who dials, since the node speaks first; so a node's log
// shows "closed before its hello" for each connection a cut refused.)
#pragma once

#include <cstdint>
#include <memory>

#include "tests/cluster/link_rules.h"

namespace conclave::cluster_test {

class FaultProxy {
 public:
  // Starts the I/O thread.
  FaultProxy();
  // Closes every listener and connection and joins the thread.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Listens on 127.0.0.1:listen_port for connections to node `dst`, which
  // really listens on 127.0.0.1:target_port. Throws std::runtime_error if
  // the port cannot be bound.
  void add_node(std::uint64_t dst, std::uint16_t listen_port, std::uint16_t target_port);
  // Sets the rule for what `src` sends to `dst`; once it returns, no
  // connection of a newly blocked pair is open.
  void set_rule(std::uint64_t src, std::uint64_t dst, LinkRule rule);
  // Every pair connected, without delay.
  void heal();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace conclave::cluster_test
