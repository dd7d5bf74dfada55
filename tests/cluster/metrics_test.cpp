// /metrics on real conclaved processes: a solo node serving metrics, then a
// second node joining it, each with its own --metrics-listen port. Scrapes
// over HTTP before and after proposals and checks that the figures move
// (commit index, proposals committed, fsync histogram count) and that the
// leader and the follower each describe the cluster as it is.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "tests/cluster/cluster.h"
#include "tests/cluster/example_apps.h"

namespace conclave::cluster_test {
namespace {

// One scrape: each sample line's series ("name{labels}") and its value.
struct Scrape {
  std::string text;
  std::map<std::string, double> samples;

  bool has(const std::string& series) const { return samples.count(series) != 0; }
  double at(const std::string& series) const {
    auto it = samples.find(series);
    EXPECT_NE(it, samples.end()) << "no sample " << series << " in:\n" << text;
    return it == samples.end() ? -1 : it->second;
  }
};

Scrape scrape(std::uint16_t port) {
  HttpResult r = http_request(port, "GET", "/metrics");
  EXPECT_EQ(r.status, 200) << r.body;
  Scrape s{r.body, {}};
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    s.samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return s;
}

std::vector<std::string> metrics_args(std::uint16_t port) {
  return {"--metrics-listen", "127.0.0.1:" + std::to_string(port)};
}

TEST(Metrics, ScrapedFiguresMoveAsEntriesCommit) {
  Cluster cluster;
  const std::uint64_t first = cluster.add_node();
  const std::uint16_t first_port = free_port();
  cluster.start(first, StartMode::kSolo, 0, metrics_args(first_port));
  ASSERT_EQ(cluster.wait_for_leader({first}), first);
  ASSERT_TRUE(cluster.propose(first, "before the join").has_value());

  const Scrape before = scrape(first_port);
  EXPECT_NE(before.text.find("# HELP conclave_commit_index "), std::string::npos) << before.text;
  EXPECT_NE(before.text.find("# TYPE conclave_fsync_duration_seconds histogram\n"), std::string::npos);
  EXPECT_EQ(before.at("conclave_role{role=\"leader\"}"), 1);
  EXPECT_EQ(before.at("conclave_role{role=\"follower\"}"), 0);
  EXPECT_EQ(before.at("conclave_leader_id"), static_cast<double>(first));
  EXPECT_GE(before.at("conclave_leader_changes_total"), 1);
  EXPECT_GE(before.at("conclave_proposals_committed_total"), 1);
  EXPECT_GE(before.at("conclave_term"), 1);

  const std::uint64_t second = cluster.add_node();
  const std::uint16_t second_port = free_port();
  cluster.start(second, StartMode::kJoin, first, metrics_args(second_port));
  ASSERT_EQ(cluster.wait_for_leader({first, second}), first);

  constexpr int kProposals = 5;
  for (int i = 0; i < kProposals; ++i) {
    ASSERT_TRUE(cluster.propose(first, "entry " + std::to_string(i)).has_value());
  }
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), {first, second}));

  const Scrape after = scrape(first_port);
  EXPECT_GE(after.at("conclave_commit_index"), before.at("conclave_commit_index") + kProposals);
  EXPECT_GE(after.at("conclave_last_index"), after.at("conclave_commit_index"));
  EXPECT_GE(after.at("conclave_applied_index"), before.at("conclave_applied_index") + kProposals);
  EXPECT_GE(after.at("conclave_proposals_committed_total"),
            before.at("conclave_proposals_committed_total") + kProposals);
  EXPECT_GT(after.at("conclave_fsync_duration_seconds_count"), before.at("conclave_fsync_duration_seconds_count"));
  EXPECT_EQ(after.at("conclave_fsync_duration_seconds_bucket{le=\"+Inf\"}"),
            after.at("conclave_fsync_duration_seconds_count"));
  // The leader sees the new peer: its lag, and traffic both ways.
  const std::string peer = "{peer=\"" + std::to_string(second) + "\"}";
  EXPECT_TRUE(after.has("conclave_peer_replication_lag_entries" + peer)) << after.text;
  EXPECT_GT(after.at("conclave_peer_sent_bytes_total" + peer), 0);
  EXPECT_GT(after.at("conclave_peer_received_bytes_total" + peer), 0);
  EXPECT_TRUE(after.has("conclave_peer_last_heard_seconds" + peer)) << after.text;
  EXPECT_EQ(after.at("conclave_applications"), 0);

  // The follower names the leader, hears from it, and has no lag to report.
  const Scrape follower = scrape(second_port);
  EXPECT_EQ(follower.at("conclave_role{role=\"follower\"}"), 1);
  EXPECT_EQ(follower.at("conclave_leader_id"), static_cast<double>(first));
  EXPECT_GE(follower.at("conclave_commit_index"), static_cast<double>(cluster.max_acked()));
  EXPECT_TRUE(follower.has("conclave_peer_last_heard_seconds{peer=\"" + std::to_string(first) + "\"}"))
      << follower.text;
  EXPECT_EQ(follower.text.find("conclave_peer_replication_lag_entries{"), std::string::npos) << follower.text;

  EXPECT_EQ(http_request(first_port, "GET", "/").status, 404);
}

}  // namespace
}  // namespace conclave::cluster_test
