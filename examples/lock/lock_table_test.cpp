// The lease table under the SDK's test double: grants by log order, expiry
// by the timestamps carried in entries (never the applying replica's
// clock), fencing tokens that grow, and a joined replica that agrees.
#include <gtest/gtest.h>

#include <conclave/testing.h>

#include "lock_table.h"

namespace conclave::examples {
namespace {

using Op = LockCommand::Op;

LockCommand acquire(std::string key, std::string owner, std::uint64_t now_ms, std::uint64_t lease_ms) {
  return LockCommand{Op::acquire, std::move(key), std::move(owner), now_ms, lease_ms, 0};
}
LockCommand release(std::string key, std::uint64_t token) {
  return LockCommand{Op::release, std::move(key), {}, 0, 0, token};
}

TEST(LockTable, CommandsRoundTripThroughTheirEncoding) {
  auto back = decode_lock_command(encode(acquire("k", "alice", 1000, 50)));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->owner, "alice");
  EXPECT_EQ(back->now_ms, 1000u);
  EXPECT_EQ(back->lease_ms, 50u);
  EXPECT_EQ(decode_lock_command(encode(release("k", 7)))->token, 7u);
  EXPECT_FALSE(decode_lock_command("\x09junk"));
}

TEST(LockTable, FirstInLogOrderWinsAndTheTokenIsItsIndex) {
  testing::LocalSidecar sidecar;
  LockTable table;
  sidecar.attach(table);
  Index a = sidecar.propose(encode(acquire("k", "alice", 1000, 100)));
  Index b = sidecar.propose(encode(acquire("k", "bob", 1001, 100)));
  EXPECT_TRUE(table.outcome(a)->granted);
  EXPECT_EQ(table.outcome(a)->lease.token, a);
  EXPECT_FALSE(table.outcome(b)->granted);
  EXPECT_EQ(table.outcome(b)->lease.owner, "alice");
  EXPECT_EQ(table.holder("k")->expires_ms, 1100u);
}

TEST(LockTable, LeaseExpiresByTheTimeCarriedInEntries) {
  testing::LocalSidecar sidecar;
  LockTable table;
  sidecar.attach(table);
  Index a = sidecar.propose(encode(acquire("k", "alice", 1000, 100)));
  // Bob's clock says 1099: still alice's. At 1100 the lease is over.
  EXPECT_FALSE(table.outcome(sidecar.propose(encode(acquire("k", "bob", 1099, 100))))->granted);
  Index b = sidecar.propose(encode(acquire("k", "bob", 1100, 100)));
  ASSERT_TRUE(table.outcome(b)->granted);
  EXPECT_GT(table.outcome(b)->lease.token, a);  // fencing: the newer holder's token is larger
  // Alice's late release carries the old token: refused, bob keeps it.
  EXPECT_FALSE(table.outcome(sidecar.propose(encode(release("k", a))))->granted);
  EXPECT_EQ(table.holder("k")->owner, "bob");
}

TEST(LockTable, LogTimeNeverRunsBackwards) {
  testing::LocalSidecar sidecar;
  LockTable table;
  sidecar.attach(table);
  sidecar.propose(encode(acquire("x", "fast-clock", 5000, 10)));
  // A proposer with a slow clock does not move log time back: it stays at
  // 5000, so "k" is granted at 5000 for 100 ms.
  Index a = sidecar.propose(encode(acquire("k", "slow-clock", 1000, 100)));
  EXPECT_EQ(table.outcome(a)->lease.expires_ms, 5100u);
  EXPECT_EQ(table.log_time_ms(), 5000u);
}

TEST(LockTable, ReleaseFreesTheKey) {
  testing::LocalSidecar sidecar;
  LockTable table;
  sidecar.attach(table);
  Index a = sidecar.propose(encode(acquire("k", "alice", 1000, 1000000)));
  EXPECT_TRUE(table.outcome(sidecar.propose(encode(release("k", a))))->granted);
  EXPECT_FALSE(table.holder("k"));
  EXPECT_TRUE(table.outcome(sidecar.propose(encode(acquire("k", "bob", 1001, 10))))->granted);
}

TEST(LockTable, JoinedReplicaAgreesOnHoldersAndTime) {
  testing::LocalSidecar sidecar;
  LockTable first;
  sidecar.attach(first);
  sidecar.propose(encode(acquire("a", "alice", 1000, 100)));
  sidecar.propose(encode(acquire("b", "bob", 1010, 5000)));
  sidecar.snapshot(first);
  Index late = sidecar.propose(encode(acquire("a", "carol", 1200, 100)));

  LockTable second;
  sidecar.attach(second);
  EXPECT_EQ(second.log_time_ms(), first.log_time_ms());
  EXPECT_EQ(second.holder("a")->owner, "carol");
  EXPECT_EQ(second.holder("a")->token, late);
  EXPECT_EQ(second.holder("b")->owner, "bob");
}

}  // namespace
}  // namespace conclave::examples
