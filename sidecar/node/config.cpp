// conclaved's configuration: the command line (CLI11) over a TOML file
// (toml++) over the defaults in config.h, then one validation pass that names
// the key at fault.
#include "sidecar/node/config.h"

#include <arpa/inet.h>
#include <grp.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

namespace conclave::node {

namespace {

std::uint64_t parse_u64(const std::string& key, const std::string& text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    throw ConfigError(key, "'" + text + "' is not a non-negative integer");
  }
  return v;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool is_ip_address(const std::string& host) {
  unsigned char address[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), address) == 1 || inet_pton(AF_INET6, host.c_str(), address) == 1;
}

bool is_wildcard(const std::string& host) { return host == "0.0.0.0" || host == "::" || host.empty(); }

// One TOML key: how to read it into the config.
using TomlSetter = std::function<void(NodeConfig&, const toml::node&, const std::string& key)>;

template <typename T>
TomlSetter toml_unsigned(T NodeConfig::*field) {
  return [field](NodeConfig& c, const toml::node& v, const std::string& key) {
    auto i = v.value_exact<std::int64_t>();
    if (!i) throw ConfigError(key, "must be an integer");
    if (*i < 0 || static_cast<std::uint64_t>(*i) > std::numeric_limits<T>::max()) {
      throw ConfigError(key, std::to_string(*i) + " is out of range (0.." +
                                 std::to_string(std::numeric_limits<T>::max()) + ")");
    }
    c.*field = static_cast<T>(*i);
  };
}

TomlSetter toml_string(std::string NodeConfig::*field) {
  return [field](NodeConfig& c, const toml::node& v, const std::string& key) {
    auto s = v.value_exact<std::string>();
    if (!s) throw ConfigError(key, "must be a string");
    c.*field = *s;
  };
}

TomlSetter toml_bool(bool NodeConfig::*field) {
  return [field](NodeConfig& c, const toml::node& v, const std::string& key) {
    auto b = v.value_exact<bool>();
    if (!b) throw ConfigError(key, "must be true or false");
    c.*field = *b;
  };
}

TomlSetter toml_id_list(std::vector<std::uint32_t> NodeConfig::*field) {
  return [field](NodeConfig& c, const toml::node& v, const std::string& key) {
    const toml::array* a = v.as_array();
    if (!a) throw ConfigError(key, "must be an array of numeric ids, e.g. [1000, 1001]");
    (c.*field).clear();
    for (const toml::node& item : *a) {
      auto i = item.value_exact<std::int64_t>();
      if (!i || *i < 0 || *i > std::numeric_limits<std::uint32_t>::max()) {
        throw ConfigError(key, "every element must be a numeric id (0..4294967295)");
      }
      (c.*field).push_back(static_cast<std::uint32_t>(*i));
    }
  };
}

const std::map<std::string, TomlSetter>& toml_keys() {
  static const std::map<std::string, TomlSetter> keys = {
      {"id", toml_unsigned(&NodeConfig::id)},
      {"cluster_id", toml_string(&NodeConfig::cluster_id)},
      {"data_dir", toml_string(&NodeConfig::data_dir)},
      {"peer_listen", toml_string(&NodeConfig::peer_listen)},
      {"advertise", toml_string(&NodeConfig::advertise)},
      {"admin_socket", toml_string(&NodeConfig::admin_socket)},
      {"app_socket", toml_string(&NodeConfig::app_socket)},
      {"app_socket_mode", toml_string(&NodeConfig::app_socket_mode)},
      {"app_socket_group", toml_string(&NodeConfig::app_socket_group)},
      {"app_allowed_uids", toml_id_list(&NodeConfig::app_allowed_uids)},
      {"app_allowed_gids", toml_id_list(&NodeConfig::app_allowed_gids)},
      {"solo", toml_bool(&NodeConfig::solo)},
      {"join", toml_string(&NodeConfig::join)},
      {"tick_ms", toml_unsigned(&NodeConfig::tick_ms)},
      {"election_ticks", toml_unsigned(&NodeConfig::election_ticks)},
      {"heartbeat_ticks", toml_unsigned(&NodeConfig::heartbeat_ticks)},
      {"snapshot_entries", toml_unsigned(&NodeConfig::snapshot_entries)},
      {"snapshot_timeout_ms", toml_unsigned(&NodeConfig::snapshot_timeout_ms)},
      {"application_lag_max", toml_unsigned(&NodeConfig::application_lag_max)},
      {"cluster_secret", toml_string(&NodeConfig::cluster_secret)},
      {"cluster_secret_file", toml_string(&NodeConfig::cluster_secret_file)},
      {"tls_ca_file", toml_string(&NodeConfig::tls_ca_file)},
      {"tls_cert_file", toml_string(&NodeConfig::tls_cert_file)},
      {"tls_key_file", toml_string(&NodeConfig::tls_key_file)},
      {"peer_plaintext", toml_bool(&NodeConfig::peer_plaintext)},
      {"metrics_listen", toml_string(&NodeConfig::metrics_listen)},
      {"log_preallocate", toml_bool(&NodeConfig::log_preallocate)},
      {"no_fsync", toml_bool(&NodeConfig::no_fsync)},
      {"log_level", toml_string(&NodeConfig::log_level)},
      {"log_target", toml_string(&NodeConfig::log_target)},
      {"initial_members",
       [](NodeConfig& c, const toml::node& v, const std::string& key) {
         const toml::table* t = v.as_table();
         if (!t) throw ConfigError(key, "must be a table of id = \"host:port\", e.g. { \"1\" = \"10.0.0.1:7001\" }");
         c.initial_members.clear();
         for (auto&& [id_key, addr] : *t) {
           std::string id_text(id_key.str());
           std::uint64_t id = parse_u64(key, id_text);
           auto a = addr.value_exact<std::string>();
           if (!a) throw ConfigError(key, "the address of member " + id_text + " must be a string \"host:port\"");
           c.initial_members[id] = *a;
         }
       }},
  };
  return keys;
}

// A command-line option that, when given, overrides the TOML file's value.
struct Override {
  CLI::Option* option;
  std::function<void(NodeConfig& dst, const NodeConfig& src)> copy;
};

template <typename T>
CLI::Option* bind_option(CLI::App& app, std::vector<Override>& out, NodeConfig& cli, T NodeConfig::*field,
                         const std::string& name, const std::string& help) {
  CLI::Option* o = app.add_option(name, cli.*field, help);
  out.push_back({o, [field](NodeConfig& dst, const NodeConfig& src) { dst.*field = src.*field; }});
  return o;
}

void bind_flag(CLI::App& app, std::vector<Override>& out, NodeConfig& cli, bool NodeConfig::*field,
               const std::string& name, const std::string& help) {
  CLI::Option* o = app.add_flag(name, cli.*field, help);
  out.push_back({o, [field](NodeConfig& dst, const NodeConfig& src) { dst.*field = src.*field; }});
}

// app_socket_mode: octal text such as "0660". The owner (the sidecar) must
// be able to use it; execute bits mean nothing on a socket and are refused
// as a likely typo.
std::uint32_t parse_socket_mode(const std::string& text) {
  std::uint32_t mode = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), mode, 8);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || mode > 0777) {
    throw ConfigError("app_socket_mode", "'" + text + "' is not an octal mode such as \"0660\"");
  }
  if ((mode & 0600) != 0600 || (mode & 0111) != 0) {
    throw ConfigError("app_socket_mode", "'" + text + "' must give the owner read and write and no one execute "
                                         "(e.g. \"0660\" for the group, \"0600\" for the sidecar's user alone)");
  }
  return mode;
}

// app_socket_group: a group name, or a number; empty means the sidecar's own.
std::optional<std::uint32_t> resolve_group(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::uint32_t gid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), gid);
  if (ec == std::errc{} && end == text.data() + text.size()) return gid;
  std::vector<char> buffer(16384);
  group entry{};
  group* found = nullptr;
  if (::getgrnam_r(text.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    throw ConfigError("app_socket_group", "no group named '" + text + "' on this machine (see getent group)");
  }
  return found->gr_gid;
}

std::string read_text_file(const std::string& key, const std::string& path) {
  // A directory opens like a file but reads as nothing, which would be
  // reported as a file without the expected contents.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError(key, "'" + path + "' is a directory; give the path of a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(key, "cannot read '" + path + "': check that it exists and is readable");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

HostPort parse_host_port(const std::string& key, const std::string& value) {
  std::string host;
  std::string port;
  if (!value.empty() && value.front() == '[') {
    auto close = value.find(']');
    if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      throw ConfigError(key, "'" + value + "' is not [ipv6]:port");
    }
    host = value.substr(1, close - 1);
    port = value.substr(close + 2);
  } else {
    auto colon = value.rfind(':');
    if (colon == std::string::npos) throw ConfigError(key, "'" + value + "' is not host:port");
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
  }
  if (host.empty()) throw ConfigError(key, "'" + value + "' has no host");
  std::uint64_t p = 0;
  try {
    p = parse_u64(key, port);
  } catch (const ConfigError&) {
    throw ConfigError(key, "'" + value + "' has no valid port");
  }
  if (p == 0 || p > 65535) throw ConfigError(key, "port " + port + " in '" + value + "' is not in 1..65535");
  return HostPort{host, static_cast<std::uint16_t>(p)};
}

std::map<std::uint64_t, std::string> parse_members(const std::string& text) {
  const std::string key = "initial_members";
  std::map<std::uint64_t, std::string> members;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos) throw ConfigError(key, "'" + item + "' is not id=host:port");
    std::uint64_t id = parse_u64(key, trim(item.substr(0, eq)));
    if (!members.emplace(id, trim(item.substr(eq + 1))).second) {
      throw ConfigError(key, "member " + std::to_string(id) + " is listed twice");
    }
  }
  if (members.empty()) throw ConfigError(key, "'" + text + "' lists no members; expected id=host:port,...");
  return members;
}

void apply_toml(NodeConfig& config, const std::string& text, const std::string& origin) {
  toml::table table;
  try {
    table = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    throw ConfigError("config", origin + " is not valid TOML (" + std::string(e.description()) + " at " +
                                    where.str() + ")");
  }
  const auto& keys = toml_keys();
  for (auto&& [k, v] : table) {
    std::string key(k.str());
    auto it = keys.find(key);
    if (it == keys.end()) {
      std::string known;
      for (const auto& [name, setter] : keys) known += (known.empty() ? "" : ", ") + name;
      throw ConfigError(key, "unknown key in " + origin + "; known keys: " + known);
    }
    it->second(config, v, key);
  }
}

void finish_and_validate(NodeConfig& c) {
  if (c.id == 0) throw ConfigError("id", "is required and must be >= 1 (0 means 'nobody' in Raft)");
  if (c.cluster_id.empty()) throw ConfigError("cluster_id", "is required: name the cluster, e.g. --cluster-id prod-a");
  if (c.data_dir.empty()) throw ConfigError("data_dir", "is required: where this node keeps its log");

  int modes = (c.initial_members.empty() ? 0 : 1) + (c.solo ? 1 : 0) + (c.join.empty() ? 0 : 1);
  if (modes > 1) {
    throw ConfigError("initial_members", "initial_members, solo and join are exclusive: give one of them "
                                         "(founding member, a cluster of one, or joining an existing cluster)");
  }
  std::string self_member;
  if (!c.initial_members.empty()) {
    for (const auto& [id, addr] : c.initial_members) {
      if (id == 0) throw ConfigError("initial_members", "member ids must be >= 1");
      parse_host_port("initial_members", addr);
    }
    auto self = c.initial_members.find(c.id);
    if (self == c.initial_members.end()) {
      throw ConfigError("initial_members", "does not include this node's id " + std::to_string(c.id) +
                                               "; every founder must be listed, this one too");
    }
    self_member = self->second;
  }
  if (!c.join.empty()) parse_host_port("join", c.join);

  if (c.peer_listen.empty()) {
    if (self_member.empty()) throw ConfigError("peer_listen", "is required: the host:port to listen on for peers");
    c.peer_listen = self_member;
  }
  HostPort listen = parse_host_port("peer_listen", c.peer_listen);
  if (c.advertise.empty()) {
    if (!self_member.empty()) {
      c.advertise = self_member;
    } else if (is_wildcard(listen.host)) {
      throw ConfigError("advertise", "is required when peer_listen (" + c.peer_listen +
                                         ") is a wildcard address: give the host:port peers should dial");
    } else {
      c.advertise = c.peer_listen;
    }
  }
  HostPort advertised = parse_host_port("advertise", c.advertise);
  if (is_wildcard(advertised.host)) {
    throw ConfigError("advertise", "'" + c.advertise + "' is a wildcard; peers need an address they can dial");
  }
  if (!self_member.empty() && self_member != c.advertise) {
    throw ConfigError("advertise", "'" + c.advertise + "' differs from this node's entry in initial_members ('" +
                                       self_member + "'); they must agree, since peers dial the latter");
  }
  if (c.admin_socket.empty()) c.admin_socket = c.data_dir + "/admin.sock";
  if (c.app_socket.empty()) c.app_socket = c.data_dir + "/app.sock";
  if (c.app_socket == c.admin_socket) {
    throw ConfigError("app_socket", "'" + c.app_socket + "' is also the admin socket; give each its own path");
  }
  c.app_socket_mode_bits = parse_socket_mode(c.app_socket_mode);
  c.app_socket_gid = resolve_group(c.app_socket_group);

  if (c.snapshot_timeout_ms < 1) throw ConfigError("snapshot_timeout_ms", "must be >= 1 millisecond");
  if (c.tick_ms < 1 || c.tick_ms > 60000) throw ConfigError("tick_ms", "must be in 1..60000 milliseconds");
  if (c.heartbeat_ticks < 1) throw ConfigError("heartbeat_ticks", "must be >= 1");
  if (c.election_ticks <= c.heartbeat_ticks || c.election_ticks < 2) {
    throw ConfigError("election_ticks", "must be >= 2 and greater than heartbeat_ticks (" +
                                            std::to_string(c.heartbeat_ticks) +
                                            "), or followers time out between heartbeats");
  }
  if (c.election_ticks > 100000) throw ConfigError("election_ticks", "must be at most 100000");

  if (!c.cluster_secret.empty() && !c.cluster_secret_file.empty()) {
    throw ConfigError("cluster_secret", "give cluster_secret or cluster_secret_file, not both");
  }
  if (!c.cluster_secret_file.empty()) {
    std::string text = read_text_file("cluster_secret_file", c.cluster_secret_file);
    c.cluster_secret = trim(text.substr(0, text.find('\n')));
    if (c.cluster_secret.empty()) {
      throw ConfigError("cluster_secret_file", "'" + c.cluster_secret_file + "' holds no secret on its first line");
    }
  }

  const int tls_files = (c.tls_ca_file.empty() ? 0 : 1) + (c.tls_cert_file.empty() ? 0 : 1) +
                        (c.tls_key_file.empty() ? 0 : 1);
  if (tls_files != 0 && tls_files != 3) {
    const char* missing = c.tls_ca_file.empty() ? "tls_ca_file" : c.tls_cert_file.empty() ? "tls_cert_file" : "tls_key_file";
    throw ConfigError(missing, "is missing: peer TLS needs all three of tls_ca_file, tls_cert_file and "
                               "tls_key_file");
  }
  if (tls_files == 3 && c.peer_plaintext) {
    throw ConfigError("peer_plaintext", "is set, but so are the tls_* files: choose one (remove peer_plaintext "
                                        "to use TLS)");
  }
  if (tls_files == 3) {
    // The PEM markers only; OpenSSL parses the files when the transport starts.
    const std::pair<const char*, const std::string*> certs[] = {{"tls_ca_file", &c.tls_ca_file},
                                                                {"tls_cert_file", &c.tls_cert_file}};
    for (const auto& [key, path] : certs) {
      if (read_text_file(key, *path).find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        throw ConfigError(key, "'" + *path + "' holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
      }
    }
    const std::string key_text = read_text_file("tls_key_file", c.tls_key_file);
    if (key_text.find("-----BEGIN") == std::string::npos || key_text.find("PRIVATE KEY-----") == std::string::npos) {
      throw ConfigError("tls_key_file", "'" + c.tls_key_file + "' holds no PEM private key");
    }
  }

  if (!c.metrics_listen.empty()) {
    const bool bare_port = c.metrics_listen.find_first_not_of("0123456789") == std::string::npos;
    if (bare_port) c.metrics_listen = "127.0.0.1:" + c.metrics_listen;
    const HostPort metrics = parse_host_port("metrics_listen", c.metrics_listen);
    if (!is_ip_address(metrics.host)) {
      throw ConfigError("metrics_listen", "'" + metrics.host + "' is not an IP address; give one, e.g. "
                                          "127.0.0.1:9464 or [::1]:9464 (host names are not resolved)");
    }
  }

  static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error"};
  if (levels.count(c.log_level) == 0) {
    throw ConfigError("log_level", "'" + c.log_level + "' is not one of trace, debug, info, warn, error");
  }
  if (c.log_target != "auto" && c.log_target != "journal" && c.log_target != "console") {
    throw ConfigError("log_target", "'" + c.log_target + "' is not one of auto, journal, console");
  }

  // Last, so that a configuration with other mistakes hears of those first.
  if (tls_files == 0 && !c.peer_plaintext) {
    throw ConfigError("peer_plaintext",
                      "no peer TLS is configured: give tls_ca_file, tls_cert_file and tls_key_file (each node's "
                      "certificate signed by the cluster's CA; scripts/make-test-certs makes a throwaway set for "
                      "tests), or set peer_plaintext = true (--peer-plaintext) to run the peer traffic "
                      "unencrypted on a network you trust");
  }
}

ParsedConfig parse_command_line(int argc, const char* const* argv) {
  CLI::App app{"conclaved: the Conclave consensus sidecar. Options override the keys of the --config file."};
  NodeConfig cli;
  std::vector<Override> overrides;
  std::string members_text;
  app.add_option("--config", cli.config_file, "TOML file; its keys are these option names with underscores");
  bind_option(app, overrides, cli, &NodeConfig::id, "--id", "this node's id (>= 1)");
  bind_option(app, overrides, cli, &NodeConfig::cluster_id, "--cluster-id", "the cluster's name");
  bind_option(app, overrides, cli, &NodeConfig::data_dir, "--data-dir", "directory for the log, hard state, snapshots");
  bind_option(app, overrides, cli, &NodeConfig::peer_listen, "--peer-listen", "host:port to listen on for peers");
  bind_option(app, overrides, cli, &NodeConfig::advertise, "--advertise", "host:port peers dial to reach this node");
  bind_option(app, overrides, cli, &NodeConfig::admin_socket, "--admin-socket", "admin UNIX socket (<data-dir>/admin.sock)");
  bind_option(app, overrides, cli, &NodeConfig::app_socket, "--app-socket",
              "application UNIX socket (<data-dir>/app.sock)");
  bind_option(app, overrides, cli, &NodeConfig::app_socket_mode, "--app-socket-mode",
              "the application socket's mode, octal (0660)");
  bind_option(app, overrides, cli, &NodeConfig::app_socket_group, "--app-socket-group",
              "the group owning the application socket, a name or gid (default: the sidecar's own group)");
  bind_option(app, overrides, cli, &NodeConfig::app_allowed_uids, "--app-allowed-uids",
              "uids that may attach (default: this user, its group, root)")->delimiter(',');
  bind_option(app, overrides, cli, &NodeConfig::app_allowed_gids, "--app-allowed-gids", "gids that may attach")
      ->delimiter(',');
  CLI::Option* members_opt = app.add_option("--initial-members", members_text,
                                            "founders of a new cluster: \"1=host:port,2=host:port,...\"");
  bind_flag(app, overrides, cli, &NodeConfig::solo, "--solo", "found a new cluster of one");
  bind_option(app, overrides, cli, &NodeConfig::join, "--join", "host:port of any member of the cluster to join");
  bind_option(app, overrides, cli, &NodeConfig::tick_ms, "--tick-ms", "milliseconds per Raft tick (100)");
  bind_option(app, overrides, cli, &NodeConfig::election_ticks, "--election-ticks", "election timeout in ticks (10)");
  bind_option(app, overrides, cli, &NodeConfig::heartbeat_ticks, "--heartbeat-ticks", "heartbeat interval in ticks (1)");
  bind_option(app, overrides, cli, &NodeConfig::snapshot_entries, "--snapshot-entries",
       "snapshot and compact every N applied entries (10000; 0 never)");
  bind_option(app, overrides, cli, &NodeConfig::snapshot_timeout_ms, "--snapshot-timeout-ms",
              "how long an application may take to stream a snapshot (600000)");
  bind_option(app, overrides, cli, &NodeConfig::application_lag_max, "--application-lag-max",
              "entries an application may lag behind a new snapshot before it is detached to join from it "
              "(1000000; 0 never)");
  bind_option(app, overrides, cli, &NodeConfig::cluster_secret, "--cluster-secret", "shared secret for peer handshakes");
  bind_option(app, overrides, cli, &NodeConfig::cluster_secret_file, "--cluster-secret-file", "file holding the secret");
  bind_option(app, overrides, cli, &NodeConfig::tls_ca_file, "--tls-ca-file", "peer TLS: the cluster CA's certificate (PEM)");
  bind_option(app, overrides, cli, &NodeConfig::tls_cert_file, "--tls-cert-file",
              "peer TLS: this node's certificate, naming node-<id>.<cluster-id> (PEM)");
  bind_option(app, overrides, cli, &NodeConfig::tls_key_file, "--tls-key-file", "peer TLS: this node's private key (PEM)");
  bind_flag(app, overrides, cli, &NodeConfig::peer_plaintext, "--peer-plaintext",
            "peers speak without TLS (required when no --tls-* file is given; logs a warning)");
  bind_option(app, overrides, cli, &NodeConfig::metrics_listen, "--metrics-listen",
              "serve Prometheus /metrics on ip:port, or on 127.0.0.1:PORT given a bare port (default: off)");
  bind_option(app, overrides, cli, &NodeConfig::log_preallocate, "--log-preallocate",
              "zero-fill the next log segment ahead of use: true or false (true)");
  bind_flag(app, overrides, cli, &NodeConfig::no_fsync, "--no-fsync", "TEST ONLY: never fsync (loses data on crash)");
  bind_option(app, overrides, cli, &NodeConfig::log_level, "--log-level", "trace, debug, info, warn or error (info)");
  bind_option(app, overrides, cli, &NodeConfig::log_target, "--log-target",
              "auto (the journal when systemd connects stderr to it), journal or console (auto)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return ParsedConfig{ParseOutcome::kExitSuccess, {}, app.help()};
  } catch (const CLI::ParseError& e) {
    throw ConfigError("command line", std::string(e.what()) + " (see --help)");
  }

  NodeConfig config;
  if (!cli.config_file.empty()) {
    config.config_file = cli.config_file;
    apply_toml(config, read_text_file("config", cli.config_file), cli.config_file);
  }
  for (const Override& o : overrides) {
    if (o.option->count() > 0) o.copy(config, cli);
  }
  if (members_opt->count() > 0) config.initial_members = parse_members(members_text);
  // A choice made on the command line replaces the file's choice of the same
  // kind rather than clashing with it.
  if (auto* o = app.get_option("--cluster-secret"); o->count() > 0) config.cluster_secret_file.clear();
  if (auto* o = app.get_option("--cluster-secret-file"); o->count() > 0) config.cluster_secret.clear();
  bool cli_mode = members_opt->count() > 0 || app.get_option("--solo")->count() > 0 ||
                  app.get_option("--join")->count() > 0;
  if (cli_mode) {
    if (members_opt->count() == 0) config.initial_members.clear();
    if (app.get_option("--solo")->count() == 0) config.solo = false;
    if (app.get_option("--join")->count() == 0) config.join.clear();
  }
  finish_and_validate(config);
  return ParsedConfig{ParseOutcome::kRun, std::move(config), {}};
}

}  // namespace conclave::node
