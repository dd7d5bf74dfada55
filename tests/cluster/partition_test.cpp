// Partitions, made by the fault proxy (fault_proxy.h) between real nodes: a
// minority commits nothing while the majority carries on; an isolated
// leader steps down (check-quorum) and acknowledges no write it could not
// commit; a healed minority catches up and agrees on disk; slow links delay
// but lose nothing. Proposals that may never be answered are one-shot
// (one_shot_proposal.h).
#include <gtest/gtest.h>

#include <thread>

#include "tests/cluster/cluster.h"
#include "tests/cluster/one_shot_proposal.h"

namespace conclave::cluster_test {
namespace {

// Polls node `id` until its status no longer says it leads.
bool wait_until_not_leader(Cluster& cluster, std::uint64_t id) {
  const auto until = Clock::now() + kLeaderDeadline;
  std::string last;
  while (Clock::now() < until) {
    auto s = cluster.status(id);
    if (s && s->role != "leader") return true;
    last = s ? s->role + " in term " + std::to_string(s->term) : s.error();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "node " << id << " still leads after " << kLeaderDeadline.count() << " s cut off; last: " << last;
  return false;
}

// Starts `n` founders through the proxy, waits for a leader and commits a
// first entry everywhere. Returns the leader, or 0 (the test failed).
std::uint64_t start_and_commit_first_entry(Cluster& cluster, int n) {
  cluster.start_founders(n);
  const std::uint64_t leader = cluster.wait_for_leader();
  if (leader == 0 || !cluster.propose(leader, "before the faults")) return 0;
  return cluster.wait_for_commit(cluster.max_acked()) ? leader : 0;
}

std::uint64_t commit_index(Cluster& cluster, std::uint64_t id) {
  auto s = cluster.status(id);
  EXPECT_TRUE(s) << "node " << id << ": " << s.error();
  return s ? s->commit_index : 0;
}

std::set<std::uint64_t> all_but(Cluster& cluster, const std::set<std::uint64_t>& excluded) {
  std::set<std::uint64_t> out;
  for (auto id : cluster.ids()) {
    if (excluded.count(id) == 0) out.insert(id);
  }
  return out;
}

TEST(Partition, MinorityWithTheOldLeaderCommitsNothingWhileTheMajorityCarriesOn) {
  Cluster cluster(ClusterOptions{.through_proxy = true});
  const std::uint64_t old_leader = start_and_commit_first_entry(cluster, 5);
  ASSERT_NE(old_leader, 0u);

  const std::uint64_t follower = old_leader == 1 ? 2 : 1;
  const std::set<std::uint64_t> minority = {old_leader, follower};
  const std::set<std::uint64_t> majority = all_but(cluster, minority);
  cluster.partition(minority, majority);
  const std::uint64_t commit_at_cut = std::max(commit_index(cluster, old_leader), commit_index(cluster, follower));

  // Through the old leader (which may still take it into its log) and
  // through its follower (which forwards it to the old leader).
  std::vector<OneShotProposal> stranded;
  stranded.push_back(propose_once_async(cluster, old_leader, "minority, via the old leader"));
  stranded.push_back(propose_once_async(cluster, follower, "minority, via a follower"));

  const std::uint64_t new_leader = cluster.wait_for_leader(majority);
  ASSERT_NE(new_leader, 0u);
  ASSERT_TRUE(cluster.propose_through_each(majority, "majority"));
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), majority));

  for (auto& p : stranded) {
    EXPECT_FALSE(acknowledgement(p).has_value()) << "the minority acknowledged \"" << p.data << "\"";
  }
  // Still cut off, the minority has committed nothing new.
  for (auto id : minority) EXPECT_LE(commit_index(cluster, id), commit_at_cut) << "node " << id;

  cluster.heal();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked()));
  cluster.stop_all();
  // The majority's entries took the indexes the minority had appended at,
  // so nothing proposed in the minority survives anywhere.
  for (const auto& log : cluster.expect_disk_logs_agree()) {
    for (const auto& p : stranded) EXPECT_EQ(count_entries_with_data(log, p.data), 0) << log.data_dir << ": " << p.data;
  }
}

TEST(Partition, IsolatedLeaderStepsDownAndAcknowledgesOnlyWhatCommitted) {
  Cluster cluster(ClusterOptions{.through_proxy = true});
  const std::uint64_t old_leader = start_and_commit_first_entry(cluster, 3);
  ASSERT_NE(old_leader, 0u);

  // One proposal races the cut (it may commit before it); the others reach
  // the old leader after it, while it still believes it leads, or after it
  // stepped down. Whatever each is answered, an acknowledged one must end
  // up in every log.
  std::vector<OneShotProposal> racing;
  racing.push_back(propose_once_async(cluster, old_leader, "raced the cut"));
  cluster.isolate(old_leader);
  for (int i = 0; i < 3; ++i) {
    racing.push_back(propose_once_async(cluster, old_leader, "after the cut #" + std::to_string(i)));
  }

  ASSERT_TRUE(wait_until_not_leader(cluster, old_leader));
  const std::set<std::uint64_t> rest = all_but(cluster, {old_leader});
  const std::uint64_t new_leader = cluster.wait_for_leader(rest);
  ASSERT_NE(new_leader, 0u);
  ASSERT_TRUE(cluster.propose_through_each(rest, "without the old leader"));
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), rest));
  // Cut off, it must not have become leader again in the meantime.
  auto s = cluster.status(old_leader);
  ASSERT_TRUE(s) << s.error();
  EXPECT_NE(s->role, "leader");

  cluster.heal();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  ASSERT_TRUE(cluster.propose(old_leader, "via the old leader, healed").has_value());
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked()));

  std::vector<Acked> acked_by_old_leader;
  for (auto& p : racing) {
    if (auto a = acknowledgement(p)) acked_by_old_leader.push_back(*a);
  }
  cluster.stop_all();
  for (const auto& log : cluster.expect_disk_logs_agree({}, acked_by_old_leader)) {
    for (const auto& p : racing) EXPECT_LE(count_entries_with_data(log, p.data), 1) << log.data_dir << ": " << p.data;
  }
}

TEST(Partition, HealedMinorityCatchesUpAndAgreesOnDisk) {
  Cluster cluster(ClusterOptions{.through_proxy = true});
  const std::uint64_t leader = start_and_commit_first_entry(cluster, 5);
  ASSERT_NE(leader, 0u);

  // Two followers cut off from the leader's side.
  std::set<std::uint64_t> minority;
  for (auto id : cluster.ids()) {
    if (id != leader && minority.size() < 2) minority.insert(id);
  }
  const std::set<std::uint64_t> majority = all_but(cluster, minority);
  cluster.partition(minority, majority);
  for (int i = 0; i < 20; ++i) {
    const std::uint64_t via = *std::next(majority.begin(), i % majority.size());
    ASSERT_TRUE(cluster.propose(via, "while partitioned #" + std::to_string(i)).has_value());
  }
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), majority));
  for (auto id : minority) EXPECT_LT(commit_index(cluster, id), cluster.max_acked()) << "node " << id;

  cluster.heal();
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), minority));
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  ASSERT_TRUE(cluster.propose_through_each(minority, "healed"));
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked()));
  cluster.stop_all();
  cluster.expect_disk_logs_agree();
}

TEST(Partition, SlowLinksDelayButLoseNothing) {
  Cluster cluster(ClusterOptions{.through_proxy = true});
  cluster.start_founders(3);
  // Every link slowed by a few ticks (tick_ms is 20), short of an election
  // timeout, so the cluster is slow but stable.
  for (auto src : cluster.ids()) {
    for (auto dst : cluster.ids()) {
      if (src != dst) cluster.proxy().set_rule(src, dst, LinkRule{.delay = std::chrono::milliseconds(40)});
    }
  }
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(cluster.propose_through_each(cluster.running_ids(), "slow, round " + std::to_string(round)));
  }
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked()));
  cluster.stop_all();
  cluster.expect_disk_logs_agree();
}

}  // namespace
}  // namespace conclave::cluster_test
