// conclaved's configuration: every setting with its documented default, read
// from a TOML file (--config) and then overridden key by key from the command
// line. The TOML keys are the long option names with underscores
// (`--tick-ms` is `tick_ms`; `initial_members` is a table { "1" = "host:port" }).
//
// A bad configuration is refused before anything starts: ConfigError names
// the key and says what is wrong with it, so the operator can fix it without
// reading code.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>

namespace conclave::node {

struct NodeConfig {
  // Where the TOML file was read from; empty when none was given.
  std::string config_file;

  // This node's id in the cluster, >= 1. Required.
  std::uint64_t id = 0;
  // Names the cluster; peers of another cluster are refused. Required.
  std::string cluster_id;
  // The node's durable state (log, hard state, snapshots). Required.
  std::string data_dir;
  // Where to listen for peers, "host:port". Defaults to this node's entry in
  // initial_members when that is given; otherwise required.
  std::string peer_listen;
  // What peers dial to reach this node. Defaults to this node's entry in
  // initial_members, else peer_listen (which must then not be a wildcard).
  std::string advertise;
  // The admin socket (conclavectl). Default: <data_dir>/admin.sock.
  std::string admin_socket;
  // The application socket (schema/app.capnp). Default: <data_dir>/app.sock.
  std::string app_socket;
  // Its mode, octal text: owner read-write, group at most read-write, no
  // access for others unless asked ("0666" logs a warning). Default "0660".
  std::string app_socket_mode = "0660";
  // The group that owns it (a name or a number; conclaved must be a member
  // of it). Empty: the sidecar's own group. Set after parsing:
  // app_socket_gid.
  std::string app_socket_group;
  std::optional<std::uint32_t> app_socket_gid;
  std::uint32_t app_socket_mode_bits = 0660;
  // Who may attach to the application socket (checked with SO_PEERCRED).
  // Both empty: the sidecar's own user, its group (or app_socket_group's),
  // and root.
  std::vector<std::uint32_t> app_allowed_uids;
  std::vector<std::uint32_t> app_allowed_gids;

  // How an empty data directory starts; a node with state ignores all three.
  // At most one may be given, and exactly one for an empty data directory:
  //  initial_members  founders of a new cluster (must include this node's id)
  //  solo             a new cluster of one; others join later
  //  join             the peer address of any member of an existing cluster
  std::map<std::uint64_t, std::string> initial_members;
  bool solo = false;
  std::string join;

  // Raft timing: one tick every tick_ms; an election after election_ticks to
  // 2*election_ticks silent ticks; leader heartbeats every heartbeat_ticks.
  std::uint32_t tick_ms = 100;
  std::uint32_t election_ticks = 10;
  std::uint32_t heartbeat_ticks = 1;
  // Ask an attached application for a snapshot, and compact the log behind
  // it, every this many applied entries (0: never). With no application
  // attached the log is not compacted: only the application holds the state.
  std::uint64_t snapshot_entries = 10000;
  // How long an application may take to stream a requested snapshot before
  // the request is abandoned (and made again later, perhaps to another).
  std::uint64_t snapshot_timeout_ms = 600000;
  // An attached application holds the log back from compaction until it has
  // read what it needs. One further than this many entries behind a new
  // snapshot is detached instead, with a reason: it attaches again and
  // joins from the snapshot, and the log is compacted (0: never detach, and
  // the log grows for as long as it lags).
  std::uint64_t application_lag_max = 1000000;

  // Shared secret proving cluster membership to peers. Give it inline or,
  // better (it then stays out of `ps` and shell history), in a file whose
  // first line is the secret. Empty: no authentication (a warning is logged).
  std::string cluster_secret;
  std::string cluster_secret_file;

  // Mutual TLS between peers (sidecar/peer/tls.h): PEM files of the
  // cluster's CA, this node's certificate (a DNS subjectAltName
  // node-<id>.<cluster_id>) and its private key. All three or none.
  // scripts/make-test-certs makes a throwaway set.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Run the peer traffic unencrypted and without certificates (a warning is
  // logged). Required when no tls_* file is given, and refused with them:
  // plaintext must be a choice someone wrote down, never what a forgotten
  // key silently gives.
  bool peer_plaintext = false;

  // Where to serve Prometheus metrics over HTTP (GET /metrics; metrics.h
  // lists them): "ip:port" ("[::1]:port" for IPv6), or a bare port for
  // 127.0.0.1:port. Empty (the default): no metrics endpoint. Off rather
  // than on a fixed port because no one port is free everywhere: several
  // nodes on one machine (a test cluster, the demo) would clash, and a node
  // must not fail to start over an optional endpoint. There is no
  // authentication: keep it on loopback unless the network is trusted.
  std::string metrics_listen;

  // Zero-fill the next log segment ahead of use, so that an fdatasync of
  // the log flushes data only (segmented_log.h, PREALLOCATION). It writes
  // the log twice: conclave-bench with three nodes on one disk, at
  // saturation, commits about 15% more with it off (61k -> 71k/s, median of
  // five pairs), and the same with a single proposer or at half load. On a
  // disk of its own per node, where fdatasync latency rather than bandwidth
  // bounds commits, keep it on.
  bool log_preallocate = true;
  // Test-only: skip every fsync. A crash can then lose acknowledged writes.
  bool no_fsync = false;
  // trace, debug, info, warn or error.
  std::string log_level = "info";
  // Where log lines go (sidecar/node/logging.h): "journal" (journald's
  // native protocol, with the priority and the node id as fields),
  // "console" (stderr), or "auto": the journal when stderr is connected to
  // it (systemd's JOURNAL_STREAM says so), else the console.
  std::string log_target = "auto";
};

class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key, std::string reason)
      : std::runtime_error("configuration key '" + key + "': " + reason), key_(std::move(key)) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

// What the command line asked for besides a configuration.
enum class ParseOutcome { kRun, kExitSuccess };

struct ParsedConfig {
  ParseOutcome outcome = ParseOutcome::kRun;
  NodeConfig config;
  // Set when outcome is kExitSuccess (e.g. --help): print this to stdout.
  std::string message;
};

// Parses argv (and the --config file it names), applies defaults, reads the
// secret file, and validates. Throws ConfigError on anything wrong.
ParsedConfig parse_command_line(int argc, const char* const* argv);

// Loads a TOML document (text, for tests; `origin` names it in errors) into
// `config`, key by key. Throws ConfigError on unknown keys and wrong types.
void apply_toml(NodeConfig& config, const std::string& text, const std::string& origin);

// "1=127.0.0.1:7001,2=127.0.0.1:7002" -> {1: ..., 2: ...}. Throws ConfigError.
std::map<std::uint64_t, std::string> parse_members(const std::string& text);

// Splits "host:port" (an IPv6 host in brackets). Throws ConfigError naming `key`.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
HostPort parse_host_port(const std::string& key, const std::string& value);

// Fills the defaults that depend on other keys, reads cluster_secret_file,
// and checks every key. Throws ConfigError.
void finish_and_validate(NodeConfig& config);

}  // namespace conclave::node
