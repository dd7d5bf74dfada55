// The lock example (examples/lock, conclave-lock) on every node of a real
// cluster: a lease granted through one node holds everywhere and across a
// kill -9 of the leader's sidecar; only its fencing token releases it; the
// next holder gets a larger token.
#include <gtest/gtest.h>

#include <thread>

#include "tests/cluster/cluster.h"
#include "tests/cluster/example_apps.h"

namespace conclave::cluster_test {
namespace {

// Retries while the application or its sidecar cannot answer yet (no
// answer, or a 5xx during an election); returns the first real answer.
HttpResult settled(const std::function<HttpResult()>& request) {
  const auto until = Clock::now() + kCommitDeadline;
  HttpResult r;
  while (Clock::now() < until) {
    r = request();
    if (r.status != 0 && r.status < 500) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "no answer but " << r.status << " " << r.body;
  return r;
}

std::uint64_t token_of(const HttpResult& r) { return std::stoull(r.body); }

TEST(Lock, ALeaseHoldsAcrossALeaderKillAndOnlyItsTokenReleasesIt) {
  Cluster cluster;
  ExampleApps locks(cluster, conclave_lock_path());
  cluster.start_founders(3);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  for (std::uint64_t id = 1; id <= 3; ++id) locks.start(id);
  auto post = [&](std::uint64_t id, const std::string& owner) {
    return settled([&] { return http_request(locks.port(id), "POST", "/lock/door?lease_ms=600000", owner); });
  };

  HttpResult granted = post(1, "alice");
  ASSERT_EQ(granted.status, 200) << granted.body;
  const std::uint64_t first_token = token_of(granted);
  HttpResult seen = settled([&] { return http_request(locks.port(2), "GET", "/lock/door"); });
  EXPECT_EQ(seen.status, 200);
  EXPECT_EQ(seen.body.rfind("alice " + std::to_string(first_token) + " ", 0), 0u) << seen.body;
  EXPECT_EQ(post(3, "bob").status, 409) << "a held lease is refused through any node";

  cluster.kill9(leader);
  const std::uint64_t survivor = leader == 1 ? 2 : 1;
  EXPECT_EQ(post(survivor, "bob").status, 409) << "the lease outlives the leader that granted it";
  HttpResult wrong = settled([&] {
    return http_request(locks.port(survivor), "DELETE", "/lock/door?token=" + std::to_string(first_token + 1000));
  });
  EXPECT_EQ(wrong.status, 409) << "only the holder's token releases it";
  HttpResult released = settled([&] {
    return http_request(locks.port(survivor), "DELETE", "/lock/door?token=" + std::to_string(first_token));
  });
  EXPECT_EQ(released.status, 204) << released.body;

  HttpResult next = post(survivor, "bob");
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_GT(token_of(next), first_token) << "fencing tokens only grow";
}

}  // namespace
}  // namespace conclave::cluster_test
