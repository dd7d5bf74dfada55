// conclavectl status --cluster against real processes: asked of a follower
// (which can only reach its own node's socket), it shows the leader's view
// of all three members with sane match indexes; once a member is killed,
// that member falls behind and goes unheard while the others keep up; and
// with no leader left to ask, the error says what to do.
#include <gtest/gtest.h>

#include <thread>

#include "tests/cluster/cluster.h"

namespace conclave::cluster_test {
namespace {


bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The leader's view, asked through node `id`'s admin socket.
std::optional<admin::Status> cluster_status(Cluster& cluster, std::uint64_t id) {
  auto answer = cluster.call(id, admin::ClusterStatusRequest{});
  if (!answer || !answer->ok()) return std::nullopt;
  const auto* status = std::get_if<admin::Status>(&answer->body);
  return status ? std::optional<admin::Status>(*status) : std::nullopt;
}

// Polls the view through node `id` until `wanted` holds; the last view seen.
std::optional<admin::Status> wait_for_view(Cluster& cluster, std::uint64_t id,
                                           const std::function<bool(const admin::Status&)>& wanted) {
  std::optional<admin::Status> last;
  const auto until = Clock::now() + kCommitDeadline;
  while (Clock::now() < until) {
    last = cluster_status(cluster, id);
    if (last && wanted(*last)) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return last;
}

TEST(ClusterStatus, AFollowerShowsTheLeadersViewOfEveryMember) {
  Cluster cluster;
  cluster.start_founders(3);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const std::uint64_t asked = leader == 1 ? 2 : 1;
  const std::uint64_t victim = 6 - leader - asked;
  ASSERT_TRUE(cluster.propose_through_each({1, 2, 3}, "before"));
  const std::uint64_t acked = cluster.max_acked();

  // Every member replicated through what was acknowledged, heard from lately.
  auto view = wait_for_view(cluster, asked, [&](const admin::Status& s) {
    for (const auto& m : s.members) {
      if (m.id != s.node_id && (m.match < acked || !m.heard)) return false;
    }
    return true;
  });
  ASSERT_TRUE(view) << "no cluster status through node " << asked;
  EXPECT_EQ(view->node_id, leader) << "the answer is the leader's view";
  EXPECT_EQ(view->role, "leader");
  ASSERT_EQ(view->members.size(), 3u);
  for (const auto& m : view->members) {
    SCOPED_TRACE("member " + std::to_string(m.id));
    EXPECT_EQ(m.address, cluster.peer_address(m.id));
    EXPECT_TRUE(m.voter);
    EXPECT_GE(m.match, acked);
    EXPECT_LE(m.match, view->last_index);
    EXPECT_EQ(m.lag, view->last_index - m.match);
    EXPECT_FALSE(m.sending_snapshot);
    if (m.id != leader) {
      EXPECT_TRUE(m.heard);
    }
  }

  // The same through the CLI, as text and as one JSON object.
  auto text = run_conclavectl(cluster, asked, {"status", "--cluster"});
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_TRUE(contains(text.output, "as its leader, node " + std::to_string(leader))) << text.output;
  EXPECT_TRUE(contains(text.output, "LAST HEARD")) << text.output;
  for (auto id : cluster.ids()) EXPECT_TRUE(contains(text.output, cluster.peer_address(id))) << text.output;
  auto json = run_conclavectl(cluster, asked, {"status", "--cluster", "--json"}, true);
  EXPECT_EQ(json.exit_code, 0) << json.output;
  EXPECT_EQ(json.output.front(), '{') << json.output;
  EXPECT_TRUE(contains(json.output, "\"ok\":true,\"cluster_id\":\"conclave-test\",\"leader\":" +
                                        std::to_string(leader)))
      << json.output;
  EXPECT_TRUE(contains(json.output, "\"heard_ms_ago\":")) << json.output;
  EXPECT_TRUE(contains(json.output, "\"sending_snapshot\":false")) << json.output;

  // A member killed: the leader keeps committing with the other two, and
  // shows the dead one behind, not active, and heard from ever longer ago.
  cluster.kill9(victim);
  ASSERT_TRUE(cluster.wait_exit(victim));
  ASSERT_TRUE(cluster.propose_through_each({leader, asked}, "after"));
  const std::uint64_t acked_after = cluster.max_acked();
  auto behind = wait_for_view(cluster, asked, [&](const admin::Status& s) {
    const admin::Member* dead = s.member(victim);
    return dead != nullptr && !dead->recently_active && dead->lag > 0 && dead->heard;
  });
  ASSERT_TRUE(behind);
  const admin::Member* dead = behind->member(victim);
  ASSERT_NE(dead, nullptr);
  EXPECT_LT(dead->match, acked_after);
  EXPECT_FALSE(dead->recently_active);
  const admin::Member* alive = behind->member(asked);
  ASSERT_NE(alive, nullptr);
  EXPECT_GE(alive->match, acked_after);
  EXPECT_TRUE(alive->recently_active);

  // Unheard means unheard: the time since grows while the member stays dead.
  const std::uint64_t first_silence = dead->heard_ago_ms;
  auto later = wait_for_view(cluster, asked, [&](const admin::Status& s) {
    const admin::Member* m = s.member(victim);
    return m != nullptr && m->heard && m->heard_ago_ms > first_silence;
  });
  ASSERT_TRUE(later);
  const admin::Member* still_dead = later->member(victim);
  ASSERT_NE(still_dead, nullptr);
  const std::uint64_t second_silence = still_dead->heard_ago_ms;
  EXPECT_GT(second_silence, first_silence);
  auto dead_text = run_conclavectl(cluster, asked, {"status", "--cluster"});
  EXPECT_EQ(dead_text.exit_code, 0) << dead_text.output;
  EXPECT_TRUE(contains(dead_text.output, " s ago")) << dead_text.output;
}

TEST(ClusterStatus, WithNoLeaderLeftTheErrorSaysWhatToDo) {
  Cluster cluster;
  cluster.start_founders(3);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const std::uint64_t survivor = leader == 1 ? 2 : 1;
  for (auto id : cluster.ids()) {
    if (id != survivor) cluster.kill9(id);
  }
  // The survivor first asks the dead leader (and times out), then knows of
  // no leader at all; either way the answer is an error that says what to do.
  CommandResult result;
  const auto until = Clock::now() + kLeaderDeadline;
  do {
    result = run_conclavectl(cluster, survivor, {"status", "--cluster"});
    if (contains(result.output, "noLeader")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (Clock::now() < until);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "noLeader")) << result.output;
  EXPECT_TRUE(contains(result.output, "retry")) << result.output;

  auto json = run_conclavectl(cluster, survivor, {"status", "--cluster", "--json"}, true);
  EXPECT_EQ(json.exit_code, 1) << json.output;
  EXPECT_TRUE(contains(json.output, "\"ok\":false")) << json.output;
}

}  // namespace
}  // namespace conclave::cluster_test
