// Tests of conclaved's configuration: defaults, TOML file, command-line
// overrides, and refusals that name the key at fault.
#include "sidecar/node/config.h"

#include <grp.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace conclave::node {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info != nullptr ? info->name() : "unknown";
    dir_ = std::filesystem::temp_directory_path() /
           ("conclave-config-test-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  static ParsedConfig parse(std::vector<std::string> args) {
    std::vector<const char*> argv{"conclaved"};
    for (const auto& a : args) argv.push_back(a.c_str());
    return parse_command_line(static_cast<int>(argv.size()), argv.data());
  }

  // The key a refused configuration names.
  static std::string refused_key(std::vector<std::string> args) {
    try {
      parse(std::move(args));
    } catch (const ConfigError& e) {
      return e.key();
    }
    return "<accepted>";
  }

  std::filesystem::path dir_;
};

const std::string kMembers = "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003";

TEST_F(ConfigTest, CommandLineWithDefaults) {
  auto parsed = parse({"--id", "2", "--cluster-id", "c", "--data-dir", "/tmp/d2", "--initial-members", kMembers,
                       "--peer-plaintext"});
  ASSERT_EQ(parsed.outcome, ParseOutcome::kRun);
  const NodeConfig& c = parsed.config;
  EXPECT_EQ(c.id, 2u);
  EXPECT_EQ(c.initial_members.size(), 3u);
  EXPECT_EQ(c.initial_members.at(3), "127.0.0.1:7003");
  // The listen and advertised addresses default to this node's member entry.
  EXPECT_EQ(c.peer_listen, "127.0.0.1:7002");
  EXPECT_EQ(c.advertise, "127.0.0.1:7002");
  EXPECT_EQ(c.admin_socket, "/tmp/d2/admin.sock");
  EXPECT_EQ(c.tick_ms, 100u);
  EXPECT_EQ(c.election_ticks, 10u);
  EXPECT_EQ(c.heartbeat_ticks, 1u);
  EXPECT_FALSE(c.no_fsync);
  EXPECT_TRUE(c.log_preallocate);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_target, "auto");
}

TEST_F(ConfigTest, TomlFileWithCommandLineOverrides) {
  auto path = write("node.toml", R"(
id = 1
cluster_id = "prod"
data_dir = "/var/lib/conclave"
tick_ms = 50
election_ticks = 20
snapshot_entries = 500
application_lag_max = 42
log_level = "debug"
log_target = "console"
peer_plaintext = true
log_preallocate = false
[initial_members]
"1" = "10.0.0.1:7001"
"2" = "10.0.0.2:7001"
)");
  auto parsed = parse({"--config", path, "--tick-ms", "25", "--admin-socket", "/run/c.sock"});
  const NodeConfig& c = parsed.config;
  EXPECT_EQ(c.config_file, path);
  EXPECT_EQ(c.cluster_id, "prod");
  EXPECT_EQ(c.tick_ms, 25u);  // the command line wins
  EXPECT_EQ(c.election_ticks, 20u);
  EXPECT_EQ(c.snapshot_entries, 500u);
  EXPECT_EQ(c.application_lag_max, 42u);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.log_target, "console");
  EXPECT_TRUE(c.peer_plaintext);
  EXPECT_FALSE(c.log_preallocate);
  EXPECT_EQ(c.admin_socket, "/run/c.sock");
  EXPECT_EQ(c.advertise, "10.0.0.1:7001");
  EXPECT_EQ(c.initial_members.at(2), "10.0.0.2:7001");
}

TEST_F(ConfigTest, CommandLineModeReplacesTheFilesMode) {
  auto path = write("node.toml", "id = 4\ncluster_id = \"c\"\ndata_dir = \"/d\"\n[initial_members]\n\"4\" = \"h:1\"\n");
  auto parsed = parse({"--config", path, "--join", "127.0.0.1:7001", "--peer-listen", "127.0.0.1:7004",
                       "--peer-plaintext"});
  EXPECT_TRUE(parsed.config.initial_members.empty());
  EXPECT_EQ(parsed.config.join, "127.0.0.1:7001");
}

TEST_F(ConfigTest, UnknownAndMistypedTomlKeysAreRefused) {
  auto unknown = write("a.toml", "id = 1\ntick_msec = 5\n");
  EXPECT_EQ(refused_key({"--config", unknown}), "tick_msec");
  auto mistyped = write("b.toml", "id = \"one\"\n");
  EXPECT_EQ(refused_key({"--config", mistyped}), "id");
  auto negative = write("c.toml", "tick_ms = -5\n");
  EXPECT_EQ(refused_key({"--config", negative}), "tick_ms");
  auto broken = write("d.toml", "id = = 1\n");
  EXPECT_EQ(refused_key({"--config", broken}), "config");
  EXPECT_EQ(refused_key({"--config", (dir_ / "missing.toml").string()}), "config");
}

TEST_F(ConfigTest, BadValuesAreRefusedNamingTheKey) {
  const std::vector<std::string> base = {"--cluster-id", "c", "--data-dir", "/d"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return refused_key(args);
  };
  EXPECT_EQ(with({"--solo", "--peer-listen", "127.0.0.1:1"}), "id");
  EXPECT_EQ(refused_key({"--id", "1", "--data-dir", "/d", "--solo", "--peer-listen", "h:1"}), "cluster_id");
  EXPECT_EQ(with({"--id", "4", "--initial-members", kMembers}), "initial_members");
  EXPECT_EQ(with({"--id", "1", "--initial-members", "1=h:1,1=h:2"}), "initial_members");
  EXPECT_EQ(with({"--id", "1", "--solo", "--join", "h:1", "--peer-listen", "h:1"}), "initial_members");
  EXPECT_EQ(with({"--id", "1", "--solo"}), "peer_listen");
  EXPECT_EQ(with({"--id", "1", "--solo", "--peer-listen", "h:99999"}), "peer_listen");
  EXPECT_EQ(with({"--id", "1", "--solo", "--peer-listen", "nocolon"}), "peer_listen");
  EXPECT_EQ(with({"--id", "1", "--solo", "--peer-listen", "0.0.0.0:7001"}), "advertise");
  EXPECT_EQ(with({"--id", "1", "--initial-members", kMembers, "--advertise", "127.0.0.1:9"}), "advertise");
  EXPECT_EQ(with({"--id", "1", "--solo", "--peer-listen", "h:1", "--election-ticks", "1"}), "election_ticks");
  EXPECT_EQ(with({"--id", "1", "--solo", "--peer-listen", "h:1", "--heartbeat-ticks", "0"}), "heartbeat_ticks");
  EXPECT_EQ(with({"--id", "1", "--solo", "--peer-listen", "h:1", "--tick-ms", "0"}), "tick_ms");
  EXPECT_EQ(with({"--id", "1", "--solo", "--peer-listen", "h:1", "--log-level", "loud"}), "log_level");
  EXPECT_EQ(with({"--id", "1", "--solo", "--peer-listen", "h:1", "--log-target", "syslog"}), "log_target");
  EXPECT_EQ(with({"--id", "1", "--solo", "--peer-listen", "h:1", "--cluster-secret-file", "/nonexistent/x"}),
            "cluster_secret_file");
  EXPECT_EQ(with({"--id", "x", "--solo"}), "command line");
  EXPECT_EQ(with({"--bogus"}), "command line");
}

TEST_F(ConfigTest, ApplicationSocketModeAndGroup) {
  const std::vector<std::string> base = {"--id", "1", "--cluster-id", "c", "--data-dir", "/d", "--solo",
                                         "--peer-listen", "h:1", "--peer-plaintext"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const NodeConfig defaults = parse(base).config;
  EXPECT_EQ(defaults.app_socket_mode_bits, 0660u);
  EXPECT_FALSE(defaults.app_socket_gid) << "the sidecar's own group";

  const NodeConfig set = parse(with({"--app-socket-mode", "0640", "--app-socket-group", "0"})).config;
  EXPECT_EQ(set.app_socket_mode_bits, 0640u);
  EXPECT_EQ(set.app_socket_gid, std::optional<std::uint32_t>(0));
  const group* root_group = ::getgrgid(0);
  ASSERT_NE(root_group, nullptr);
  EXPECT_EQ(parse(with({"--app-socket-group", root_group->gr_name})).config.app_socket_gid,
            std::optional<std::uint32_t>(0))
      << "a name resolves to its gid";

  for (const char* bad : {"", "660x", "0999", "01660", "0460", "0760", "0661"}) {
    EXPECT_EQ(refused_key(with({"--app-socket-mode", bad})), "app_socket_mode") << "'" << bad << "'";
  }
  EXPECT_EQ(refused_key(with({"--app-socket-group", "no-such-group-here"})), "app_socket_group");
  const std::string toml = write("c.toml", "app_socket_mode = \"0600\"\napp_socket_group = \"7\"\n");
  const NodeConfig from_file = parse(with({"--config", toml})).config;
  EXPECT_EQ(from_file.app_socket_mode_bits, 0600u);
  EXPECT_EQ(from_file.app_socket_gid, std::optional<std::uint32_t>(7));
}

TEST_F(ConfigTest, SecretFileFirstLineIsTheSecret) {
  auto secret = write("secret", "  s3cret \nignored\n");
  auto parsed = parse({"--id", "1", "--cluster-id", "c", "--data-dir", "/d", "--solo", "--peer-listen",
                       "127.0.0.1:7001", "--cluster-secret-file", secret, "--peer-plaintext"});
  EXPECT_EQ(parsed.config.cluster_secret, "s3cret");
  EXPECT_EQ(parsed.config.advertise, "127.0.0.1:7001");
  EXPECT_TRUE(parsed.config.solo);
}

TEST_F(ConfigTest, HelpAsksToExit) {
  auto parsed = parse({"--help"});
  EXPECT_EQ(parsed.outcome, ParseOutcome::kExitSuccess);
  EXPECT_NE(parsed.message.find("--initial-members"), std::string::npos);
}

// Peer TLS: all three files or, said explicitly, plaintext.
class TlsConfigTest : public ConfigTest {
 protected:
  // A solo node plus `extra`; the key a refusal names, or "<accepted>".
  std::string refused(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--id", "1", "--cluster-id", "c", "--data-dir", "/d", "--solo", "--peer-listen",
                                     "127.0.0.1:7001"};
    args.insert(args.end(), extra.begin(), extra.end());
    return refused_key(std::move(args));
  }
  std::string ca() { return write("ca.pem", kCertificate); }
  std::string cert() { return write("node-1.pem", kCertificate); }
  std::string key() { return write("node-1.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"); }

  // Only the PEM markers are checked here; OpenSSL reads the files when the
  // transport starts (tests/unit/peer/transport_tls_test.cpp).
  static constexpr const char* kCertificate =
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
};

TEST_F(TlsConfigTest, AllThreeFilesAreAccepted) {
  const std::string ca_path = ca(), cert_path = cert(), key_path = key();
  auto parsed = parse({"--id", "1", "--cluster-id", "c", "--data-dir", "/d", "--solo", "--peer-listen",
                       "127.0.0.1:7001", "--tls-ca-file", ca_path, "--tls-cert-file", cert_path, "--tls-key-file",
                       key_path});
  EXPECT_EQ(parsed.config.tls_ca_file, ca_path);
  EXPECT_EQ(parsed.config.tls_cert_file, cert_path);
  EXPECT_EQ(parsed.config.tls_key_file, key_path);
  EXPECT_FALSE(parsed.config.peer_plaintext);
}

TEST_F(TlsConfigTest, TheSameFromTheTomlFile) {
  const std::string toml = "tls_ca_file = \"" + ca() + "\"\ntls_cert_file = \"" + cert() + "\"\ntls_key_file = \"" +
                           key() + "\"\n";
  EXPECT_EQ(refused({"--config", write("node.toml", toml)}), "<accepted>");
}

TEST_F(TlsConfigTest, EachMissingFileIsNamed) {
  const std::string ca_path = ca(), cert_path = cert(), key_path = key();
  EXPECT_EQ(refused({"--tls-cert-file", cert_path, "--tls-key-file", key_path}), "tls_ca_file");
  EXPECT_EQ(refused({"--tls-ca-file", ca_path, "--tls-key-file", key_path}), "tls_cert_file");
  EXPECT_EQ(refused({"--tls-ca-file", ca_path, "--tls-cert-file", cert_path}), "tls_key_file");
  // Plaintext does not excuse a half-configured TLS.
  EXPECT_EQ(refused({"--tls-ca-file", ca_path, "--peer-plaintext"}), "tls_cert_file");
}

TEST_F(TlsConfigTest, FilesThatCannotBeReadOrHoldNoPemAreNamed) {
  const std::string ca_path = ca(), cert_path = cert(), key_path = key();
  const std::string absent = (dir_ / "absent.pem").string();
  EXPECT_EQ(refused({"--tls-ca-file", absent, "--tls-cert-file", cert_path, "--tls-key-file", key_path}),
            "tls_ca_file");
  // A directory opens but holds no file to read.
  EXPECT_EQ(refused({"--tls-ca-file", ca_path, "--tls-cert-file", dir_.string(), "--tls-key-file", key_path}),
            "tls_cert_file");
  const std::string not_a_key = write("not-a.key", "just text\n");
  EXPECT_EQ(refused({"--tls-ca-file", ca_path, "--tls-cert-file", cert_path, "--tls-key-file", not_a_key}),
            "tls_key_file");
  // A key given where the certificate belongs.
  EXPECT_EQ(refused({"--tls-ca-file", ca_path, "--tls-cert-file", key_path, "--tls-key-file", key_path}),
            "tls_cert_file");
}

TEST_F(TlsConfigTest, AFileWithoutReadPermissionIsNamed) {
  const std::string ca_path = ca(), cert_path = cert(), key_path = key();
  std::filesystem::permissions(key_path, std::filesystem::perms::none);
  // root reads it anyway, so there is nothing to test as root.
  if (::access(key_path.c_str(), R_OK) == 0) GTEST_SKIP() << "running as root: mode 0000 does not stop reading";
  try {
    parse({"--id", "1", "--cluster-id", "c", "--data-dir", "/d", "--solo", "--peer-listen", "127.0.0.1:7001",
           "--tls-ca-file", ca_path, "--tls-cert-file", cert_path, "--tls-key-file", key_path});
    ADD_FAILURE() << "an unreadable key file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "tls_key_file");
    EXPECT_NE(std::string(e.what()).find("readable"), std::string::npos) << e.what();
  }
}

TEST_F(TlsConfigTest, PlaintextMustBeSaidAndExcludesTls) {
  // Neither TLS nor plaintext: refused, and the message says both ways out.
  try {
    parse({"--id", "1", "--cluster-id", "c", "--data-dir", "/d", "--solo", "--peer-listen", "127.0.0.1:7001"});
    ADD_FAILURE() << "a configuration without TLS or peer_plaintext was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "peer_plaintext");
    EXPECT_NE(std::string(e.what()).find("tls_ca_file"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("peer_plaintext = true"), std::string::npos) << e.what();
  }
  EXPECT_EQ(refused({"--peer-plaintext"}), "<accepted>");
  EXPECT_EQ(refused({"--config", write("plain.toml", "peer_plaintext = true\n")}), "<accepted>");
  EXPECT_EQ(refused({"--config", write("mistyped.toml", "peer_plaintext = \"yes\"\n")}), "peer_plaintext");
  EXPECT_EQ(refused({"--tls-ca-file", ca(), "--tls-cert-file", cert(), "--tls-key-file", key(), "--peer-plaintext"}),
            "peer_plaintext");
}

TEST(HostPort, ParsesIpv4NamesAndIpv6) {
  EXPECT_EQ(parse_host_port("k", "127.0.0.1:7001").port, 7001);
  EXPECT_EQ(parse_host_port("k", "node-a.example:1").host, "node-a.example");
  auto v6 = parse_host_port("k", "[::1]:7001");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 7001);
  EXPECT_THROW(parse_host_port("k", ":7001"), ConfigError);
  EXPECT_THROW(parse_host_port("k", "h:"), ConfigError);
  EXPECT_THROW(parse_host_port("k", "h:0"), ConfigError);
}

}  // namespace
}  // namespace conclave::node
