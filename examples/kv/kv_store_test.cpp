// The kv handler under the SDK's test double: commands apply in log order,
// inc/dec are deterministic, and a new replica joins from a snapshot into
// the same map.
#include <gtest/gtest.h>

#include <conclave/testing.h>

#include "kv_store.h"

namespace conclave::examples {
namespace {

using Op = KvCommand::Op;

TEST(KvStore, CommandsRoundTripThroughTheirEncoding) {
  KvCommand put{Op::put, "k\0ey", std::string("v\0al", 4), 0};
  auto back = decode_kv_command(encode(put));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->key, put.key);
  EXPECT_EQ(back->value, put.value);
  auto add = decode_kv_command(encode(KvCommand{Op::add, "n", {}, -5}));
  ASSERT_TRUE(add);
  EXPECT_EQ(add->delta, -5);
  EXPECT_FALSE(decode_kv_command("garbage"));
  std::string truncated = encode(put);
  truncated.pop_back();
  EXPECT_FALSE(decode_kv_command(truncated));
}

TEST(KvStore, AppliesPutDeleteAndAddInLogOrder) {
  testing::LocalSidecar sidecar;
  KvStore store;
  sidecar.attach(store);
  sidecar.propose(encode(KvCommand{Op::put, "a", "1", 0}));
  Index inc = sidecar.propose(encode(KvCommand{Op::add, "a", {}, 41}));
  EXPECT_EQ(store.get("a"), "42");
  EXPECT_EQ(store.outcome(inc)->value, "42");

  Index del = sidecar.propose(encode(KvCommand{Op::erase, "a", {}, 0}));
  EXPECT_TRUE(store.outcome(del)->ok);
  EXPECT_FALSE(store.get("a"));
  Index again = sidecar.propose(encode(KvCommand{Op::erase, "a", {}, 0}));
  EXPECT_FALSE(store.outcome(again)->ok);

  Index fresh = sidecar.propose(encode(KvCommand{Op::add, "n", {}, -1}));
  EXPECT_EQ(store.outcome(fresh)->value, "-1");
}

TEST(KvStore, AddToANonNumberOrPastTheLimitFailsTheSameEverywhere) {
  testing::LocalSidecar sidecar;
  KvStore store;
  sidecar.attach(store);
  sidecar.propose(encode(KvCommand{Op::put, "s", "text", 0}));
  Index bad = sidecar.propose(encode(KvCommand{Op::add, "s", {}, 1}));
  EXPECT_FALSE(store.outcome(bad)->ok);
  EXPECT_EQ(store.get("s"), "text");
  sidecar.propose(encode(KvCommand{Op::put, "big", std::to_string(INT64_MAX), 0}));
  Index overflow = sidecar.propose(encode(KvCommand{Op::add, "big", {}, 1}));
  EXPECT_FALSE(store.outcome(overflow)->ok);
  Index junk = sidecar.propose("not a command");
  EXPECT_FALSE(store.outcome(junk)->ok);
}

TEST(KvStore, NewReplicaJoinsFromASnapshotAndAgrees) {
  testing::LocalSidecar sidecar;
  KvStore first;
  sidecar.attach(first);
  for (int i = 0; i < 20; ++i) {
    sidecar.propose(encode(KvCommand{Op::put, "key" + std::to_string(i), std::string(i, 'x'), 0}));
  }
  sidecar.propose(encode(KvCommand{Op::erase, "key3", {}, 0}));
  sidecar.snapshot(first);
  sidecar.propose(encode(KvCommand{Op::put, "after", "snapshot", 0}));

  KvStore second;
  sidecar.attach(second);  // joins (the log was compacted), then replays "after"
  EXPECT_EQ(second.list(), first.list());
  EXPECT_EQ(second.get("after"), "snapshot");
  EXPECT_FALSE(second.get("key3"));
}

TEST(KvStore, BootstrapDiscardsEarlierState) {
  testing::LocalSidecar sidecar;
  KvStore store;
  sidecar.attach(store);
  sidecar.propose(encode(KvCommand{Op::put, "a", "1", 0}));
  store.bootstrap();
  EXPECT_TRUE(store.list().empty());
}

}  // namespace
}  // namespace conclave::examples
