// Tests of the metrics_listen key: off by default, a bare port means
// loopback, TOML and the command line both set it, and a bad value is a
// ConfigError naming the key.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sidecar/node/config.h"

namespace conclave::node {
namespace {

ParsedConfig parse(std::vector<std::string> args) {
  std::vector<std::string> all{"conclaved", "--id", "1", "--cluster-id", "c", "--data-dir", "/tmp/d1", "--solo",
                               "--peer-listen", "127.0.0.1:7001",
                               "--peer-plaintext"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& a : all) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

std::string refusal(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "metrics_listen") << e.what();
    return e.what();
  }
  return "<accepted>";
}

TEST(MetricsListen, OffByDefault) { EXPECT_EQ(parse({}).config.metrics_listen, ""); }

TEST(MetricsListen, ABarePortMeansLoopback) {
  EXPECT_EQ(parse({"--metrics-listen", "9464"}).config.metrics_listen, "127.0.0.1:9464");
}

TEST(MetricsListen, TakesIPv4AndIPv6Addresses) {
  EXPECT_EQ(parse({"--metrics-listen", "0.0.0.0:9464"}).config.metrics_listen, "0.0.0.0:9464");
  EXPECT_EQ(parse({"--metrics-listen", "[::1]:9464"}).config.metrics_listen, "[::1]:9464");
}

TEST(MetricsListen, ReadFromToml) {
  NodeConfig config;
  apply_toml(config, "metrics_listen = \"127.0.0.1:9100\"\n", "test.toml");
  EXPECT_EQ(config.metrics_listen, "127.0.0.1:9100");
  EXPECT_THROW(apply_toml(config, "metrics_listen = 9100\n", "test.toml"), ConfigError);
}

TEST(MetricsListen, RefusesBadValuesNamingTheKey) {
  EXPECT_NE(refusal({"--metrics-listen", "localhost:9464"}).find("not an IP address"), std::string::npos);
  EXPECT_NE(refusal({"--metrics-listen", "127.0.0.1"}).find("host:port"), std::string::npos);
  EXPECT_NE(refusal({"--metrics-listen", "127.0.0.1:70000"}).find("1..65535"), std::string::npos);
  EXPECT_NE(refusal({"--metrics-listen", "0"}).find("1..65535"), std::string::npos);
}

}  // namespace
}  // namespace conclave::node
