// Following the leader from conclavectl. The admin protocol is spoken only
// on each node's own UNIX socket (there is no network admin protocol), so a
// follower that refuses a membership change or a transfer with notLeader
// can name the leader — its id and peer address — but not a socket to
// reach it by. The operator may list the nodes' admin sockets
// (--node-socket ID=PATH); with the leader's listed, conclavectl asks it
// instead, and otherwise says exactly what to run.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>

#include "tools/conclavectl/admin_client.h"

namespace conclave::ctl {

// Admin sockets by node id, from --node-socket.
using NodeSockets = std::map<std::uint64_t, std::string>;

// Adds "ID=PATH" entries, separated by commas; returns what is wrong with
// the first bad one, or empty.
std::string add_node_sockets(const std::string& entries, NodeSockets& sockets);

struct RoutedAnswer {
  admin::Outcome<admin::Response> answer;
  // The socket that gave `answer`, and every socket asked on the way.
  std::string socket;
  std::set<std::string> asked;
};

// Sends `request` to `socket`; while the answer is notLeader naming a leader
// whose socket is listed and not yet asked, notes the redirect on `notes`
// and asks there. Bounded: each socket is asked at most once.
RoutedAnswer call_following_leader(const std::string& socket, const NodeSockets& sockets,
                                   const admin::Request& request, std::chrono::milliseconds timeout,
                                   std::ostream& notes);

// What the operator should do about a refusal, or empty when the reason
// says it all.
std::string what_to_do(const admin::Response& refusal, const NodeSockets& sockets, const std::set<std::string>& asked);

}  // namespace conclave::ctl
