// conclavectl's online commands: each sends one admin Request to a running
// sidecar and prints the answer as aligned text or as one JSON object.
// Each returns the process exit code (0 ok, 1 failure).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "tools/conclavectl/admin_client.h"
#include "tools/conclavectl/leader_route.h"

namespace conclave::ctl {

struct OnlineOptions {
  std::string socket_path;
  bool json = false;
  std::chrono::milliseconds timeout{5000};
  // Other nodes' admin sockets, to follow a leader hint to (leader_route.h).
  NodeSockets node_sockets;
};

int run_status(const OnlineOptions& options);
// status --cluster: the leader's view of every member (asked of the leader
// by the node conclavectl reaches, when that node is a follower).
int run_cluster_status(const OnlineOptions& options);
int run_propose(const OnlineOptions& options, const std::string& data);
// A request answered with an index: prints "<what> at index N (term T)".
int run_indexed(const OnlineOptions& options, const admin::Request& request, const std::string& what);
int run_members_list(const OnlineOptions& options);
// addLearner, promote, remove and transferLeader: a request answered with
// success or an error, nothing more.
int run_simple(const OnlineOptions& options, const admin::Request& request, const std::string& done_text);

}  // namespace conclave::ctl
