// DataDir: restore() and persist() across the three stores, and the
// cross-store checks that refuse to start rather than lose a commit or vote.
#include "sidecar/storage/data_dir.h"

#include <gtest/gtest.h>

#include "tests/unit/storage/log_test_entries.h"
#include "tests/unit/storage/temp_dir.h"

namespace conclave::storage {
namespace {

using raft::HardState;
using raft::Index;
using raft::NodeId;
using raft::Term;
using testing::entries;
using testing::TempDir;

std::unique_ptr<DataDir> open_dir(const TempDir& dir) {
  auto d = DataDir::open(dir / "data");
  EXPECT_TRUE(d.ok()) << d.error().message;
  return d ? std::move(d).value() : nullptr;
}

raft::Ready ready_with(std::vector<raft::Entry> es, std::optional<HardState> hs) {
  raft::Ready ready;
  ready.entries = std::move(es);
  ready.hard_state = hs;
  ready.must_sync = true;
  return ready;
}

void store_snapshot(DataDir& d, const raft::SnapshotMeta& meta) {
  auto writer = d.snapshots().begin(meta).value();
  ASSERT_TRUE(writer.write("state").ok());
  ASSERT_TRUE(writer.commit().ok());
}

TEST(DataDir, AFreshDirectoryRestoresToNothing) {
  TempDir dir;
  auto d = open_dir(dir);
  auto restored = d->restore().value();
  EXPECT_EQ(restored.hard_state, HardState{});
  EXPECT_EQ(restored.snapshot.index, Index(0));
  EXPECT_TRUE(restored.entries.empty());
  EXPECT_EQ(restored.applied, Index(0));
}

TEST(DataDir, ASecondOpenOfTheSameDirectoryIsRefused) {
  TempDir dir;
  auto d = open_dir(dir);
  auto second = DataDir::open(dir / "data");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kLocked);
}

TEST(DataDir, PersistedEntriesAndHardStateComeBack) {
  TempDir dir;
  HardState hs{Term(2), NodeId(1), Index(3)};
  {
    auto d = open_dir(dir);
    ASSERT_TRUE(d->persist(ready_with(entries(1, 5, 2), hs)).ok());
    EXPECT_EQ(d->log().durable_index(), Index(5));
  }
  auto restored = open_dir(dir)->restore().value();
  EXPECT_EQ(restored.hard_state, hs);
  EXPECT_EQ(restored.entries, entries(1, 5, 2));
}

TEST(DataDir, ConflictingEntriesReplaceTheSuffix) {
  TempDir dir;
  {
    auto d = open_dir(dir);
    ASSERT_TRUE(d->persist(ready_with(entries(1, 5, 1), HardState{Term(1), NodeId(1), Index(0)})).ok());
    ASSERT_TRUE(d->persist(ready_with(entries(3, 4, 2), HardState{Term(2), NodeId(2), Index(0)})).ok());
  }
  auto restored = open_dir(dir)->restore().value();
  std::vector<raft::Entry> want = entries(1, 2, 1);
  for (auto& e : entries(3, 4, 2)) want.push_back(e);
  EXPECT_EQ(restored.entries, want);
}

TEST(DataDir, OnlyTermOrVoteChangesSaveTheHardState) {
  TempDir dir;
  {
    auto d = open_dir(dir);
    ASSERT_TRUE(d->persist(ready_with(entries(1, 5), HardState{Term(1), NodeId(1), Index(2)})).ok());
    ASSERT_TRUE(d->persist(ready_with({}, HardState{Term(1), NodeId(1), Index(5)})).ok());
  }
  EXPECT_EQ(open_dir(dir)->restore().value().hard_state.commit, Index(2));
}

TEST(DataDir, AStoredCommitNeverPassesTheDurableLog) {
  TempDir dir;
  {
    auto d = open_dir(dir);
    ASSERT_TRUE(d->persist(ready_with(entries(1, 2), HardState{Term(1), NodeId(1), Index(9)})).ok());
  }
  EXPECT_EQ(open_dir(dir)->restore().value().hard_state.commit, Index(2));
}

TEST(DataDir, ASnapshotAheadOfTheLogResetsIt) {
  TempDir dir;
  raft::SnapshotMeta meta{Index(20), Term(3), {{NodeId(1)}, {}}};
  {
    auto d = open_dir(dir);
    ASSERT_TRUE(d->persist(ready_with(entries(1, 5), HardState{Term(3), NodeId(1), Index(0)})).ok());
    store_snapshot(*d, meta);
    raft::Ready ready;
    ready.snapshot = meta;
    ASSERT_TRUE(d->persist(ready).ok());
    EXPECT_EQ(d->log().first_index(), Index(21));
    ASSERT_TRUE(d->persist(ready_with(entries(21, 22, 3), std::nullopt)).ok());
  }
  auto restored = open_dir(dir)->restore().value();
  EXPECT_EQ(restored.snapshot, meta);
  EXPECT_EQ(restored.applied, Index(20));
  EXPECT_EQ(restored.entries, entries(21, 22, 3));
}

TEST(DataDir, ASnapshotInsideTheLogKeepsTheSuffix) {
  TempDir dir;
  raft::SnapshotMeta meta{Index(3), Term(1), {{NodeId(1)}, {}}};
  {
    auto d = open_dir(dir);
    ASSERT_TRUE(d->persist(ready_with(entries(1, 6), HardState{Term(1), NodeId(1), Index(6)})).ok());
    store_snapshot(*d, meta);
    ASSERT_TRUE(d->compact(Index(3)).ok());
  }
  auto restored = open_dir(dir)->restore().value();
  EXPECT_EQ(restored.snapshot, meta);
  EXPECT_EQ(restored.entries, entries(4, 6));
}

TEST(DataDir, RefusesACommitBeyondEverythingHeld) {
  TempDir dir;
  {
    auto d = open_dir(dir);
    ASSERT_TRUE(d->persist(ready_with(entries(1, 3), std::nullopt)).ok());
    ASSERT_TRUE(d->hard_state().save(HardState{Term(1), NodeId(1), Index(7)}).ok());
  }
  auto restored = open_dir(dir)->restore();
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(restored.error().message.find("entry 7 is committed"), std::string::npos) << restored.error().message;
}

TEST(DataDir, RefusesAHardStateOlderThanTheLog) {
  TempDir dir;
  {
    auto d = open_dir(dir);
    ASSERT_TRUE(d->persist(ready_with(entries(1, 3, 4), std::nullopt)).ok());
    ASSERT_TRUE(d->hard_state().save(HardState{Term(2), NodeId(1), Index(0)}).ok());
  }
  auto restored = open_dir(dir)->restore();
  ASSERT_FALSE(restored.ok());
  EXPECT_NE(restored.error().message.find("term 2"), std::string::npos) << restored.error().message;
}

TEST(DataDir, RefusesALogThatStartsAfterTheSnapshot) {
  TempDir dir;
  {
    auto d = open_dir(dir);
    ASSERT_TRUE(d->log().reset(Index(50)).ok());
  }
  auto restored = open_dir(dir)->restore();
  ASSERT_FALSE(restored.ok());
  EXPECT_NE(restored.error().message.find("starts at entry 50"), std::string::npos) << restored.error().message;
}

}  // namespace
}  // namespace conclave::storage
