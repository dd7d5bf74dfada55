// Membership and shutdown: a solo node grows to three through --join (each
// joiner a learner first, then a voter) and the joiners hold the whole log;
// a removed node exits 0 while the rest carry on; a node lost with its disk
// is removed and replaced by a fresh one; SIGTERM on a leader hands
// leadership over before the process exits 0.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <thread>

#include "tests/cluster/cluster.h"

namespace conclave::cluster_test {
namespace {

// Polls the leader's status until `ids` are exactly its voters. Returns
// false (after failing the test) at the deadline.
bool wait_for_voters(Cluster& cluster, const std::set<std::uint64_t>& ids) {
  const auto until = Clock::now() + kCommitDeadline;
  std::string last;
  while (Clock::now() < until) {
    const std::uint64_t leader = cluster.wait_for_leader();
    if (leader == 0) return false;
    auto s = cluster.status(leader);
    if (s) {
      std::set<std::uint64_t> voters;
      last.clear();
      for (const auto& m : s->members) {
        if (m.voter) voters.insert(m.id);
        last += " " + std::to_string(m.id) + (m.voter ? "(voter)" : "(learner)");
      }
      if (voters == ids) return true;
    } else {
      last = s.error();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "the voters did not become exactly the expected set; the leader last listed:" << last;
  return false;
}

TEST(Membership, SoloNodeGrowsToThreeVotersByJoin) {
  Cluster cluster;
  const std::uint64_t first = cluster.add_node();
  cluster.start(first, StartMode::kSolo);
  ASSERT_EQ(cluster.wait_for_leader({first}), first);
  ASSERT_TRUE(cluster.propose(first, "alone").has_value());

  // Each joiner is added as a learner and promoted once caught up.
  const std::uint64_t second = cluster.add_node();
  cluster.start(second, StartMode::kJoin, first);
  ASSERT_TRUE(wait_for_voters(cluster, {first, second}));
  const std::uint64_t third = cluster.add_node();
  cluster.start(third, StartMode::kJoin, second);  // any member will do, not only the leader
  ASSERT_TRUE(wait_for_voters(cluster, {first, second, third}));

  for (auto id : {first, second, third}) {
    ASSERT_TRUE(cluster.propose(id, "three voters, via node " + std::to_string(id)).has_value());
  }
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), {first, second, third}));

  // The joiners hold the whole log, from the solo days on.
  cluster.stop_all();
  cluster.expect_disk_logs_agree();
}

// The leader stops replicating to a node once its removal is appended, so
// the removed node must be told some other way that the removal committed;
// until it is, it would campaign (harmlessly, thanks to pre-vote) forever.
TEST(Membership, RemovedNodeExitsZeroAndTheRestCarryOn) {
  Cluster cluster;
  cluster.start_founders(3);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(cluster.propose(leader, "before the removal").has_value());

  // Remove a follower through the leader.
  const std::uint64_t removed = leader == 3 ? 2 : 3;
  auto r = cluster.call(leader, admin::RemoveRequest{removed}, std::chrono::seconds(10));
  ASSERT_TRUE(r) << r.error();
  ASSERT_TRUE(r->ok()) << r->describe_error();
  auto exit = cluster.wait_exit(removed);
  ASSERT_TRUE(exit.has_value());
  EXPECT_FALSE(exit->signaled) << exit->describe();
  EXPECT_EQ(exit->code, 0) << exit->describe();

  const auto rest = cluster.running_ids();
  ASSERT_EQ(rest.size(), 2u);
  ASSERT_TRUE(wait_for_voters(cluster, rest));
  for (auto id : rest) {
    ASSERT_TRUE(cluster.propose(id, "after the removal, via node " + std::to_string(id)).has_value());
  }
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), rest));
}

// What an operator does when a machine and its disk are gone for good:
// remove the dead member (its vote is still counted in every quorum until
// then), and start a new node, with a new id and an empty data directory,
// that joins. The daemon promotes the learner itself once it has caught up.
TEST(Membership, NodeLostWithItsDiskIsReplacedByAFreshOne) {
  Cluster cluster;
  cluster.start_founders(3);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(cluster.propose_through_each(cluster.running_ids(), "before the loss"));
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked()));

  const std::uint64_t lost = leader == 3 ? 2 : 3;
  cluster.kill9(lost);
  ASSERT_TRUE(cluster.wait_exit(lost).has_value());
  std::filesystem::remove_all(cluster.data_dir(lost));
  const auto survivors = cluster.running_ids();
  ASSERT_TRUE(cluster.propose(leader, "one node lost").has_value());

  auto r = cluster.call(leader, admin::RemoveRequest{lost}, std::chrono::seconds(10));
  ASSERT_TRUE(r) << r.error();
  ASSERT_TRUE(r->ok()) << r->describe_error();
  ASSERT_TRUE(wait_for_voters(cluster, survivors));

  const std::uint64_t fresh = cluster.add_node();
  cluster.start(fresh, StartMode::kJoin, *survivors.begin());
  std::set<std::uint64_t> members = survivors;
  members.insert(fresh);
  ASSERT_TRUE(wait_for_voters(cluster, members));
  ASSERT_TRUE(cluster.propose_through_each(members, "replaced"));
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), members));

  cluster.stop_all();
  cluster.expect_disk_logs_agree(members);
}

// A majority lost for good: `conclavectl recover` on the stopped survivor
// makes it the only voter, it elects itself, keeps every acknowledged
// entry and commits again, and a fresh node joins it. Refused while the
// node runs; without --yes it only prints the plan.
TEST(Membership, MajorityLostRecoverMakesTheSurvivorTheOnlyVoter) {
  Cluster cluster;
  cluster.start_founders(3);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(cluster.propose_through_each(cluster.running_ids(), "before the loss"));
  // Every node holds every acknowledged entry, so any survivor keeps them.
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked()));

  const std::uint64_t survivor = leader == 1 ? 2 : 1;
  for (auto id : cluster.ids()) {
    if (id == survivor) continue;
    cluster.kill9(id);
    ASSERT_TRUE(cluster.wait_exit(id).has_value());
    std::filesystem::remove_all(cluster.data_dir(id));
  }
  const std::string dir = cluster.data_dir(survivor);
  const std::string id = std::to_string(survivor);

  auto running = run_command({conclavectl_path(), "recover", "--data-dir", dir, "--id", id, "--yes"}, true);
  EXPECT_EQ(running.exit_code, 1) << running.output;
  EXPECT_NE(running.output.find("stop the node first"), std::string::npos) << running.output;

  cluster.signal(survivor, SIGTERM);
  ASSERT_TRUE(cluster.wait_exit(survivor).has_value());
  const std::uint64_t last_before = cluster.disk_log(survivor).entries.back().index.value();

  auto plan = run_command({conclavectl_path(), "recover", "--data-dir", dir, "--id", id}, true);
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_NE(plan.output.find("Run again with --yes"), std::string::npos) << plan.output;
  EXPECT_EQ(cluster.disk_log(survivor).entries.back().index.value(), last_before) << "a plan changes nothing";

  auto learner = run_command({conclavectl_path(), "recover", "--data-dir", dir, "--id", "9", "--yes"}, true);
  EXPECT_EQ(learner.exit_code, 1) << learner.output;
  EXPECT_NE(learner.output.find("not a member"), std::string::npos) << learner.output;

  auto done = run_command({conclavectl_path(), "--json", "recover", "--data-dir", dir, "--id", id, "--yes"});
  ASSERT_EQ(done.exit_code, 0) << done.output;
  EXPECT_NE(done.output.find("\"changed\":true"), std::string::npos) << done.output;
  const DiskLog forced = cluster.disk_log(survivor);
  ASSERT_EQ(forced.entries.back().index.value(), last_before + 1);
  EXPECT_EQ(forced.entries.back().type, raft::EntryType::kConfig);
  expect_all_acked_present(forced, cluster.acked());

  cluster.start(survivor);
  ASSERT_EQ(cluster.wait_for_leader({survivor}), survivor);
  ASSERT_TRUE(wait_for_voters(cluster, {survivor}));
  ASSERT_TRUE(cluster.propose(survivor, "after the recovery").has_value());

  const std::uint64_t fresh = cluster.add_node();
  cluster.start(fresh, StartMode::kJoin, survivor);
  ASSERT_TRUE(wait_for_voters(cluster, {survivor, fresh}));
  ASSERT_TRUE(cluster.propose_through_each({survivor, fresh}, "grown again"));
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), {survivor, fresh}));

  cluster.stop_all();
  cluster.expect_disk_logs_agree({survivor, fresh});
}

// docs/operations.md's backup and restore: a stopped follower's data
// directory, copied, brings the whole cluster back after every node is
// lost, through recover, with every entry acknowledged before the copy.
TEST(Membership, BackupOfAStoppedFollowerRestoresTheClusterThroughRecover) {
  Cluster cluster;
  cluster.start_founders(3);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(cluster.propose_through_each(cluster.running_ids(), "before the backup"));
  const std::uint64_t follower = leader == 1 ? 2 : 1;
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), {follower}));
  const std::vector<Acked> backed_up = cluster.acked();

  cluster.signal(follower, SIGTERM);
  ASSERT_TRUE(cluster.wait_exit(follower).has_value());
  const std::string backup = cluster.temp_dir() + "/backup";
  std::filesystem::copy(cluster.data_dir(follower), backup, std::filesystem::copy_options::recursive);
  cluster.start(follower);
  ASSERT_TRUE(cluster.propose(leader, "after the backup").has_value());

  cluster.kill_all();  // every node lost
  for (auto id : cluster.ids()) std::filesystem::remove_all(cluster.data_dir(id));
  std::filesystem::copy(backup, cluster.data_dir(follower), std::filesystem::copy_options::recursive);

  auto done = run_command({conclavectl_path(), "recover", "--data-dir", cluster.data_dir(follower), "--id",
                           std::to_string(follower), "--yes"},
                          true);
  ASSERT_EQ(done.exit_code, 0) << done.output;
  cluster.start(follower);
  ASSERT_EQ(cluster.wait_for_leader({follower}), follower);
  ASSERT_TRUE(cluster.propose(follower, "after the restore").has_value());
  cluster.stop_all();
  expect_all_acked_present(cluster.disk_log(follower), backed_up);
}

TEST(Membership, SigtermOnTheLeaderMovesLeadershipAndExitsZero) {
  Cluster cluster;
  cluster.start_founders(3);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(cluster.propose(leader, "before SIGTERM").has_value());

  cluster.signal(leader, SIGTERM);
  auto exit = cluster.wait_exit(leader);
  ASSERT_TRUE(exit.has_value());
  EXPECT_FALSE(exit->signaled) << exit->describe();
  EXPECT_EQ(exit->code, 0) << exit->describe();

  const auto rest = cluster.running_ids();
  ASSERT_EQ(rest.size(), 2u);
  const std::uint64_t next = cluster.wait_for_leader(rest);
  ASSERT_NE(next, 0u);
  EXPECT_NE(next, leader);
  for (auto id : rest) {
    ASSERT_TRUE(cluster.propose(id, "after SIGTERM, via node " + std::to_string(id)).has_value());
  }
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), rest));
}

}  // namespace
}  // namespace conclave::cluster_test
