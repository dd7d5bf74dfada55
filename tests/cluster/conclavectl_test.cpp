// conclavectl end to end against a live cluster: status (text and JSON),
// propose through a follower, leadership transfer on request, members, a
// follower's notLeader answered with what to run (or followed to the
// leader's socket when --node-socket lists it), and the errors an operator
// meets: no sidecar, bad usage, a running node's data dir given to `log`. Checks exit codes (0 ok, 1 failure, 2 usage) and
// that each error says what to do.
#include <gtest/gtest.h>

#include <thread>

#include "tests/cluster/cluster.h"
#include "tests/cluster/example_apps.h"

namespace conclave::cluster_test {
namespace {


bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Conclavectl, DrivesALiveCluster) {
  Cluster cluster;
  cluster.start_founders(3);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const std::uint64_t follower = leader == 1 ? 2 : 1;

  auto status = run_conclavectl(cluster, leader, {"status"});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_TRUE(contains(status.output, "leader")) << status.output;
  EXPECT_TRUE(contains(status.output, cluster.peer_address(follower))) << status.output;

  auto json = run_conclavectl(cluster, follower, {"status", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.output;
  EXPECT_TRUE(contains(json.output, "\"role\":\"follower\"")) << json.output;
  EXPECT_TRUE(contains(json.output, "\"leader\":" + std::to_string(leader))) << json.output;

  auto proposed = run_conclavectl(cluster, follower, {"--json", "propose", "from the CLI"});
  EXPECT_EQ(proposed.exit_code, 0) << proposed.output;
  EXPECT_TRUE(contains(proposed.output, "\"ok\":true")) << proposed.output;

  auto members = run_conclavectl(cluster, leader, {"members"});
  EXPECT_EQ(members.exit_code, 0) << members.output;
  for (auto id : cluster.ids()) EXPECT_TRUE(contains(members.output, cluster.peer_address(id))) << members.output;

  // Leadership moves on request, to the voter named.
  auto moved = run_conclavectl(cluster, leader, {"transfer-leader", std::to_string(follower)});
  EXPECT_EQ(moved.exit_code, 0) << moved.output;
  const auto until = Clock::now() + kLeaderDeadline;
  std::uint64_t now_leading = 0;
  while (Clock::now() < until && now_leading != follower) {
    now_leading = cluster.wait_for_leader();
    if (now_leading != follower) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(now_leading, follower) << "leadership did not move to node " << follower;

  // Membership changes go to the leader; a follower says where it is.
  // (Promoting a voter is harmless should the old leader lead again.)
  if (now_leading == follower) {
    const std::string id = std::to_string(follower);
    auto wrong = run_conclavectl(cluster, leader, {"members", "promote", "3"});
    EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
    EXPECT_TRUE(contains(wrong.output, "notLeader")) << wrong.output;
    // It names the leader and says what to run.
    EXPECT_TRUE(contains(wrong.output, "node " + id + " is the leader (peer address " +
                                           cluster.peer_address(follower) + ")"))
        << wrong.output;
    EXPECT_TRUE(contains(wrong.output, "--socket set to node " + id + "'s admin socket")) << wrong.output;
    EXPECT_TRUE(contains(wrong.output, "--node-socket " + id + "=PATH")) << wrong.output;

    // With --json, stdout is one object carrying the same.
    auto wrong_json = run_conclavectl(cluster, leader, {"--json", "members", "promote", "3"}, true);
    EXPECT_EQ(wrong_json.exit_code, 1) << wrong_json.output;
    ASSERT_FALSE(wrong_json.output.empty());
    EXPECT_EQ(wrong_json.output.front(), '{') << wrong_json.output;
    EXPECT_EQ(wrong_json.output.find('\n'), wrong_json.output.size() - 1) << wrong_json.output;
    EXPECT_TRUE(contains(wrong_json.output, "\"error\":\"notLeader\"")) << wrong_json.output;
    EXPECT_TRUE(contains(wrong_json.output, "\"leader\":" + id)) << wrong_json.output;
    EXPECT_TRUE(contains(wrong_json.output, "\"leader_address\":\"" + cluster.peer_address(follower) + "\""))
        << wrong_json.output;
    EXPECT_TRUE(contains(wrong_json.output, "\"socket\":\"" + cluster.admin_socket(leader) + "\""))
        << wrong_json.output;
    EXPECT_TRUE(contains(wrong_json.output, "\"what_to_do\":\"node " + id + " is the leader"))
        << wrong_json.output;

    // Told every node's socket, conclavectl asks the leader itself: the old
    // leader, now a follower, passes the transfer back to where it leads.
    std::vector<std::string> args;
    for (auto n : cluster.ids()) {
      args.push_back("--node-socket");
      args.push_back(std::to_string(n) + "=" + cluster.admin_socket(n));
    }
    args.push_back("transfer-leader");
    args.push_back(std::to_string(leader));
    auto followed = run_conclavectl(cluster, leader, args);
    EXPECT_EQ(followed.exit_code, 0) << followed.output;
    EXPECT_TRUE(contains(followed.output, "asking it at " + cluster.admin_socket(follower))) << followed.output;
    EXPECT_TRUE(contains(followed.output, "accepted")) << followed.output;
  }

  // The dump opens a data dir read-only, without its lock: a running
  // node's log can be read, and is left as it was.
  auto log = run_command({conclavectl_path(), "log", "--data-dir", cluster.data_dir(leader)}, true);
  EXPECT_EQ(log.exit_code, 0) << log.output;
  EXPECT_TRUE(contains(log.output, cluster.data_dir(leader))) << log.output;
  EXPECT_TRUE(contains(log.output, "bootstrap voters")) << log.output;
}

TEST(Conclavectl, ErrorsSayWhatToDo) {
  Cluster cluster;  // for its temp dir only
  const std::string missing = cluster.temp_dir() + "/nobody.sock";
  auto none = run_command({conclavectl_path(), "--socket", missing, "status"}, true);
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_TRUE(contains(none.output, "no sidecar listening at " + missing)) << none.output;
  EXPECT_TRUE(contains(none.output, "--admin-socket")) << none.output;

  auto none_json = run_command({conclavectl_path(), "--socket", missing, "--json", "status"});
  EXPECT_EQ(none_json.exit_code, 1) << none_json.output;
  EXPECT_TRUE(contains(none_json.output, "\"ok\":false")) << none_json.output;

  auto no_socket = run_command({conclavectl_path(), "status"}, true);
  EXPECT_EQ(no_socket.exit_code, 2) << no_socket.output;
  EXPECT_TRUE(contains(no_socket.output, "--socket")) << no_socket.output;

  auto bad_id = run_command({conclavectl_path(), "--socket", missing, "members", "promote", "zero"}, true);
  EXPECT_EQ(bad_id.exit_code, 2) << bad_id.output;

  auto bad_node_socket =
      run_command({conclavectl_path(), "--socket", missing, "--node-socket", "two=/tmp/x.sock", "status"}, true);
  EXPECT_EQ(bad_node_socket.exit_code, 2) << bad_node_socket.output;
  EXPECT_TRUE(contains(bad_node_socket.output, "--node-socket takes ID=PATH")) << bad_node_socket.output;

  auto no_command = run_command({conclavectl_path()}, true);
  EXPECT_EQ(no_command.exit_code, 2) << no_command.output;

  auto not_a_dir = run_command({conclavectl_path(), "log", "--data-dir", cluster.temp_dir() + "/nothing"}, true);
  EXPECT_EQ(not_a_dir.exit_code, 1) << not_a_dir.output;
  EXPECT_TRUE(contains(not_a_dir.output, "not a Conclave data directory")) << not_a_dir.output;
}

TEST(Conclavectl, SnapshotTakesOneFromTheApplicationOrSaysWhyNot) {
  Cluster cluster;
  ExampleApps kv(cluster);
  cluster.start_founders(3);
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  kv.start(1);
  ASSERT_TRUE(kv.put(1, "a", "1"));

  auto taken = run_conclavectl(cluster, 1, {"snapshot"});
  EXPECT_EQ(taken.exit_code, 0) << taken.output;
  EXPECT_TRUE(contains(taken.output, "snapshot stored at index ")) << taken.output;
  auto s = cluster.status(1);
  ASSERT_TRUE(s);
  EXPECT_GT(s->snapshot_index, 0u);

  // Node 2 has no application: nothing holds the state there.
  auto refused = run_conclavectl(cluster, 2, {"snapshot"});
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_TRUE(contains(refused.output, "no acclimated application")) << refused.output;
}

}  // namespace
}  // namespace conclave::cluster_test
