// SegmentedLog: truncating a suffix, compacting a prefix and resetting, at
// every boundary (inside the open segment, at a segment edge, inside a
// sealed segment, the first and last entries), each checked after reopen.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "sidecar/storage/segmented_log.h"
#include "tests/fault/faulty_filesystem.h"
#include "tests/unit/storage/log_test_entries.h"
#include "tests/unit/storage/temp_dir.h"

namespace conclave::storage {
namespace {

using raft::Index;
using testing::entries;
using testing::TempDir;

// Four entries per segment: 1-4, 5-8 sealed, 9-10 open.
LogOptions four_per_segment() {
  LogOptions options;
  options.segment_bytes_max = 32 + 4 * (32 + 15);
  return options;
}

class LogEdges : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = open();
    ASSERT_TRUE(log_->append(entries(1, 10)).ok());
    ASSERT_TRUE(log_->sync().ok());
    ASSERT_EQ(log_->segment_count(), 3u);
  }
  std::unique_ptr<SegmentedLog> open() {
    auto log = SegmentedLog::open(posix_filesystem(), dir_ / "log", four_per_segment());
    EXPECT_TRUE(log.ok()) << log.error().message;
    return std::move(log).value();
  }
  void reopen() {
    log_.reset();
    log_ = open();
  }
  // The log holds exactly first..last of `term`, before and after reopen.
  void expect_holds(std::uint64_t first, std::uint64_t last) {
    for (int round = 0; round < 2; ++round) {
      EXPECT_EQ(log_->first_index(), Index(first));
      EXPECT_EQ(log_->last_index(), Index(last));
      if (last >= first) {
        EXPECT_EQ(log_->read(Index(first), Index(last)).value(), entries(first, last));
      }
      if (round == 0) reopen();
    }
  }
  TempDir dir_;
  std::unique_ptr<SegmentedLog> log_;
};

TEST_F(LogEdges, TruncateInsideTheOpenSegment) {
  ASSERT_TRUE(log_->truncate_suffix(Index(10)).ok());
  EXPECT_EQ(log_->durable_index(), Index(9));
  expect_holds(1, 9);
  EXPECT_EQ(log_->segment_count(), 3u);
}

TEST_F(LogEdges, TruncateAtTheOpenSegmentsFirstEntry) {
  ASSERT_TRUE(log_->truncate_suffix(Index(9)).ok());
  expect_holds(1, 8);
}

TEST_F(LogEdges, TruncateInsideASealedSegment) {
  ASSERT_TRUE(log_->truncate_suffix(Index(6)).ok());
  EXPECT_EQ(log_->durable_index(), Index(5));
  expect_holds(1, 5);
  EXPECT_EQ(log_->segment_count(), 2u);
  ASSERT_TRUE(log_->append(entries(6, 12, 2)).ok());
  ASSERT_TRUE(log_->sync().ok());
  reopen();
  EXPECT_EQ(log_->read(Index(6), Index(12)).value(), entries(6, 12, 2));
  EXPECT_EQ(log_->read(Index(5), Index(5)).value(), entries(5, 5, 1));
}

TEST_F(LogEdges, TruncateAtASealedSegmentsFirstEntry) {
  ASSERT_TRUE(log_->truncate_suffix(Index(5)).ok());
  expect_holds(1, 4);
}

TEST_F(LogEdges, TruncateEverything) {
  ASSERT_TRUE(log_->truncate_suffix(Index(1)).ok());
  EXPECT_EQ(log_->durable_index(), Index(0));
  expect_holds(1, 0);
  ASSERT_TRUE(log_->append(entries(1, 2, 3)).ok());
}

TEST_F(LogEdges, SyncOfATruncatedEntryIsRefusedNotAcknowledged) {
  ASSERT_TRUE(log_->append(entries(11, 13)).ok());
  ASSERT_TRUE(log_->truncate_suffix(Index(12)).ok());
  EXPECT_EQ(log_->sync(Index(13)).code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(log_->sync(Index(11)).ok());
  EXPECT_EQ(log_->durable_index(), Index(11));
}

TEST_F(LogEdges, TruncateBeyondTheEndChangesNothing) {
  ASSERT_TRUE(log_->truncate_suffix(Index(11)).ok());
  expect_holds(1, 10);
}

TEST_F(LogEdges, CompactRemovesOnlyWholeSealedSegments) {
  ASSERT_TRUE(log_->compact_prefix(Index(3)).ok());
  expect_holds(1, 10);
  ASSERT_TRUE(log_->compact_prefix(Index(4)).ok());
  expect_holds(5, 10);
  ASSERT_TRUE(log_->compact_prefix(Index(9)).ok());
  expect_holds(9, 10);  // the open segment stays
  EXPECT_EQ(log_->segment_count(), 1u);
  EXPECT_EQ(log_->read(Index(8), Index(9)).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(LogEdges, CompactPastTheEndKeepsTheOpenSegment) {
  ASSERT_TRUE(log_->compact_prefix(Index(100)).ok());
  expect_holds(9, 10);
  ASSERT_TRUE(log_->append(entries(11, 11)).ok());
}

TEST_F(LogEdges, TruncateBeforeTheFirstHeldEntryIsRefused) {
  ASSERT_TRUE(log_->compact_prefix(Index(8)).ok());
  EXPECT_EQ(log_->truncate_suffix(Index(8)).error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(log_->truncate_suffix(Index(9)).ok());
  expect_holds(9, 8);
  ASSERT_TRUE(log_->append(entries(9, 9, 2)).ok());
}

TEST_F(LogEdges, ResetDropsEverythingAndStartsWhereTold) {
  ASSERT_TRUE(log_->reset(Index(500)).ok());
  EXPECT_EQ(log_->durable_index(), Index(499));
  expect_holds(500, 499);
  EXPECT_EQ(log_->segment_count(), 1u);
  ASSERT_TRUE(log_->append(entries(500, 501)).ok());
  ASSERT_TRUE(log_->sync().ok());
  reopen();
  EXPECT_EQ(log_->read(Index(500), Index(501)).value(), entries(500, 501));
}

// Compaction drops segments at once and deletes their files on the log's
// background thread: deleting a large file blocks for as long as freeing its
// blocks takes.
class LogCompactionDeletes : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = open();
    ASSERT_TRUE(log_->append(entries(1, 10)).ok());
    ASSERT_TRUE(log_->sync().ok());
  }
  std::unique_ptr<SegmentedLog> open() {
    LogOptions options = four_per_segment();
    options.preallocate = false;  // the only removals are the test's
    auto log = SegmentedLog::open(fs_, dir_ / "log", options);
    EXPECT_TRUE(log.ok()) << log.error().message;
    return std::move(log).value();
  }
  bool on_disk(const std::string& name) { return posix_filesystem().exists(dir_ / ("log/" + name)); }

  static constexpr const char* kFirst = "segment-00000000000000000001-00000000000000000004";
  static constexpr const char* kSecond = "segment-00000000000000000005-00000000000000000008";
  TempDir dir_;
  testing::FaultPlan plan_;
  testing::FaultyFilesystem fs_{plan_};
  std::unique_ptr<SegmentedLog> log_;
};

TEST_F(LogCompactionDeletes, CompactReturnsBeforeTheFilesAreDeletedAndTheLogGoesOn) {
  plan_.hold_removals = true;
  ASSERT_TRUE(log_->compact_prefix(Index(8)).ok());
  EXPECT_EQ(plan_.removals_finished.load(), 0) << "compact_prefix waited for a deletion";
  EXPECT_EQ(log_->first_index(), Index(9));
  ASSERT_TRUE(log_->append(entries(11, 11)).ok());
  ASSERT_TRUE(log_->sync().ok());
  plan_.hold_removals = false;
  log_.reset();  // a closed log has deleted what compaction dropped
  EXPECT_FALSE(on_disk(kFirst));
  EXPECT_FALSE(on_disk(kSecond));
  log_ = open();
  EXPECT_EQ(log_->first_index(), Index(9));
  EXPECT_EQ(log_->read(Index(9), Index(11)).value(), entries(9, 11));
}

TEST_F(LogCompactionDeletes, ResetDeletesTheCompactedFilesBeforeItsOwn) {
  // A compacted prefix left on disk beside the reset's new segment would
  // be a gap to recovery.
  bool prefix_was_on_disk = false;
  plan_.on_remove = [&](const std::string& path) {
    if (path.find("open-") != std::string::npos) prefix_was_on_disk |= on_disk(kFirst) || on_disk(kSecond);
  };
  plan_.hold_removals = true;
  ASSERT_TRUE(log_->compact_prefix(Index(8)).ok());
  std::thread release([&] {
    while (plan_.removals_started.load() == 0) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    plan_.hold_removals = false;
  });
  ASSERT_TRUE(log_->reset(Index(500)).ok());
  release.join();
  EXPECT_FALSE(prefix_was_on_disk);
  auto names = posix_filesystem().list(dir_ / "log").value();
  EXPECT_EQ(names, std::vector<std::string>{"open-00000000000000000500"});
}

// Freeing a large file's blocks at once stalled every fdatasync that
// needed the filesystem's journal meanwhile; an unlinked segment is cut
// down in steps first, and only once its name is gone for good.
TEST(LogCompactionReleases, AnUnlinkedSegmentIsCutDownInStepsBeforeItIsClosed) {
  TempDir dir;
  testing::FaultPlan plan;
  std::mutex mu;
  std::vector<std::uint64_t> cuts;
  bool unlinked = false;
  bool cut_before_unlink = false;
  // The first segment, by either of its names (the file keeps the one it
  // was opened with, open-...).
  const std::string first = "-00000000000000000001";
  plan.on_remove = [&](const std::string& path) {
    std::lock_guard lock(mu);
    if (path.find(first) != std::string::npos) unlinked = true;
  };
  plan.on_truncate = [&](const std::string& path, std::uint64_t size) {
    std::lock_guard lock(mu);
    if (path.find(first) == std::string::npos) return;
    if (!unlinked) cut_before_unlink = true;
    cuts.push_back(size);
  };
  testing::FaultyFilesystem fs{plan};
  LogOptions options = four_per_segment();
  options.preallocate = false;
  options.release_step_bytes = 40;
  auto log = SegmentedLog::open(fs, dir / "log", options).value();
  ASSERT_TRUE(log->append(entries(1, 10)).ok());
  ASSERT_TRUE(log->sync().ok());
  const std::uint64_t size =
      std::filesystem::file_size(dir / "log/segment-00000000000000000001-00000000000000000004");
  const std::size_t steps = (size - 1) / 40;
  ASSERT_TRUE(log->compact_prefix(Index(4)).ok());
  // A log that is closing frees what is left at once; this one stays open
  // until the background thread made every cut (or a bound passed).
  auto cuts_made = [&] {
    std::lock_guard lock(mu);
    return cuts.size();
  };
  for (int i = 0; i < 5000 && cuts_made() < steps; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  log.reset();

  std::lock_guard lock(mu);
  EXPECT_FALSE(cut_before_unlink) << "a segment was cut while recovery could still find it";
  ASSERT_EQ(cuts.size(), steps) << "segment of " << size << " bytes";
  std::uint64_t before = size;
  for (std::uint64_t cut : cuts) {
    EXPECT_EQ(cut, before - 40);
    before = cut;
  }
}

TEST_F(LogCompactionDeletes, AFailedDeletionStopsTheLogAndLosesNothing) {
  plan_.remove_errno = EIO;
  ASSERT_TRUE(log_->compact_prefix(Index(8)).ok());
  while (plan_.removals_finished.load() == 0) std::this_thread::yield();
  // The failure is recorded just after the removal returns: wait for it.
  auto appended = log_->append(entries(11, 11));
  for (int i = 0; appended.ok() && i < 1000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    appended = log_->append(entries(appended.value().value() + 1, appended.value().value() + 1));
  }
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.error().code, ErrorCode::kStopped);
  EXPECT_NE(appended.error().message.find(kFirst), std::string::npos) << appended.error().message;
  EXPECT_EQ(plan_.removals_started.load(), 1) << "deleting went on past a failure, which can leave a gap";

  plan_.remove_errno = 0;
  log_.reset();
  log_ = open();
  EXPECT_EQ(log_->first_index(), Index(1)) << "the segments whose deletion failed are still the log";
  EXPECT_EQ(log_->read(Index(1), Index(10)).value(), entries(1, 10));
}

}  // namespace
}  // namespace conclave::storage
