// SegmentedLog: append, sync, read, rollover, reopen, and the boundaries of
// each. Truncation and compaction are in log_truncate_compact_test.cpp.
#include "sidecar/storage/segmented_log.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/fault/faulty_filesystem.h"
#include "tests/unit/storage/log_test_entries.h"
#include "tests/unit/storage/temp_dir.h"

namespace conclave::storage {
namespace {

using raft::Index;
using testing::entries;
using testing::entry;
using testing::TempDir;

std::unique_ptr<SegmentedLog> open_log(const TempDir& dir, LogOptions options = {}) {
  auto log = SegmentedLog::open(posix_filesystem(), dir / "log", options);
  if (!log) ADD_FAILURE() << log.error().message;
  return log ? std::move(log).value() : nullptr;
}

TEST(SegmentedLog, EmptyLogStartsAtOne) {
  TempDir dir;
  auto log = open_log(dir);
  EXPECT_EQ(log->first_index(), Index(1));
  EXPECT_EQ(log->last_index(), Index(0));
  EXPECT_EQ(log->durable_index(), Index(0));
  EXPECT_TRUE(log->sync().ok());
  EXPECT_EQ(log->read(Index(1), Index(1)).error().code, ErrorCode::kInvalidArgument);
}

TEST(SegmentedLog, EmptyLogCanStartElsewhere) {
  TempDir dir;
  LogOptions options;
  options.first_index_if_empty = Index(100);
  auto log = open_log(dir, options);
  EXPECT_EQ(log->first_index(), Index(100));
  EXPECT_EQ(log->last_index(), Index(99));
  EXPECT_EQ(log->append(entries(1, 1)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(log->append(entries(100, 101)).value(), Index(101));
}

TEST(SegmentedLog, AppendIsNotDurableUntilSynced) {
  TempDir dir;
  auto log = open_log(dir);
  EXPECT_EQ(log->append(entries(1, 3)).value(), Index(3));
  EXPECT_EQ(log->last_index(), Index(3));
  EXPECT_EQ(log->durable_index(), Index(0));
  ASSERT_TRUE(log->sync(Index(2)).ok());
  EXPECT_EQ(log->durable_index(), Index(3));  // one sync covers all appended
  EXPECT_EQ(log->sync(Index(4)).error().code, ErrorCode::kInvalidArgument);
}

TEST(SegmentedLog, AppendRefusesGapsAndOverlaps) {
  TempDir dir;
  auto log = open_log(dir);
  ASSERT_TRUE(log->append(entries(1, 3)).ok());
  EXPECT_EQ(log->append(entries(5, 5)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(log->append(entries(3, 4)).error().code, ErrorCode::kInvalidArgument);
  std::vector<raft::Entry> gap = {entry(4), entry(6)};
  EXPECT_EQ(log->append(gap).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(log->last_index(), Index(3));  // nothing of a refused batch went in
  EXPECT_EQ(log->append({}).value(), Index(3));
}

TEST(SegmentedLog, ReadReturnsExactlyTheRange) {
  TempDir dir;
  auto log = open_log(dir);
  ASSERT_TRUE(log->append(entries(1, 10)).ok());
  EXPECT_EQ(log->read(Index(1), Index(10)).value(), entries(1, 10));
  EXPECT_EQ(log->read(Index(4), Index(4)).value(), entries(4, 4));
  EXPECT_EQ(log->read(Index(10), Index(10)).value(), entries(10, 10));
  EXPECT_EQ(log->read(Index(0), Index(3)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(log->read(Index(9), Index(11)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(log->read(Index(5), Index(4)).error().code, ErrorCode::kInvalidArgument);
}

TEST(SegmentedLog, ReadStopsAtTheByteBudgetButReturnsAtLeastOne) {
  TempDir dir;
  auto log = open_log(dir);
  ASSERT_TRUE(log->append(entries(1, 10, 1, 100)).ok());
  EXPECT_EQ(log->read(Index(1), Index(10), 1).value().size(), 1u);
  std::size_t record = 32 + entry(1, 1, 100).data.size();
  EXPECT_EQ(log->read(Index(1), Index(10), 3 * record).value().size(), 3u);
  EXPECT_EQ(log->read(Index(1), Index(10), 3 * record - 1).value().size(), 2u);
}

TEST(SegmentedLog, ReopenFindsEverySyncedEntry) {
  TempDir dir;
  {
    auto log = open_log(dir);
    ASSERT_TRUE(log->append(entries(1, 50)).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  auto log = open_log(dir);
  EXPECT_EQ(log->first_index(), Index(1));
  EXPECT_EQ(log->last_index(), Index(50));
  EXPECT_EQ(log->durable_index(), Index(50));
  EXPECT_EQ(log->read(Index(1), Index(50)).value(), entries(1, 50));
  EXPECT_FALSE(log->recovery().torn_tail.has_value());
  ASSERT_TRUE(log->append(entries(51, 51)).ok());
}

TEST(SegmentedLog, RollsOverAtTheSegmentSizeAndReadsAcrossSegments) {
  TempDir dir;
  LogOptions options;
  options.segment_bytes_max = 32 + 4 * (32 + 40);  // four records per segment
  {
    auto log = open_log(dir, options);
    ASSERT_TRUE(log->append(entries(1, 10, 1, 40 - entry(1).data.size())).ok());
    ASSERT_TRUE(log->sync().ok());
    EXPECT_EQ(log->segment_count(), 3u);
  }
  auto names = posix_filesystem().list(dir / "log").value();
  // A segment being zero-filled ahead of use may sit beside them.
  std::erase(names, std::string(kPreparedSegmentName));
  EXPECT_EQ(names, (std::vector<std::string>{"open-00000000000000000009",
                                             "segment-00000000000000000001-00000000000000000004",
                                             "segment-00000000000000000005-00000000000000000008"}));
  auto log = open_log(dir, options);
  EXPECT_EQ(log->segment_count(), 3u);
  auto all = log->read(Index(1), Index(10)).value();
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all[9].index, Index(10));
  EXPECT_EQ(log->read(Index(4), Index(5)).value().size(), 2u);
}

TEST(SegmentedLog, AnEntryLargerThanASegmentGetsItsOwn) {
  TempDir dir;
  LogOptions options;
  options.segment_bytes_max = 100;
  auto log = open_log(dir, options);
  ASSERT_TRUE(log->append(entries(1, 3, 1, 500)).ok());
  EXPECT_EQ(log->segment_count(), 3u);
  EXPECT_EQ(log->read(Index(1), Index(3)).value(), entries(1, 3, 1, 500));
}

TEST(SegmentedLog, ConcurrentAppendersShareSyncs) {
  TempDir dir;
  auto log = open_log(dir);
  std::mutex order;  // appenders take the next index in turn
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        Index mine;
        {
          std::lock_guard lock(order);
          mine = log->append(entries(log->last_index().value() + 1, log->last_index().value() + 1)).value();
        }
        ASSERT_TRUE(log->sync(mine).ok());
        EXPECT_GE(log->durable_index(), mine);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(log->durable_index(), Index(200));
  EXPECT_EQ(log->read(Index(1), Index(200)).value(), entries(1, 200));
}

// The node's applications read committed entries while the next batch
// syncs on another thread; a read of what is already in the file must not
// wait for that fdatasync (it would stall the node's loop behind it).
TEST(SegmentedLog, ReadingWrittenEntriesDoesNotWaitForARunningSync) {
  TempDir dir;
  testing::FaultPlan plan;
  testing::FaultyFilesystem fs(plan);
  LogOptions options;
  options.preallocate = false;  // no preparer thread syncing behind the test's back
  auto opened = SegmentedLog::open(fs, dir / "log", options);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto log = std::move(opened).value();
  ASSERT_TRUE(log->append(entries(1, 3)).ok());
  ASSERT_TRUE(log->sync().ok());
  ASSERT_TRUE(log->append(entries(4, 5)).ok());

  plan.hold_syncs = true;
  const long started = plan.syncs_started.load();
  const long finished = plan.syncs_finished.load();
  std::thread syncer([&] { EXPECT_TRUE(log->sync(Index(5)).ok()); });
  while (plan.syncs_started.load() == started) std::this_thread::yield();

  EXPECT_EQ(log->read(Index(1), Index(3)).value(), entries(1, 3));
  EXPECT_EQ(plan.syncs_finished.load(), finished) << "the read waited for the sync of entries 4-5";

  plan.hold_syncs = false;
  syncer.join();
  EXPECT_EQ(log->read(Index(1), Index(5)).value(), entries(1, 5));
}

TEST(SegmentedLog, ReadDetectsDamageAfterOpen) {
  TempDir dir;
  auto log = open_log(dir);
  ASSERT_TRUE(log->append(entries(1, 3)).ok());
  ASSERT_TRUE(log->sync().ok());
  std::string path = dir / "log/open-00000000000000000001";
  std::string bytes = testing::read_file(path);
  bytes[bytes.size() - 3] ^= 1;
  testing::write_file(path, bytes);
  auto read = log->read(Index(3), Index(3));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(read.error().message.find(path), std::string::npos) << read.error().message;
  EXPECT_EQ(log->read(Index(1), Index(2)).value(), entries(1, 2));
}

TEST(SegmentedLog, IgnoresForeignFilesButSaysSo) {
  TempDir dir;
  { auto log = open_log(dir); }
  testing::write_file(dir / "log/README", "notes");
  auto log = open_log(dir);
  EXPECT_EQ(log->last_index(), Index(0));
}

}  // namespace
}  // namespace conclave::storage
