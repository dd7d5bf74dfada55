// Transports on loopback: the cluster status question (conclavectl status
// --cluster on a follower) and its answer, with every member field, and a
// refusal that names the leader to ask instead.
#include "sidecar/peer/transport.h"

#include <gtest/gtest.h>

#include "tests/unit/peer/transport_harness.h"

namespace conclave::peer {
namespace {

namespace asio = boost::asio;
using raft::NodeId;
using namespace testing;

admin::Status leaders_view() {
  admin::Status s;
  s.node_id = 2;
  s.cluster_id = kCluster;
  s.role = "leader";
  s.term = 7;
  s.leader = 2;
  s.commit_index = 120;
  s.last_index = 121;
  admin::Member follower;
  follower.id = 1;
  follower.address = "127.0.0.1:7001";
  follower.voter = true;
  follower.match = 100;
  follower.next = 101;
  follower.state = "snapshot";
  follower.lag = 21;
  follower.heard = true;
  follower.heard_ago_ms = 1500;
  follower.sending_snapshot = true;
  admin::Member learner;
  learner.id = 3;
  learner.address = "127.0.0.1:7003";
  learner.state = "probe";
  s.members = {follower, learner};
  return s;
}

TEST(PeerTransport, AClusterStatusQuestionAndItsAnswersRoundTrip) {
  asio::io_context io;
  TestNode follower(io, options_for(1)), leader(io, options_for(2));
  introduce({&follower, &leader});
  follower.transport->send_status_request(leader.id(), StatusRequest{41});
  ASSERT_TRUE(run_until(io, [&] { return !leader.recorder.status_requests.empty(); }));
  EXPECT_EQ(leader.recorder.status_requests[0].first, follower.id());
  EXPECT_EQ(leader.recorder.status_requests[0].second.request_id, 41u);

  leader.transport->send_status_result(follower.id(), StatusResult{41, "", NodeId(2), leaders_view()});
  leader.transport->send_status_result(follower.id(), StatusResult{42, "node 2 is not the leader", NodeId(3), {}});
  ASSERT_TRUE(run_until(io, [&] { return follower.recorder.status_results.size() == 2; }));

  const auto& [from, ok] = follower.recorder.status_results[0];
  EXPECT_EQ(from, leader.id());
  EXPECT_EQ(ok.request_id, 41u);
  EXPECT_TRUE(ok.error.empty()) << ok.error;
  EXPECT_EQ(ok.status.node_id, 2u);
  EXPECT_EQ(ok.status.role, "leader");
  EXPECT_EQ(ok.status.last_index, 121u);
  ASSERT_EQ(ok.status.members.size(), 2u);
  const admin::Member& m = ok.status.members[0];
  EXPECT_EQ(m.id, 1u);
  EXPECT_EQ(m.address, "127.0.0.1:7001");
  EXPECT_TRUE(m.voter);
  EXPECT_EQ(m.match, 100u);
  EXPECT_EQ(m.lag, 21u);
  EXPECT_TRUE(m.heard);
  EXPECT_EQ(m.heard_ago_ms, 1500u);
  EXPECT_TRUE(m.sending_snapshot);
  EXPECT_FALSE(ok.status.members[1].voter);
  EXPECT_FALSE(ok.status.members[1].heard);

  const auto& refused = follower.recorder.status_results[1].second;
  EXPECT_EQ(refused.request_id, 42u);
  EXPECT_EQ(refused.error, "node 2 is not the leader");
  EXPECT_EQ(refused.leader_hint, NodeId(3));
}

}  // namespace
}  // namespace conclave::peer
