// conclavectl --json, command by command: every command, whether it
// succeeds, is refused by the sidecar, or is mistyped, prints exactly one
// JSON object on stdout with "ok" saying which, so a script never has to
// parse prose. Against a live single-node cluster, plus usage errors.
#include <gtest/gtest.h>

#include "tests/cluster/cluster.h"

namespace conclave::cluster_test {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// One line holding one object: starts with '{', ends with "}\n", and no
// other line.
bool one_json_object(const std::string& out) {
  return out.size() >= 3 && out.front() == '{' && out.ends_with("}\n") && out.find('\n') == out.size() - 1;
}

CommandResult ctl_json(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {conclavectl_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--json");
  return run_command(argv, /*with_stderr=*/false);
}

TEST(ConclavectlJson, EveryCommandPrintsOneObject) {
  Cluster cluster;
  const std::uint64_t id = cluster.add_node();
  cluster.start(id, StartMode::kSolo);
  ASSERT_EQ(cluster.wait_for_leader(), id);
  const std::string socket = cluster.admin_socket(id);

  struct Case {
    std::vector<std::string> args;
    bool ok;
  };
  const std::vector<Case> cases = {
      {{"--socket", socket, "status"}, true},
      {{"--socket", socket, "status", "--cluster"}, true},
      {{"--socket", socket, "members"}, true},
      {{"--socket", socket, "members", "list"}, true},
      {{"--socket", socket, "propose", "scripted"}, true},
      {{"--socket", socket, "transfer-leader", std::to_string(id)}, true},
      // Refused by the sidecar: no application to snapshot, no such member.
      {{"--socket", socket, "snapshot"}, false},
      {{"--socket", socket, "members", "promote", "9"}, false},
      {{"--socket", socket, "members", "remove", "9"}, false},
      {{"log", "--data-dir", cluster.data_dir(id), "--from", "1", "--to", "1"}, true},
      {{"log", "--data-dir", cluster.temp_dir() + "/no-such-dir"}, false},
      {{"--socket", cluster.temp_dir() + "/no-such.sock", "status"}, false},
  };
  for (const Case& c : cases) {
    std::string command;
    for (const auto& a : c.args) command += a + " ";
    SCOPED_TRACE(command);
    const CommandResult r = ctl_json(c.args);
    EXPECT_EQ(r.exit_code, c.ok ? 0 : 1) << r.output;
    EXPECT_TRUE(one_json_object(r.output)) << r.output;
    EXPECT_TRUE(contains(r.output, c.ok ? "{\"ok\":true" : "{\"ok\":false,\"error\":")) << r.output;
  }
}

TEST(ConclavectlJson, UsageErrorsAreObjectsToo) {
  const std::vector<std::vector<std::string>> mistakes = {
      {"--socket", "/nonexistent.sock", "members", "add", "5"},  // no ADDR
      {"--socket", "/nonexistent.sock", "transfer-leader", "0"},  // not a node id
      {"status"},                                                 // no --socket
      {"log"},                                                    // no --data-dir
      {"no-such-command"},
      {},  // no command at all
  };
  for (const auto& args : mistakes) {
    std::string command;
    for (const auto& a : args) command += a + " ";
    SCOPED_TRACE(command);
    const CommandResult r = ctl_json(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(one_json_object(r.output)) << r.output;
    EXPECT_TRUE(contains(r.output, "{\"ok\":false,\"error\":\"usage\",\"reason\":")) << r.output;
  }
  // Without --json the same mistake is prose on stderr, nothing on stdout.
  std::vector<std::string> argv = {conclavectl_path(), "status"};
  const CommandResult plain = run_command(argv, false);
  EXPECT_EQ(plain.exit_code, 2);
  EXPECT_EQ(plain.output, "");
  const CommandResult with_stderr = run_command(argv, true);
  EXPECT_TRUE(contains(with_stderr.output, "--socket PATH is required")) << with_stderr.output;
}

}  // namespace
}  // namespace conclave::cluster_test
