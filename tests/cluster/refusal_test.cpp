// What a node must refuse without harm to the cluster: a second daemon on
// its data directory, garbage on its peer port, and a node of another
// cluster.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>

#include "tests/cluster/cluster.h"

namespace conclave::cluster_test {
namespace {

TEST(Refusal, SecondDaemonOnTheSameDataDirExitsNamingTheDir) {
  Cluster cluster;
  const std::uint64_t id = cluster.add_node();
  cluster.start(id, StartMode::kSolo);
  ASSERT_EQ(cluster.wait_for_leader({id}), id);

  // Same data dir; its own port and admin socket, so only the lock can stop it.
  auto argv = cluster.command_line(id, StartMode::kSolo, 0, {});
  const std::string other_address = "127.0.0.1:" + std::to_string(free_port());
  for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--peer-listen" || argv[i] == "--advertise") argv[i + 1] = other_address;
    if (argv[i] == "--admin-socket") argv[i + 1] = cluster.temp_dir() + "/second.sock";
  }
  const std::string log = cluster.temp_dir() + "/second.log";
  NodeProcess second(argv, log);
  auto exit = second.wait_exit(Clock::now() + kExitDeadline);
  ASSERT_TRUE(exit.has_value()) << "a second conclaved on " << cluster.data_dir(id) << " kept running";
  EXPECT_FALSE(exit->signaled) << exit->describe();
  EXPECT_NE(exit->code, 0) << exit->describe();
  const std::string output = read_text_file(log);
  EXPECT_NE(output.find(cluster.data_dir(id)), std::string::npos)
      << "the refusal does not name the data dir; it said:\n" << output;

  // The first one is untouched.
  EXPECT_TRUE(cluster.running(id));
  ASSERT_TRUE(cluster.propose(id, "still serving").has_value());
}

// Frames a misbehaving peer might send: random bytes, a text protocol, a
// framing header announcing a huge segment, one announcing absurdly many
// segments, and a frame cut short.
std::vector<std::string> garbage_frames() {
  std::vector<std::string> frames;
  std::mt19937 rng(20261122);
  std::string random(4096, '\0');
  for (auto& c : random) c = static_cast<char>(rng());
  frames.push_back(random);
  frames.push_back("GET / HTTP/1.1\r\nHost: conclave\r\n\r\n");
  auto words = [](std::initializer_list<std::uint32_t> values) {
    std::string out;
    for (auto v : values) out.append(reinterpret_cast<const char*>(&v), 4);
    return out;
  };
  frames.push_back(words({0, 0x7fffffff}) + std::string(64, '\x01'));  // one segment of 16 GiB
  frames.push_back(words({0xfffffffe, 1, 1, 1}));                       // 4 billion segments
  frames.push_back(words({0, 100}) + std::string(80, '\0'));            // 800 bytes announced, 80 sent
  frames.push_back(std::string(1, '\0'));                               // cut inside the header
  return frames;
}

TEST(Refusal, GarbageOnPeerPortsDoesNotDisturbTheCluster) {
  Cluster cluster;
  cluster.start_founders(3);
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  ASSERT_TRUE(cluster.propose(1, "before the garbage").has_value());

  for (int pass = 0; pass < 3; ++pass) {
    for (auto id : cluster.ids()) {
      for (const auto& frame : garbage_frames()) {
        EXPECT_TRUE(send_raw_tcp(cluster.peer_port(id), frame)) << "node " << id << "'s peer port refused a connection";
      }
    }
  }

  for (auto id : cluster.ids()) {
    EXPECT_TRUE(cluster.running(id)) << "node " << id << " died of garbage on its peer port";
  }
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  for (auto id : cluster.ids()) {
    ASSERT_TRUE(cluster.propose(id, "after the garbage, via node " + std::to_string(id)).has_value());
  }
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked()));
}

TEST(Refusal, NodeOfAnotherClusterIsRefusedAndTheClusterCarriesOn) {
  Cluster cluster;
  cluster.start_founders(3);
  ASSERT_NE(cluster.wait_for_leader(), 0u);

  const std::string wrong = "some-other-cluster";
  const std::uint64_t intruder = cluster.add_node();
  cluster.set_cluster_id(intruder, wrong);
  cluster.start(intruder, StartMode::kJoin, 1);

  // The refusal shows in a member's log, naming the cluster id it refused.
  const auto until = Clock::now() + kCommitDeadline;
  bool logged = false;
  while (!logged && Clock::now() < until) {
    for (auto id : {1, 2, 3}) logged = logged || cluster.log_text(id).find(wrong) != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(logged) << "no member logged a refusal naming cluster id '" << wrong << "'";

  for (std::uint64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(cluster.propose(id, "with an intruder knocking, via node " + std::to_string(id)).has_value());
  }
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), {1, 2, 3}));
  const std::uint64_t leader = cluster.wait_for_leader({1, 2, 3});
  ASSERT_NE(leader, 0u);
  auto s = cluster.status(leader);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->member(intruder), nullptr) << "node " << intruder << " of cluster '" << wrong << "' became a member";
  EXPECT_EQ(s->members.size(), 3u);
}

}  // namespace
}  // namespace conclave::cluster_test
