// Following the leader across admin sockets, and the advice when we cannot.
// See leader_route.h.
#include "tools/conclavectl/leader_route.h"

#include <utility>

namespace conclave::ctl {

namespace {

// The leader's socket, if listed.
const std::string* socket_of(const NodeSockets& sockets, std::uint64_t id) {
  auto it = sockets.find(id);
  return it == sockets.end() ? nullptr : &it->second;
}

std::string leader_text(const admin::Response& r) {
  std::string text = "node " + std::to_string(r.leader_hint) + " is the leader";
  if (!r.leader_address.empty()) text += " (peer address " + r.leader_address + ")";
  return text;
}

}  // namespace

namespace {

std::string add_one(const std::string& entry, NodeSockets& sockets) {
  const auto eq = entry.find('=');
  const std::string id_text = entry.substr(0, eq);
  const bool id_ok = !id_text.empty() && id_text.find_first_not_of("0123456789") == std::string::npos &&
                     id_text.find_first_not_of('0') != std::string::npos && id_text.size() <= 19;
  if (eq == std::string::npos || !id_ok || eq + 1 == entry.size()) {
    return "--node-socket takes ID=PATH, a node id from 1 up and that node's admin socket, not '" + entry + "'";
  }
  const std::uint64_t id = std::stoull(id_text);
  const std::string path = entry.substr(eq + 1);
  auto [it, added] = sockets.emplace(id, path);
  if (!added && it->second != path) {
    return "--node-socket lists node " + id_text + " twice (" + it->second + " and " + path + "): give one socket";
  }
  return {};
}

}  // namespace

std::string add_node_sockets(const std::string& entries, NodeSockets& sockets) {
  std::size_t start = 0;
  for (;;) {
    const auto comma = entries.find(',', start);
    const std::string entry = entries.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (std::string wrong = add_one(entry, sockets); !wrong.empty()) return wrong;
    if (comma == std::string::npos) return {};
    start = comma + 1;
  }
}

RoutedAnswer call_following_leader(const std::string& socket, const NodeSockets& sockets,
                                   const admin::Request& request, std::chrono::milliseconds timeout,
                                   std::ostream& notes) {
  RoutedAnswer routed{admin::call_once(socket, request, timeout), socket, {socket}};
  for (;;) {
    if (!routed.answer || routed.answer->error != admin::ErrorCode::kNotLeader) return routed;
    const std::string* next = socket_of(sockets, routed.answer->leader_hint);
    if (next == nullptr || routed.asked.count(*next) != 0) return routed;
    notes << "conclavectl: the sidecar at " << routed.socket << " is not the leader; " << leader_text(routed.answer.value())
          << ": asking it at " << *next << '\n';
    routed.socket = *next;
    routed.asked.insert(*next);
    routed.answer = admin::call_once(*next, request, timeout);
  }
}

std::string what_to_do(const admin::Response& r, const NodeSockets& sockets, const std::set<std::string>& asked) {
  if (r.error == admin::ErrorCode::kNoLeader) {
    return "the cluster has no leader right now; retry shortly, or check that a quorum of members is running "
           "(conclavectl status on each)";
  }
  if (r.error != admin::ErrorCode::kNotLeader) return {};
  if (r.leader_hint == 0) {
    return "run this command against the leader's admin socket (conclavectl status on any node names the leader)";
  }
  const std::string id = std::to_string(r.leader_hint);
  if (const std::string* known = socket_of(sockets, r.leader_hint); known != nullptr && asked.count(*known) != 0) {
    return leader_text(r) + ", but its admin socket " + *known +
           " was asked already and refused too: leadership is moving; retry shortly";
  }
  return leader_text(r) + ": run this command again with --socket set to node " + id +
         "'s admin socket (its conclaved --admin-socket; by default <data-dir>/admin.sock on its host), or add "
         "--node-socket " + id + "=PATH so that conclavectl asks the leader itself";
}

}  // namespace conclave::ctl
