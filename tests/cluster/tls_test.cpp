// Peer TLS across real processes: a cluster whose every connection is
// mutual TLS (certificates from scripts/make-test-certs, made with the
// openssl command into the test's temp directory) forms by joins, each node
// presenting its own certificate, and commits entries proposed through
// every node. Skipped, saying why, without the openssl command.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/cluster/cluster.h"

namespace conclave::cluster_test {
namespace {

// The repository's root, as the build configured it.
std::filesystem::path source_root() { return CONCLAVE_SOURCE_DIR; }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Polls the leader until exactly `ids` are voters; false at the deadline.
bool wait_for_voters(Cluster& cluster, const std::set<std::uint64_t>& ids) {
  const auto until = std::chrono::steady_clock::now() + kCommitDeadline;
  while (std::chrono::steady_clock::now() < until) {
    const std::uint64_t leader = cluster.wait_for_leader();
    if (leader == 0) return false;
    if (auto s = cluster.status(leader)) {
      std::set<std::uint64_t> voters;
      for (const auto& m : s->members) {
        if (m.voter) voters.insert(m.id);
      }
      if (voters == ids) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "the voters did not become the expected set";
  return false;
}

TEST(PeerTls, AThreeNodeClusterOverMutualTlsCommitsEntries) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "the openssl command is missing (apt-get install openssl); peer TLS test skipped";
  }
  ClusterOptions options;
  Cluster cluster(options);
  const std::string certs = cluster.temp_dir() + "/certs";
  const std::string make = (source_root() / "scripts/make-test-certs").string() + " '" + certs + "' " +
                           options.cluster_id + " 1 2 3 >/dev/null";
  ASSERT_EQ(std::system(make.c_str()), 0) << make;
  auto tls_args = [&](std::uint64_t id) {
    const std::string node = certs + "/node-" + std::to_string(id);
    return std::vector<std::string>{"--tls-ca-file", certs + "/ca.pem", "--tls-cert-file", node + ".pem",
                                    "--tls-key-file", node + ".key"};
  };

  const std::uint64_t first = cluster.add_node();
  cluster.start(first, StartMode::kSolo, 0, tls_args(first));
  ASSERT_EQ(cluster.wait_for_leader({first}), first);
  const std::uint64_t second = cluster.add_node();
  cluster.start(second, StartMode::kJoin, first, tls_args(second));
  ASSERT_TRUE(wait_for_voters(cluster, {first, second}));
  const std::uint64_t third = cluster.add_node();
  cluster.start(third, StartMode::kJoin, second, tls_args(third));
  ASSERT_TRUE(wait_for_voters(cluster, {first, second, third}));

  ASSERT_TRUE(cluster.propose_through_each({first, second, third}, "over TLS"));
  ASSERT_TRUE(cluster.wait_for_commit(cluster.max_acked(), {first, second, third}));

  for (auto id : {first, second, third}) {
    const std::string log = read_file(cluster.log_path(id));
    EXPECT_NE(log.find("mutual TLS"), std::string::npos) << "node " << id << " log:\n" << log;
    EXPECT_EQ(log.find("peer TLS is off"), std::string::npos) << "node " << id << " log:\n" << log;
    EXPECT_EQ(log.find("TLS handshake failed"), std::string::npos) << "node " << id << " log:\n" << log;
  }
  cluster.stop_all();
  cluster.expect_disk_logs_agree();
}

}  // namespace
}  // namespace conclave::cluster_test
