// The plain admin values survive admin.capnp in both directions, every
// field of them, and an error code newer than this build reads as unknown
// rather than as some other code.
#include "schema/admin_wire.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

namespace conclave::admin {
namespace {

namespace wire = schema::admin;

TEST(AdminWire, AStatusRoundTripsEveryField) {
  Status in;
  in.node_id = 2;
  in.cluster_id = "c-1";
  in.role = "leader";
  in.term = 7;
  in.leader = 2;
  in.commit_index = 40;
  in.applied_index = 39;
  in.last_index = 41;
  in.snapshot_index = 30;
  in.durable_index = 41;
  in.members.push_back(Member{2, "127.0.0.1:7002", true, 41, 42, "replicate", true, 0});
  in.members.push_back(Member{5, "127.0.0.1:7005", false, 12, 13, "snapshot", false, 29});

  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<wire::Status>();
  to_wire(in, builder);
  const Status out = from_wire(builder.asReader());

  EXPECT_EQ(out.node_id, 2u);
  EXPECT_EQ(out.cluster_id, "c-1");
  EXPECT_EQ(out.role, "leader");
  EXPECT_EQ(out.term, 7u);
  EXPECT_EQ(out.leader, 2u);
  EXPECT_EQ(out.commit_index, 40u);
  EXPECT_EQ(out.applied_index, 39u);
  EXPECT_EQ(out.last_index, 41u);
  EXPECT_EQ(out.snapshot_index, 30u);
  EXPECT_EQ(out.durable_index, 41u);
  ASSERT_EQ(out.members.size(), 2u);
  const Member* learner = out.member(5);
  ASSERT_NE(learner, nullptr);
  EXPECT_EQ(learner->address, "127.0.0.1:7005");
  EXPECT_FALSE(learner->voter);
  EXPECT_EQ(learner->match, 12u);
  EXPECT_EQ(learner->next, 13u);
  EXPECT_EQ(learner->state, "snapshot");
  EXPECT_FALSE(learner->recently_active);
  EXPECT_EQ(learner->lag, 29u);
  const Member* voter = out.member(2);
  ASSERT_NE(voter, nullptr);
  EXPECT_TRUE(voter->recently_active);
}

TEST(AdminWire, ACommittedIndexRoundTrips) {
  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<wire::Committed>();
  to_wire(Committed{9, 3}, builder);
  const Committed out = from_wire(builder.asReader());
  EXPECT_EQ(out.index, 9u);
  EXPECT_EQ(out.term, 3u);
}

TEST(AdminWire, ErrorCodesKeepTheirMeaningAndName) {
  EXPECT_EQ(from_wire(wire::ErrorCode::NOT_LEADER), ErrorCode::kNotLeader);
  EXPECT_EQ(to_wire(ErrorCode::kShuttingDown), wire::ErrorCode::SHUTTING_DOWN);
  EXPECT_STREQ(to_string(ErrorCode::kNotLeader), "notLeader");
  // A code a newer sidecar might send.
  EXPECT_STREQ(to_string(from_wire(static_cast<wire::ErrorCode>(42))), "unknown");
}

}  // namespace
}  // namespace conclave::admin
