// SnapshotStore: chunks in and out, metadata, atomic commit, leftovers,
// pruning, and damage found at open and while reading.
#include "sidecar/storage/snapshot_store.h"

#include <gtest/gtest.h>

#include "tests/unit/storage/temp_dir.h"

namespace conclave::storage {
namespace {

using raft::Index;
using raft::NodeId;
using raft::SnapshotMeta;
using raft::Term;
using testing::TempDir;

SnapshotMeta meta_at(std::uint64_t index) {
  raft::Configuration config;
  config.voters = {NodeId(1), NodeId(2), NodeId(3)};
  config.learners = {NodeId(7)};
  return SnapshotMeta{Index(index), Term(index / 10 + 1), config};
}

std::unique_ptr<SnapshotStore> open_store(const TempDir& dir) {
  auto store = SnapshotStore::open(posix_filesystem(), dir / "snap");
  EXPECT_TRUE(store.ok()) << store.error().message;
  return store ? std::move(store).value() : nullptr;
}

SnapshotInfo put(SnapshotStore& store, std::uint64_t index, const std::vector<std::string>& chunks) {
  auto writer = store.begin(meta_at(index));
  EXPECT_TRUE(writer.ok());
  for (const auto& c : chunks) EXPECT_TRUE(writer->write(c).ok());
  return writer->commit().value();
}

std::string read_all(SnapshotStore& store, const SnapshotInfo& info, std::size_t chunk) {
  auto reader = store.read(info);
  EXPECT_TRUE(reader.ok()) << reader.error().message;
  std::string all;
  while (!reader->done()) {
    auto c = reader->next(chunk);
    if (!c) {
      ADD_FAILURE() << c.error().message;
      break;
    }
    EXPECT_LE(c->size(), chunk);
    all += *c;
  }
  return all;
}

TEST(SnapshotStore, EmptyStoreHasNoLatest) {
  TempDir dir;
  EXPECT_FALSE(open_store(dir)->latest().has_value());
}

TEST(SnapshotStore, ChunksInChunksOutWithMetadata) {
  TempDir dir;
  auto store = open_store(dir);
  std::vector<std::string> chunks = {"hello ", std::string(100000, 'x'), "", " world"};
  SnapshotInfo info = put(*store, 42, chunks);
  EXPECT_EQ(info.meta, meta_at(42));
  EXPECT_EQ(info.data_bytes, 100012u);
  store = open_store(dir);
  auto latest = store->latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->meta, meta_at(42));
  EXPECT_EQ(read_all(*store, *latest, 4096), "hello " + std::string(100000, 'x') + " world");
  EXPECT_EQ(read_all(*store, *latest, 1), read_all(*store, *latest, 1 << 20));
}

TEST(SnapshotStore, AnEmptySnapshotIsValid) {
  TempDir dir;
  auto store = open_store(dir);
  put(*store, 0, {});
  EXPECT_EQ(read_all(*open_store(dir), *store->latest(), 10), "");
}

TEST(SnapshotStore, AnAbandonedWriterLeavesNothing) {
  TempDir dir;
  auto store = open_store(dir);
  {
    auto writer = store->begin(meta_at(5)).value();
    ASSERT_TRUE(writer.write("partial").ok());
  }
  EXPECT_TRUE(posix_filesystem().list(dir / "snap").value().empty());
  EXPECT_FALSE(store->latest().has_value());
}

TEST(SnapshotStore, LeftoverTempFilesAreRemovedAtOpen) {
  TempDir dir;
  open_store(dir);
  testing::write_file(dir / "snap/snapshot-00000000000000000009-00000000000000000001.tmp", "half");
  auto store = open_store(dir);
  EXPECT_TRUE(posix_filesystem().list(dir / "snap").value().empty());
}

TEST(SnapshotStore, LatestIsTheHighestIndexAndPruneKeepsTheNewest) {
  TempDir dir;
  auto store = open_store(dir);
  put(*store, 30, {"c"});
  put(*store, 10, {"a"});
  put(*store, 20, {"b"});
  EXPECT_EQ(store->latest()->meta.index, Index(30));
  ASSERT_TRUE(store->prune(2).ok());
  auto all = store->list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].meta.index, Index(20));
  EXPECT_EQ(all[1].meta.index, Index(30));
  ASSERT_TRUE(store->prune(5).ok());
  EXPECT_EQ(store->list().size(), 2u);
}

TEST(SnapshotStore, RetiredSnapshotsAreGoneFromTheListAtOnceAndFromDiskWhenDeleted) {
  TempDir dir;
  auto store = open_store(dir);
  put(*store, 10, {"a"});
  put(*store, 20, {"b"});
  put(*store, 30, {"c"});
  auto retired = store->retire(1);
  ASSERT_TRUE(retired.ok()) << retired.error().message;
  ASSERT_EQ(retired->size(), 2u);
  ASSERT_EQ(store->list().size(), 1u);
  EXPECT_EQ(store->latest()->meta.index, Index(30));
  for (const auto& path : *retired) EXPECT_TRUE(posix_filesystem().exists(path)) << path;

  ASSERT_TRUE(store->delete_retired(*retired).ok());
  for (const auto& path : *retired) EXPECT_FALSE(posix_filesystem().exists(path)) << path;
  EXPECT_EQ(posix_filesystem().list(dir / "snap").value().size(), 1u);
}

TEST(SnapshotStore, ARetiredSnapshotLeftByACrashIsDeletedOnOpen) {
  TempDir dir;
  std::string left;
  {
    auto store = open_store(dir);
    put(*store, 10, {"a"});
    put(*store, 20, {"b"});
    auto retired = store->retire(1);
    ASSERT_TRUE(retired.ok());
    ASSERT_EQ(retired->size(), 1u);
    left = retired->front();
  }
  auto store = open_store(dir);
  EXPECT_FALSE(posix_filesystem().exists(left));
  ASSERT_EQ(store->list().size(), 1u);
  EXPECT_EQ(store->latest()->meta.index, Index(20));
}

TEST(SnapshotStore, RewritingTheSameSnapshotReplacesIt) {
  TempDir dir;
  auto store = open_store(dir);
  put(*store, 10, {"first"});
  put(*store, 10, {"second"});
  ASSERT_EQ(store->list().size(), 1u);
  EXPECT_EQ(read_all(*store, *store->latest(), 100), "second");
}

TEST(SnapshotStore, DamageAnywhereRefusesToOpenNamingTheFile) {
  TempDir dir;
  SnapshotInfo info = put(*open_store(dir), 10, {std::string(1000, 'd')});
  std::string clean = testing::read_file(info.path);
  for (std::size_t offset : {std::size_t{3}, std::size_t{20}, std::size_t{50}, std::size_t{500},
                             clean.size() - 20, clean.size() - 1}) {
    std::string bytes = clean;
    bytes[offset] ^= 0x01;
    testing::write_file(info.path, bytes);
    auto store = SnapshotStore::open(posix_filesystem(), dir / "snap");
    ASSERT_FALSE(store.ok()) << offset;
    EXPECT_EQ(store.error().code, ErrorCode::kCorrupt);
    EXPECT_NE(store.error().message.find(info.path), std::string::npos) << store.error().message;
  }
  testing::write_file(info.path, clean.substr(0, clean.size() - 1));
  EXPECT_FALSE(SnapshotStore::open(posix_filesystem(), dir / "snap").ok());
}

TEST(SnapshotStore, ReaderCatchesDamageAfterOpen) {
  TempDir dir;
  auto store = open_store(dir);
  SnapshotInfo info = put(*store, 10, {std::string(1000, 'd')});
  std::string bytes = testing::read_file(info.path);
  bytes[600] ^= 0x01;
  testing::write_file(info.path, bytes);
  auto reader = store->read(info).value();
  auto first = reader.next(500);
  ASSERT_TRUE(first.ok());
  auto second = reader.next(500);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace conclave::storage
