// SegmentedLog: truncating a suffix, compacting a prefix and resetting, at
// every boundary (inside the open segment, at a segment edge, inside a
// sealed segment, the first and last entries), each checked after reopen.
#include <gtest/gtest.h>

#include "sidecar/storage/segmented_log.h"
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

}  // namespace
}  // namespace conclave::storage
