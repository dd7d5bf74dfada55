// A proposal made once, through one node, on a thread of its own, for tests
// that need its first answer whatever it is: a proposal during a partition
// may be refused, time out, or be acknowledged, and the test must know
// which, where Cluster::propose would retry until it succeeds. The node
// answers an uncommitted proposal with a timeout after 20 election timeouts
// (sidecar/node/node_admin.cpp), or with a refusal once another entry
// commits at its index; the client's own deadline only bounds a hung node.
#pragma once

#include <future>
#include <optional>
#include <string>

#include "tests/cluster/cluster.h"

namespace conclave::cluster_test {

struct OneShotProposal {
  std::string data;
  std::future<admin::Outcome<admin::Response>> answer;
};

// Sends `data` to node `id` once and returns without waiting for the answer.
OneShotProposal propose_once_async(Cluster& cluster, std::uint64_t id, const std::string& data);

// Waits for the answer: the index the proposal was acknowledged at, or
// nullopt if it was refused, timed out or got no answer (each printed, so a
// failed test's output says what happened to every proposal).
std::optional<Acked> acknowledgement(OneShotProposal& p);

}  // namespace conclave::cluster_test
