// The session filter: exactly-once decisions that depend only on the entries
// shown, bounded memory, and a binary form that round-trips.
#include "sidecar/node/session_filter.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

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

TEST(SessionFilter, ASessionActiveAgainIsNotTheLeastRecent) {
  SessionFilter f;
  for (std::uint64_t s = 1; s <= SessionFilter::kSessionsMax; ++s) (void)f.admit(s, s, 1, 1);
  std::uint64_t index = SessionFilter::kSessionsMax;
  (void)f.admit(++index, 1, 2, 1);              // session 1 is now the most recent
  (void)f.admit(++index, 999999999, 1, 1);      // one too many: session 2 goes
  EXPECT_EQ(f.sessions(), SessionFilter::kSessionsMax);
  EXPECT_FALSE(f.admit(++index, 1, 1, 1)) << "session 1 was kept";
  EXPECT_TRUE(f.admit(++index, 2, 1, 1)) << "session 2 was forgotten";
}

TEST(SessionFilter, ForgetsTheLowestSeqsBeyondTheBound) {
  SessionFilter f;
  std::uint64_t index = 0;
  for (std::uint64_t seq = 1; seq <= SessionFilter::kSeqsMax + 1; ++seq) ASSERT_TRUE(f.admit(++index, 7, seq, 1));
  EXPECT_TRUE(f.admit(++index, 7, 1, 1)) << "seq 1 was forgotten (the documented double delivery)";
  EXPECT_FALSE(f.admit(++index, 7, 3, 1)) << "seq 3 was not";
}

// The plainest statement of the rules (std::set per session, no bounds
// reached), against which the filter's decisions are checked on a long
// random history of retries, reordering and rising floors.
class ReferenceFilter {
 public:
  bool admit(std::uint64_t session, std::uint64_t seq, std::uint64_t floor) {
    if (session == 0) return true;
    auto& [f, seen] = sessions_[session];
    if (floor > f) {
      f = floor;
      seen.erase(seen.begin(), seen.lower_bound(floor));
    }
    return seq >= f && seen.insert(seq).second;
  }

 private:
  std::map<std::uint64_t, std::pair<std::uint64_t, std::set<std::uint64_t>>> sessions_;
};

TEST(SessionFilter, DecidesAsTheReferenceOnARandomHistory) {
  std::mt19937_64 rng(7);
  SessionFilter f;
  ReferenceFilter ref;
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> clients;  // session -> next seq, floor
  for (std::uint64_t index = 1; index <= 50000; ++index) {
    const std::uint64_t session = rng() % 40;
    auto& [next, floor] = clients[session];
    std::uint64_t seq;
    switch (rng() % 10) {
      case 0: seq = floor > 3 ? floor - 1 - rng() % 3 : 0; break;  // a retry below the floor
      case 1: seq = floor + rng() % (next - floor + 1); break;     // a retry of one in flight
      case 2: seq = next + 1 + rng() % 5; break;                  // committed ahead of its turn
      default: seq = next++;
    }
    if (rng() % 4 == 0 && floor < next) floor += 1 + rng() % (next - floor);
    ASSERT_EQ(f.admit(index, session, seq, floor), ref.admit(session, seq, floor))
        << "entry " << index << ": session " << session << " seq " << seq << " floor " << floor;
    if (index == 25000) {
      auto copy = SessionFilter::decode(f.encode());
      ASSERT_TRUE(copy.has_value());
      f = std::move(*copy);
    }
  }
}

}  // namespace
}  // namespace conclave::node
