// The session filter: exactly-once decisions that depend only on the entries
// shown, bounded memory, and a binary form that round-trips.
#include "sidecar/node/session_filter.h"

#include <gtest/gtest.h>

#include <random>

namespace conclave::node {
namespace {

TEST(SessionFilter, AdmitsEachSeqOnceAndNothingBelowTheFloor) {
  SessionFilter f;
  EXPECT_TRUE(f.admit(1, 9, 1, 1));
  EXPECT_FALSE(f.admit(2, 9, 1, 1)) << "a retry";
  EXPECT_TRUE(f.admit(3, 9, 3, 1)) << "out of order is fine";
  EXPECT_TRUE(f.admit(4, 9, 2, 1));
  EXPECT_FALSE(f.admit(5, 9, 3, 1));
  EXPECT_TRUE(f.admit(6, 9, 5, 4));
  EXPECT_FALSE(f.admit(7, 9, 3, 4)) << "below the floor";
  EXPECT_TRUE(f.admit(8, 9, 4, 4));
  EXPECT_TRUE(f.admit(9, 0, 1, 0));
  EXPECT_TRUE(f.admit(10, 0, 1, 0)) << "session 0 is never deduplicated";
  EXPECT_TRUE(f.admit(11, 10, 1, 1)) << "sessions are independent";
}

TEST(SessionFilter, EncodesAndDecodesToTheSameDecisions) {
  std::mt19937_64 rng(42);
  SessionFilter f;
  for (std::uint64_t i = 1; i <= 2000; ++i) (void)f.admit(i, 1 + rng() % 20, 1 + rng() % 50, 1 + rng() % 10);
  auto copy = SessionFilter::decode(f.encode());
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(*copy, f);
  for (std::uint64_t i = 2001; i <= 3000; ++i) {
    std::uint64_t s = 1 + rng() % 25, q = 1 + rng() % 60, fl = 1 + rng() % 12;
    ASSERT_EQ(copy->admit(i, s, q, fl), f.admit(i, s, q, fl)) << "entry " << i;
  }
}

TEST(SessionFilter, RefusesDamagedBytes) {
  SessionFilter f;
  (void)f.admit(1, 3, 1, 1);
  std::string bytes = f.encode();
  EXPECT_FALSE(SessionFilter::decode(bytes.substr(0, bytes.size() - 1)).has_value());
  EXPECT_FALSE(SessionFilter::decode(bytes + "x").has_value());
  EXPECT_TRUE(SessionFilter::decode(SessionFilter().encode()).has_value());
}

TEST(SessionFilter, ForgetsTheLeastRecentlyActiveSessionBeyondTheBound) {
  SessionFilter f;
  for (std::uint64_t s = 1; s <= SessionFilter::kSessionsMax + 1; ++s) (void)f.admit(s, s, 1, 1);
  EXPECT_EQ(f.sessions(), SessionFilter::kSessionsMax);
  EXPECT_TRUE(f.admit(SessionFilter::kSessionsMax + 2, 1, 1, 1)) << "session 1 was forgotten";
  EXPECT_FALSE(f.admit(SessionFilter::kSessionsMax + 3, 3, 1, 1)) << "session 3 was not";
}

}  // namespace
}  // namespace conclave::node
