// HardStateStore: round trips, alternation, one damaged copy, both damaged.
#include "sidecar/storage/hard_state_store.h"

#include <gtest/gtest.h>

#include "tests/unit/storage/temp_dir.h"

namespace conclave::storage {
namespace {

using raft::HardState;
using raft::Index;
using raft::NodeId;
using raft::Term;
using testing::TempDir;

std::unique_ptr<HardStateStore> open_store(const TempDir& dir) {
  auto store = HardStateStore::open(posix_filesystem(), dir.path());
  EXPECT_TRUE(store.ok()) << store.error().message;
  return store ? std::move(store).value() : nullptr;
}

void flip(const std::string& path, std::size_t offset) {
  std::string bytes = testing::read_file(path);
  bytes[offset] ^= 0x10;
  testing::write_file(path, bytes);
}

TEST(HardStateStore, StartsAtZero) {
  TempDir dir;
  EXPECT_EQ(open_store(dir)->current(), HardState{});
  EXPECT_FALSE(posix_filesystem().exists(dir / "hardstate.tmp"));
}

TEST(HardStateStore, EverySaveSurvivesReopen) {
  TempDir dir;
  for (std::uint64_t i = 1; i <= 5; ++i) {
    HardState state{Term(i), NodeId(i % 3), Index(i * 10)};
    ASSERT_TRUE(open_store(dir)->save(state).ok());
    EXPECT_EQ(open_store(dir)->current(), state) << i;
  }
}

TEST(HardStateStore, ADamagedNewestCopyFallsBackToTheOlder) {
  TempDir dir;
  auto store = open_store(dir);
  HardState older{Term(2), NodeId(1), Index(5)};
  HardState newer{Term(3), NodeId(2), Index(6)};
  ASSERT_TRUE(store->save(older).ok());  // sequence 2: slot 0
  ASSERT_TRUE(store->save(newer).ok());  // sequence 3: slot 1
  store.reset();
  flip(dir / "hardstate", 4096 + 30);  // a torn save of `newer`
  auto reopened = open_store(dir);
  EXPECT_EQ(reopened->current(), older);
  // The next save goes to the damaged slot and both are good again.
  HardState next{Term(4), NodeId(1), Index(7)};
  ASSERT_TRUE(reopened->save(next).ok());
  EXPECT_EQ(open_store(dir)->current(), next);
}

TEST(HardStateStore, ADamagedOlderCopyIsHarmless) {
  TempDir dir;
  HardState state{Term(9), NodeId(3), Index(1)};
  ASSERT_TRUE(open_store(dir)->save(state).ok());  // sequence 2: slot 0
  flip(dir / "hardstate", 4096 + 20);
  EXPECT_EQ(open_store(dir)->current(), state);
}

TEST(HardStateStore, BothCopiesDamagedRefusesWithThePath) {
  TempDir dir;
  ASSERT_TRUE(open_store(dir)->save(HardState{Term(1), NodeId(1), Index(0)}).ok());
  flip(dir / "hardstate", 25);
  flip(dir / "hardstate", 4096 + 25);
  auto store = HardStateStore::open(posix_filesystem(), dir.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(store.error().message.find(dir / "hardstate"), std::string::npos);
}

TEST(HardStateStore, TermNeverGoesBackAndAVoteNeverChanges) {
  TempDir dir;
  auto store = open_store(dir);
  ASSERT_TRUE(store->save(HardState{Term(5), NodeId(2), Index(0)}).ok());
  EXPECT_THROW((void)store->save(HardState{Term(4), NodeId(2), Index(0)}), std::logic_error);
  EXPECT_THROW((void)store->save(HardState{Term(5), NodeId(3), Index(0)}), std::logic_error);
  ASSERT_TRUE(store->save(HardState{Term(5), NodeId(2), Index(9)}).ok());
  ASSERT_TRUE(store->save(HardState{Term(6), raft::kNoNode, Index(9)}).ok());
  ASSERT_TRUE(store->save(HardState{Term(6), NodeId(1), Index(9)}).ok());
}

}  // namespace
}  // namespace conclave::storage
