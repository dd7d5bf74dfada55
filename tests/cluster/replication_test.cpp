// Replication across real processes: 3 and 5 nodes elect a leader; entries
// proposed through every node (the leader and followers, whose sidecars
// forward to the leader) commit on all; after a stop, the logs on disk agree
// on everything acknowledged, both through the storage library and as
// `conclavectl log` prints them.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/cluster/cluster.h"

namespace conclave::cluster_test {
namespace {

// The entry lines of `conclavectl log` (everything after the column
// header), which must be identical on every node for the committed prefix.
std::string entry_lines(const std::string& dump) {
  auto header = dump.find("INDEX  TERM  TYPE");
  if (header == std::string::npos) return "(no entries header in: " + dump + ")";
  auto body = dump.find('\n', header);
  return body == std::string::npos ? std::string() : dump.substr(body + 1);
}

class Replication : public ::testing::TestWithParam<int> {};

TEST_P(Replication, EntriesProposedOnAnyNodeCommitOnAllAndLogsAgreeOnDisk) {
  const int n = GetParam();
  Cluster cluster;
  cluster.start_founders(n);
  const std::uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);

  // Every node takes proposals, so followers forward.
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    for (auto id : cluster.ids()) {
      auto acked = cluster.propose(id, "round " + std::to_string(round) + " via node " + std::to_string(id));
      ASSERT_TRUE(acked.has_value());
    }
  }
  ASSERT_EQ(cluster.acked().size(), static_cast<std::size_t>(kRounds * n));
  const std::uint64_t through = cluster.max_acked();
  ASSERT_TRUE(cluster.wait_for_commit(through));

  cluster.stop_all();
  cluster.expect_disk_logs_agree();

  // The same comparison through the operator's tool.
  std::string first;
  for (auto id : cluster.ids()) {
    auto dump = run_command({conclavectl_path(), "log", "--data-dir", cluster.data_dir(id), "--to",
                             std::to_string(through)});
    ASSERT_EQ(dump.exit_code, 0) << "conclavectl log --data-dir " << cluster.data_dir(id) << ":\n" << dump.output;
    std::string lines = entry_lines(dump.output);
    EXPECT_NE(lines.find("via node"), std::string::npos) << dump.output;
    if (first.empty()) {
      first = lines;
    } else {
      EXPECT_EQ(lines, first) << "conclavectl log of node " << id << " differs from node 1's";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cluster, Replication, ::testing::Values(3, 5),
                         [](const auto& param_info) { return std::to_string(param_info.param) + "Nodes"; });

}  // namespace
}  // namespace conclave::cluster_test
