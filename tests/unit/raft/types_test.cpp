// Encodings of configuration changes and configurations.
#include <gtest/gtest.h>

#include "sidecar/raft/types.h"

namespace conclave::raft {
namespace {

TEST(Types, ConfigChangeRoundTrips) {
  for (auto type : {ConfigChangeType::kAddLearner, ConfigChangeType::kPromote, ConfigChangeType::kRemove}) {
    ConfigChange change{type, NodeId(42)};
    EXPECT_EQ(decode_config_change(encode_config_change(change)), change);
  }
}

TEST(Types, BootstrapChangeCarriesTheFounders) {
  ConfigChange founding = ConfigChange::founding(Configuration{{NodeId(1), NodeId(2)}, {}});
  auto decoded = decode_config_change(encode_config_change(founding));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, founding);
  EXPECT_EQ(apply_config_change(Configuration{{NodeId(9)}, {}}, founding), founding.founders);
  ConfigChange empty = ConfigChange::founding({});
  EXPECT_FALSE(decode_config_change(encode_config_change(empty))) << "a cluster needs a voter";
}

TEST(Types, MalformedConfigChangeIsRejected) {
  EXPECT_FALSE(decode_config_change(""));
  std::string bytes = encode_config_change({ConfigChangeType::kPromote, NodeId(3)});
  EXPECT_FALSE(decode_config_change(bytes.substr(0, 8)));
  bytes[0] = 9;
  EXPECT_FALSE(decode_config_change(bytes));
  EXPECT_FALSE(decode_config_change(encode_config_change({ConfigChangeType::kPromote, kNoNode})));
}

TEST(Types, ConfigurationRoundTrips) {
  Configuration config{{NodeId(1), NodeId(2), NodeId(5)}, {NodeId(7)}, {{NodeId(1), "h1:1"}, {NodeId(7), "h7:7"}}};
  EXPECT_EQ(decode_configuration(encode_configuration(config)), config);
  EXPECT_EQ(decode_configuration(encode_configuration({})), Configuration{});
}

TEST(Types, AddLearnerCarriesItsAddress) {
  ConfigChange change(ConfigChangeType::kAddLearner, NodeId(4), "127.0.0.1:7004");
  EXPECT_EQ(decode_config_change(encode_config_change(change)), change);
  Configuration config = apply_config_change(Configuration{{NodeId(1)}, {}, {}}, change);
  EXPECT_EQ(config.addresses.at(NodeId(4)), "127.0.0.1:7004");
  config = apply_config_change(config, ConfigChange(ConfigChangeType::kRemove, NodeId(4)));
  EXPECT_TRUE(config.addresses.empty());
}

TEST(Types, MalformedConfigurationIsRejected) {
  Configuration stranger{{NodeId(1)}, {}, {{NodeId(2), "h:2"}}};
  EXPECT_FALSE(decode_configuration(encode_configuration(stranger))) << "an address for a non-member";
  std::string bytes = encode_configuration({{NodeId(1)}, {NodeId(2)}});
  EXPECT_FALSE(decode_configuration(bytes.substr(0, bytes.size() - 1)));
  EXPECT_FALSE(decode_configuration(bytes + "x"));
  EXPECT_FALSE(decode_configuration(encode_configuration({{NodeId(1)}, {NodeId(1)}})))
      << "a node is a voter or a learner, not both";
}

TEST(Types, QuorumIsAMajorityOfVoters) {
  EXPECT_EQ((Configuration{{NodeId(1)}, {}}).quorum(), 1u);
  EXPECT_EQ((Configuration{{NodeId(1), NodeId(2)}, {}}).quorum(), 2u);
  EXPECT_EQ((Configuration{{NodeId(1), NodeId(2), NodeId(3)}, {NodeId(4), NodeId(5)}}).quorum(), 2u);
}

}  // namespace
}  // namespace conclave::raft
