// The application API end to end: the kv example (built on the C++ SDK) on
// every node of a real cluster. Writes through any node are read back
// through any other (reads go through a barrier, so they are linearizable);
// an application outlives a kill -9 of its sidecar, reconnecting and
// resuming from what it had applied; an application restarted with no state
// starts over and reads everything; every node's application sees the same
// callbacks in the same order.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/cluster/cluster.h"
#include "tests/cluster/example_apps.h"

namespace conclave::cluster_test {
namespace {

class Application : public ::testing::Test {
 protected:
  Application() : kv_(cluster_) {}
  void SetUp() override {
    cluster_.start_founders(3);
    ASSERT_NE(cluster_.wait_for_leader(), 0u);
    for (std::uint64_t id = 1; id <= 3; ++id) kv_.start(id);
  }
  // Writes k<from>..k<to-1> round-robin through the nodes in `through`.
  void write(int from, int to, const std::vector<std::uint64_t>& through) {
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE(kv_.put(through[static_cast<std::size_t>(i) % through.size()], "k" + std::to_string(i),
                          "v" + std::to_string(i)));
    }
  }
  void expect_all(std::uint64_t id, int count) {
    for (int i = 0; i < count; ++i) {
      EXPECT_EQ(kv_.get(id, "k" + std::to_string(i)), "v" + std::to_string(i)) << "node " << id << " key k" << i;
    }
  }

  Cluster cluster_;
  ExampleApps kv_;
};

TEST_F(Application, AWriteThroughOneNodeIsReadThroughEveryOther) {
  for (int i = 0; i < 30; ++i) {
    const std::uint64_t writer = 1 + static_cast<std::uint64_t>(i) % 3;
    const std::uint64_t reader = 1 + static_cast<std::uint64_t>(i + 1) % 3;
    ASSERT_TRUE(kv_.put(writer, "key", "value " + std::to_string(i)));
    // No waiting in between: the read's barrier makes it see the write.
    EXPECT_EQ(kv_.get(reader, "key"), "value " + std::to_string(i)) << "written through " << writer;
  }
}

TEST_F(Application, AnApplicationOutlivesAKillOfItsSidecar) {
  write(0, 10, {1, 2, 3});
  const std::uint64_t leader = cluster_.wait_for_leader();
  const std::uint64_t victim = leader == 2 ? 3 : 2;  // a follower; the leader case is the next test's
  cluster_.kill9(victim);
  std::vector<std::uint64_t> others;
  for (std::uint64_t id = 1; id <= 3; ++id) {
    if (id != victim) others.push_back(id);
  }
  write(10, 20, others);
  cluster_.start(victim);
  // The same application process reconnects, resumes and serves again.
  expect_all(victim, 20);
  ASSERT_TRUE(kv_.put(victim, "after", "restart"));
  EXPECT_EQ(kv_.get(others[0], "after"), "restart");
}

TEST_F(Application, WritesGoOnWhenTheLeadersSidecarIsKilled) {
  write(0, 10, {1, 2, 3});
  const std::uint64_t leader = cluster_.wait_for_leader();
  cluster_.kill9(leader);
  std::vector<std::uint64_t> others;
  for (std::uint64_t id = 1; id <= 3; ++id) {
    if (id != leader) others.push_back(id);
  }
  write(10, 20, others);
  cluster_.start(leader);
  expect_all(leader, 20);
}

TEST_F(Application, AnApplicationRestartedWithNoStateReadsEverything) {
  write(0, 15, {1, 2, 3});
  kv_.kill9(3);
  write(15, 25, {1, 2});
  kv_.start(3);
  expect_all(3, 25);
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every node's application, including one on a node that joined later, sees
// the same callbacks in the same order: bootstrap, the founders' arrivals,
// the entries proposed through every node, the new node's arrival.
TEST(ApplicationStream, EveryNodesApplicationSeesTheSameCallbacks) {
  Cluster cluster;
  cluster.start_founders(3);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  std::vector<std::unique_ptr<NodeProcess>> recorders;
  auto record = [&](std::uint64_t id) {
    recorders.push_back(std::make_unique<NodeProcess>(
        std::vector<std::string>{CONCLAVE_RECORDER_PATH, cluster.data_dir(id) + "/app.sock",
                                 cluster.temp_dir() + "/calls" + std::to_string(id)},
        cluster.temp_dir() + "/recorder" + std::to_string(id) + ".log"));
  };
  for (std::uint64_t id = 1; id <= 3; ++id) record(id);
  for (int i = 0; i < 15; ++i) ASSERT_TRUE(cluster.propose(1 + static_cast<std::uint64_t>(i) % 3, "a" + std::to_string(i)));
  const std::uint64_t joiner = cluster.add_node();
  cluster.start(joiner, StartMode::kJoin, leader);
  record(joiner);
  for (int i = 0; i < 15; ++i) ASSERT_TRUE(cluster.propose(1 + static_cast<std::uint64_t>(i) % 4, "b" + std::to_string(i)));

  // 1 bootstrap + 3 founders + 30 entries + the joiner's arrival.
  const std::size_t expected = 1 + 3 + 30 + 1;
  const auto until = Clock::now() + kCommitDeadline;
  auto all_there = [&] {
    for (std::uint64_t id = 1; id <= 4; ++id) {
      if (lines_of(cluster.temp_dir() + "/calls" + std::to_string(id)).size() < expected) return false;
    }
    return true;
  };
  while (!all_there() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto first = lines_of(cluster.temp_dir() + "/calls1");
  ASSERT_EQ(first.size(), expected) << "node 1's application saw " << first.size() << " callbacks";
  EXPECT_EQ(first.front(), "bootstrap");
  for (std::uint64_t id = 2; id <= 4; ++id) {
    EXPECT_EQ(lines_of(cluster.temp_dir() + "/calls" + std::to_string(id)), first) << "node " << id;
  }
}

}  // namespace
}  // namespace conclave::cluster_test
