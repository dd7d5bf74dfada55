// conclavectl: the administration CLI of a Conclave sidecar. Online commands
// talk to a running conclaved over its admin socket (schema/admin.capnp);
// `log` reads a stopped node's data directory offline.
//
// Exit codes: 0 ok, 1 the command failed (the message says what to do),
// 2 the command line was wrong. With --json, stdout gets exactly one JSON
// object in every case, "ok" saying which.
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "tools/conclavectl/admin_commands.h"
#include "tools/conclavectl/json_writer.h"
#include "tools/conclavectl/log_dump.h"
#include "tools/conclavectl/recover.h"

namespace {

constexpr int kUsage = 2;

// Whether --json is anywhere on the command line: known even when the rest
// of it does not parse, so that a usage error too reaches a script as the
// one JSON object --json promises.
bool json_asked(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--json") return true;
  }
  return false;
}

// A usage error: the message on stderr and, with --json, as an object on
// stdout. Returns the exit code.
int usage_error(bool json, const std::string& message) {
  if (json) {
    conclave::ctl::JsonWriter j;
    j.begin_object().field("ok", false).field("error", "usage").field("reason", message).end_object();
    std::cout << j.str() << '\n';
  }
  std::cerr << "conclavectl: " << message << '\n';
  return kUsage;
}

// Node ids start at 1 (0 means "nobody" in the protocol).
const CLI::Validator kNodeId(
    [](std::string& text) -> std::string {
      return text.find_first_not_of("0123456789") == std::string::npos && text.find_first_not_of('0') != std::string::npos
                 ? std::string()
                 : "a node id is a whole number from 1 up, not '" + text + "'";
    },
    "ID");

const char* kDescription =
    "conclavectl: administer a Conclave sidecar.\n"
    "Online commands need --socket, the sidecar's admin socket (conclaved --admin-socket; by default\n"
    "<data-dir>/admin.sock). Membership changes and transfer-leader must reach the leader: list the\n"
    "nodes' sockets with --node-socket ID=PATH and conclavectl follows a follower's leader hint there.\n"
    "`log` reads a stopped node's data directory instead.";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "conclavectl"};
  app.require_subcommand(1, 1);
  // Global options are also accepted after the command (conclavectl status --json).
  app.fallthrough();

  std::string socket_path;
  bool json = false;
  int timeout_ms = 5000;
  app.add_option("--socket", socket_path, "the sidecar's admin socket")->envname("CONCLAVE_ADMIN_SOCKET");
  // Checked while parsing, so a bad entry is a usage error (exit 2) like
  // any other.
  conclave::ctl::NodeSockets node_sockets;
  app.add_option_function<std::vector<std::string>>(
         "--node-socket",
         [&node_sockets](const std::vector<std::string>& given) {
           for (const auto& entries : given) {
             if (auto wrong = conclave::ctl::add_node_sockets(entries, node_sockets); !wrong.empty()) {
               throw CLI::ValidationError(wrong);
             }
           }
         },
         "ID=PATH: node ID's admin socket (repeat, or separate with commas); a request a follower refuses as "
         "notLeader is sent again to the leader's socket if listed")
      ->allow_extra_args(false)
      ->envname("CONCLAVE_NODE_SOCKETS");
  app.add_flag("--json", json, "print one JSON object instead of text");
  app.add_option("--timeout-ms", timeout_ms, "how long to wait for the sidecar's answer (default 5000)")
      ->check(CLI::PositiveNumber);

  auto* status = app.add_subcommand("status", "role, term, leader, commit and applied index, members");
  bool cluster = false;
  status->add_flag("--cluster", cluster,
                   "the whole cluster as its leader sees it: each member's match index, lag, when it was last "
                   "heard from, and whether a snapshot is on its way to it (the node asks its leader)");

  std::string data;
  auto* propose = app.add_subcommand("propose", "propose an entry and wait until it commits");
  propose->add_option("DATA", data, "the entry's bytes (as given)")->required();

  auto* members = app.add_subcommand("members", "list or change the membership (changes go to the leader)");
  members->require_subcommand(0, 1);
  auto* members_list = members->add_subcommand("list", "list the members (the default)");
  std::uint64_t add_id = 0;
  std::string add_address;
  auto* members_add = members->add_subcommand("add", "add a node as a learner");
  members_add->add_option("ID", add_id, "the new node's id")->required()->check(kNodeId);
  members_add->add_option("ADDR", add_address, "its peer address, HOST:PORT")->required();
  std::uint64_t promote_id = 0;
  auto* members_promote = members->add_subcommand("promote", "make a caught-up learner a voter");
  members_promote->add_option("ID", promote_id, "the learner's id")->required()->check(kNodeId);
  std::uint64_t remove_id = 0;
  auto* members_remove = members->add_subcommand("remove", "remove a node (voter or learner)");
  members_remove->add_option("ID", remove_id, "the node's id")->required()->check(kNodeId);

  std::uint64_t transfer_id = 0;
  auto* transfer = app.add_subcommand("transfer-leader", "hand leadership to another voter");
  transfer->add_option("ID", transfer_id, "the voter to lead")->required()->check(kNodeId);

  auto* snapshot = app.add_subcommand(
      "snapshot", "take a snapshot on this node now (from its application) and compact its log behind it");

  conclave::ctl::LogDumpOptions log_options;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  auto* log = app.add_subcommand("log", "print a stopped node's hard state, snapshots and log entries");
  log->add_option("--data-dir", log_options.data_dir, "the node's data directory")->required();
  auto* from_option = log->add_option("--from", from, "first index to print");
  auto* to_option = log->add_option("--to", to, "last index to print");

  conclave::ctl::RecoverOptions recover_options;
  auto* recover = app.add_subcommand(
      "recover", "after losing a majority for good: make this stopped node the only voter (see --help)");
  recover->footer(
      "Run on one stopped survivor, the voter with the longest log. It appends a configuration in which this "
      "node is the only voter; started, the node elects itself and commits again. Entries only the lost nodes "
      "held are lost; entries this node holds that never committed become committed. Wipe the lost nodes' data "
      "before they ever start again and add them back as new members. Without --yes it only says what it would "
      "do.");
  recover->add_option("--data-dir", recover_options.data_dir, "the stopped node's data directory")->required();
  recover->add_option("--id", recover_options.node_id, "the node's id")->required()->check(kNodeId);
  recover->add_flag("--yes", recover_options.confirmed, "do it (otherwise only print the plan)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return usage_error(json_asked(argc, argv), std::string(e.what()) + " (see conclavectl --help)");
  }

  if (recover->parsed()) {
    recover_options.json = json;
    return conclave::ctl::run_recover(recover_options);
  }
  if (log->parsed()) {
    if (*from_option) log_options.from = from;
    if (*to_option) log_options.to = to;
    log_options.json = json;
    return conclave::ctl::run_log(log_options);
  }

  if (socket_path.empty()) {
    return usage_error(json, "--socket PATH is required for this command: give the sidecar's admin socket "
                             "(conclaved --admin-socket; by default <data-dir>/admin.sock), or set "
                             "CONCLAVE_ADMIN_SOCKET");
  }
  conclave::ctl::OnlineOptions online{socket_path, json, std::chrono::milliseconds(timeout_ms), node_sockets};
  namespace admin = conclave::admin;
  if (status->parsed()) return cluster ? conclave::ctl::run_cluster_status(online) : conclave::ctl::run_status(online);
  if (propose->parsed()) return conclave::ctl::run_propose(online, data);
  if (snapshot->parsed()) return conclave::ctl::run_indexed(online, admin::SnapshotRequest{}, "snapshot stored");
  if (transfer->parsed()) {
    return conclave::ctl::run_simple(online, admin::TransferLeaderRequest{transfer_id},
                                     "leadership transfer to node " + std::to_string(transfer_id) +
                                         " accepted: conclavectl status shows the leader");
  }
  if (members->parsed()) {
    if (members_add->parsed()) {
      return conclave::ctl::run_simple(online, admin::AddLearnerRequest{add_id, add_address},
                                       "node " + std::to_string(add_id) + " added as a learner at " + add_address);
    }
    if (members_promote->parsed()) {
      return conclave::ctl::run_simple(online, admin::PromoteRequest{promote_id},
                                       "node " + std::to_string(promote_id) + " promoted to voter");
    }
    if (members_remove->parsed()) {
      return conclave::ctl::run_simple(online, admin::RemoveRequest{remove_id},
                                       "node " + std::to_string(remove_id) + " removed");
    }
    (void)members_list;
    return conclave::ctl::run_members_list(online);
  }
  return usage_error(json, "no command given: see conclavectl --help");
}
