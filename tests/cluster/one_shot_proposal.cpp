// One-shot proposals on their own threads. See one_shot_proposal.h.
#include "tests/cluster/one_shot_proposal.h"

#include <gtest/gtest.h>

#include <iostream>

namespace conclave::cluster_test {

OneShotProposal propose_once_async(Cluster& cluster, std::uint64_t id, const std::string& data) {
  // Only the socket's path crosses to the thread: the Cluster is not
  // thread-safe, and the test goes on using it.
  const std::string socket = cluster.admin_socket(id);
  return {data, std::async(std::launch::async, [socket, data] {
            return admin::call_once(socket, admin::ProposeRequest{data}, kCommitDeadline);
          })};
}

std::optional<Acked> acknowledgement(OneShotProposal& p) {
  auto r = p.answer.get();
  if (!r) {
    std::cerr << "proposal \"" << p.data << "\": no answer: " << r.error() << "\n";
    return std::nullopt;
  }
  if (!r->ok()) {
    std::cerr << "proposal \"" << p.data << "\": " << r->describe_error() << "\n";
    return std::nullopt;
  }
  auto* c = std::get_if<admin::Committed>(&r->body);
  if (c == nullptr) {
    ADD_FAILURE() << "proposal \"" << p.data << "\" acknowledged without an index";
    return std::nullopt;
  }
  std::cerr << "proposal \"" << p.data << "\": acknowledged at index " << c->index << "\n";
  return Acked{c->index, p.data};
}

}  // namespace conclave::cluster_test
