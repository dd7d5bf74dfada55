// Opening a data directory read-only, as offline tools do: no lock, nothing
// created, a torn tail reported but left on disk, every write refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sidecar/storage/data_dir.h"
#include "sidecar/storage/segmented_log.h"
#include "tests/unit/storage/log_test_entries.h"
#include "tests/unit/storage/temp_dir.h"

namespace conclave::storage {
namespace {

using raft::Index;
using testing::entries;
using testing::open_segment_path;
using testing::TempDir;

LogOptions read_only_log() {
  LogOptions options;
  options.read_only = true;
  return options;
}

void append_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << bytes;
}

TEST(ReadOnlyOpen, ATornTailIsReportedAndLeftOnDisk) {
  TempDir dir;
  {
    auto log = SegmentedLog::open(posix_filesystem(), dir / "log").value();
    ASSERT_TRUE(log->append(entries(1, 10)).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  std::string segment = open_segment_path(dir / "log");
  append_bytes(segment, std::string(20, '\x7f'));  // a record header cut short
  auto size = std::filesystem::file_size(segment);

  auto log = SegmentedLog::open(posix_filesystem(), dir / "log", read_only_log());
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_TRUE((*log)->recovery().torn_tail.has_value());
  EXPECT_NE((*log)->recovery().torn_tail->find("left in place"), std::string::npos);
  EXPECT_EQ((*log)->last_index(), Index(10));
  EXPECT_EQ((*log)->durable_index(), Index(10));
  EXPECT_EQ((*log)->read(Index(1), Index(10)).value(), entries(1, 10));
  EXPECT_EQ(std::filesystem::file_size(segment), size);
  (*log).reset();
  EXPECT_EQ(std::filesystem::file_size(segment), size) << "closing a read-only log wrote to it";

  // The writable open that follows cuts it, as always.
  auto writable = SegmentedLog::open(posix_filesystem(), dir / "log").value();
  EXPECT_TRUE(writable->recovery().torn_tail.has_value());
  EXPECT_LT(std::filesystem::file_size(segment), size);
}

TEST(ReadOnlyOpen, EveryWriteIsRefused) {
  TempDir dir;
  {
    auto log = SegmentedLog::open(posix_filesystem(), dir / "log").value();
    ASSERT_TRUE(log->append(entries(1, 3)).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  auto log = SegmentedLog::open(posix_filesystem(), dir / "log", read_only_log()).value();
  auto appended = log->append(entries(4, 4));
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.error().code, ErrorCode::kStopped);
  EXPECT_NE(appended.error().message.find("read-only"), std::string::npos) << appended.error().message;
  EXPECT_EQ(log->sync(Index(3)).error().code, ErrorCode::kStopped);
  EXPECT_EQ(log->truncate_suffix(Index(2)).error().code, ErrorCode::kStopped);
  EXPECT_EQ(log->compact_prefix(Index(3)).error().code, ErrorCode::kStopped);
  EXPECT_EQ(log->reset(Index(9)).error().code, ErrorCode::kStopped);
  EXPECT_EQ(log->read(Index(1), Index(3)).value(), entries(1, 3));
}

TEST(ReadOnlyOpen, AMissingDirectoryIsAnEmptyLogAndIsNotCreated) {
  TempDir dir;
  auto log = SegmentedLog::open(posix_filesystem(), dir / "log", read_only_log());
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_GT((*log)->first_index(), (*log)->last_index());
  EXPECT_FALSE(std::filesystem::exists(dir / "log"));
}

TEST(ReadOnlyOpen, ADataDirHeldByANodeCanBeReadWithoutItsLock) {
  TempDir dir;
  auto node = DataDir::open(dir / "data").value();
  raft::Ready ready;
  ready.entries = entries(1, 5, 2);
  ready.hard_state = raft::HardState{raft::Term(2), raft::NodeId(1), Index(5)};
  ready.must_sync = true;
  ASSERT_TRUE(node->persist(ready).ok());
  // An unfinished snapshot the node may still be writing: a reader must not remove it.
  append_bytes(dir / "data/snapshots/snapshot-unfinished.tmp", "partial");

  DataDirOptions options;
  options.read_only = true;
  auto reader = DataDir::open(dir / "data", options);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  EXPECT_EQ((*reader)->hard_state().current().term, raft::Term(2));
  EXPECT_EQ((*reader)->log().read(Index(1), Index(5)).value(), entries(1, 5, 2));
  EXPECT_TRUE((*reader)->snapshots().list().empty());
  EXPECT_TRUE(std::filesystem::exists(dir / "data/snapshots/snapshot-unfinished.tmp"));
  EXPECT_EQ((*reader)->persist(ready).error().code, ErrorCode::kStopped);
  EXPECT_EQ((*reader)->hard_state().save(raft::HardState{raft::Term(3), raft::NodeId(1), Index(5)}).error().code,
            ErrorCode::kStopped);
  EXPECT_EQ((*reader)->snapshots().begin(raft::SnapshotMeta{}).error().code, ErrorCode::kStopped);
}

TEST(ReadOnlyOpen, AnEmptyDirectoryStaysEmpty) {
  TempDir dir;
  std::filesystem::create_directories(dir / "data");
  DataDirOptions options;
  options.read_only = true;
  auto reader = DataDir::open(dir / "data", options);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  EXPECT_EQ((*reader)->hard_state().current(), raft::HardState{});
  EXPECT_TRUE(std::filesystem::is_empty(dir / "data"));
}

}  // namespace
}  // namespace conclave::storage
