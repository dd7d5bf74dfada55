// Random faults from a seed: a nemesis cuts, bridges, half-cuts and slows
// the links between five nodes, one fault at a time, and in one variant
// also SIGKILLs a node now and then (restarting it a round later), while
// one-shot proposals go through random nodes. Whatever each proposal is
// answered, after the last heal every acknowledged one is in every node's
// log, the logs agree, and no proposal is there twice.
//
// The seed is printed; CONCLAVE_NEMESIS_SEED=<n> replays its faults (not
// the daemons' timing, so a replay is likely, not certain, to fail alike).
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <thread>

#include "tests/cluster/cluster.h"
#include "tests/cluster/one_shot_proposal.h"

namespace conclave::cluster_test {
namespace {

constexpr int kNodes = 5;
constexpr int kRounds = 10;
constexpr int kProposalsPerRound = 3;

std::uint64_t seed_from_environment() {
  const char* s = std::getenv("CONCLAVE_NEMESIS_SEED");
  if (s != nullptr && *s != '\0') return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// Picks a node id in 1..kNodes.
std::uint64_t any_node(std::mt19937_64& rng) {
  return std::uniform_int_distribution<std::uint64_t>(1, kNodes)(rng);
}

// Heals, then makes one random fault; returns what it did, for the output.
std::string make_random_fault(Cluster& cluster, std::mt19937_64& rng) {
  cluster.heal();
  std::vector<std::uint64_t> ids = cluster.ids();
  std::shuffle(ids.begin(), ids.end(), rng);
  switch (std::uniform_int_distribution<int>(0, 4)(rng)) {
    case 0: return "none";
    case 1: {
      cluster.isolate(ids[0]);
      return "isolate " + std::to_string(ids[0]);
    }
    case 2: {
      cluster.partition({ids[0], ids[1]}, {ids[2], ids[3], ids[4]});
      return "partition " + std::to_string(ids[0]) + "," + std::to_string(ids[1]) + " | rest";
    }
    case 3: {
      // A bridge: ids[2] still reaches both sides, which do not reach each other.
      cluster.partition({ids[0], ids[1]}, {ids[3], ids[4]});
      return "bridge through " + std::to_string(ids[2]);
    }
    default: {
      // One direction only: ids[0] hears ids[1] but cannot answer it, and
      // ids[0]'s messages to a third node arrive late.
      cluster.proxy().set_rule(ids[0], ids[1], LinkRule{.blocked = true});
      const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(10, 150)(rng));
      cluster.proxy().set_rule(ids[0], ids[2], LinkRule{.delay = delay});
      return "cut " + std::to_string(ids[0]) + "->" + std::to_string(ids[1]) + ", slow " + std::to_string(ids[0]) +
             "->" + std::to_string(ids[2]);
    }
  }
}

// Restarts the node `down` (0: none) and, one round in three, SIGKILLs a
// random node; returns the node now down (0: none).
std::uint64_t restart_and_maybe_kill(Cluster& cluster, std::mt19937_64& rng, std::uint64_t down, int round) {
  if (down != 0) cluster.start(down);
  if (std::uniform_int_distribution<int>(0, 2)(rng) != 0) return 0;
  const std::uint64_t victim = any_node(rng);
  std::cerr << "nemesis round " << round << ": kill -9 node " << victim << "\n";
  cluster.kill9(victim);
  cluster.wait_exit(victim);
  return victim;
}

// The parameter: whether the nemesis also crashes nodes (with fsync on,
// since acknowledged entries must then survive SIGKILL).
class Nemesis : public ::testing::TestWithParam<bool> {};

TEST_P(Nemesis, RandomFaultsLoseNoAcknowledgedEntryAndApplyNoneTwice) {
  const bool crashes = GetParam();
  const std::uint64_t seed = seed_from_environment();
  std::cerr << "nemesis seed " << seed << " (CONCLAVE_NEMESIS_SEED=" << seed << " replays the faults)\n";
  SCOPED_TRACE("nemesis seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);

  Cluster cluster(ClusterOptions{.no_fsync = !crashes, .through_proxy = true});
  std::uint64_t down = 0;
  cluster.start_founders(kNodes);
  ASSERT_NE(cluster.wait_for_leader(), 0u);

  std::vector<OneShotProposal> proposals;
  for (int round = 0; round < kRounds; ++round) {
    std::cerr << "nemesis round " << round << ": " << make_random_fault(cluster, rng) << "\n";
    if (crashes) down = restart_and_maybe_kill(cluster, rng, down, round);
    for (int k = 0; k < kProposalsPerRound; ++k) {
      const std::uint64_t via = any_node(rng);
      proposals.push_back(propose_once_async(
          cluster, via, "round " + std::to_string(round) + " #" + std::to_string(k) + " via node " + std::to_string(via)));
    }
    // How long the fault lasts: pacing, not a check.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 1000)(rng)));
  }

  cluster.heal();
  if (down != 0) cluster.start(down);
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  std::vector<Acked> acked;
  for (auto& p : proposals) {
    if (auto a = acknowledgement(p)) acked.push_back(*a);
  }
  ASSERT_TRUE(cluster.propose_through_each(cluster.running_ids(), "healed"));
  std::uint64_t through = cluster.max_acked();
  for (const auto& a : acked) through = std::max(through, a.index);
  ASSERT_TRUE(cluster.wait_for_commit(through));

  cluster.stop_all();
  for (const auto& log : cluster.expect_disk_logs_agree({}, acked)) {
    for (const auto& p : proposals) {
      EXPECT_LE(count_entries_with_data(log, p.data), 1) << log.data_dir << ": \"" << p.data << "\"";
    }
  }
  std::cerr << "nemesis: " << acked.size() << " of " << proposals.size() << " proposals acknowledged\n";
}

INSTANTIATE_TEST_SUITE_P(Cluster, Nemesis, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? "WithCrashes" : "LinksOnly"; });

}  // namespace
}  // namespace conclave::cluster_test
