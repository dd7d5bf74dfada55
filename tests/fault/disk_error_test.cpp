// EIO and ENOSPC through the file seam: after a failed write or fdatasync
// nothing more is acknowledged, the error says what happened, and the store
// stops accepting writes (fail-stop) instead of retrying. After a restart,
// recovery keeps everything that was acknowledged before the failure.
#include <gtest/gtest.h>

#include <thread>

#include "sidecar/storage/hard_state_store.h"
#include "sidecar/storage/segmented_log.h"
#include "sidecar/storage/snapshot_store.h"
#include "tests/fault/faulty_filesystem.h"
#include "tests/unit/storage/log_test_entries.h"
#include "tests/unit/storage/temp_dir.h"

namespace conclave::storage {
namespace {

using raft::Index;
using testing::entries;
using testing::FaultPlan;
using testing::FaultyFilesystem;
using testing::TempDir;

std::unique_ptr<SegmentedLog> open_log(Filesystem& fs, const TempDir& dir, LogOptions options = {}) {
  auto log = SegmentedLog::open(fs, dir / "log", options);
  EXPECT_TRUE(log.ok()) << log.error().message;
  return std::move(log).value();
}

TEST(DiskErrors, AFailedSyncAcknowledgesNothingAndStopsTheLog) {
  TempDir dir;
  FaultPlan plan;
  FaultyFilesystem fs(plan);
  auto log = open_log(fs, dir);
  ASSERT_TRUE(log->append(entries(1, 5)).ok());
  ASSERT_TRUE(log->sync().ok());
  ASSERT_TRUE(log->append(entries(6, 9)).ok());
  plan.syncs_left = 0;
  Status s = log->sync(Index(9));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kIo);
  EXPECT_NE(s.error().message.find("fdatasync"), std::string::npos) << s.error().message;
  EXPECT_EQ(log->durable_index(), Index(5));
  // Fail-stop: a later sync must not retry and "succeed".
  plan.syncs_left = -1;
  Status again = log->sync(Index(9));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kStopped);
  EXPECT_EQ(log->durable_index(), Index(5));
  EXPECT_EQ(log->append(entries(10, 10)).error().code, ErrorCode::kStopped);
  EXPECT_EQ(log->truncate_suffix(Index(7)).code(), ErrorCode::kStopped);
  EXPECT_EQ(plan.failures.load(), 1);
  // Reads of what is there still work (the node may be shutting down).
  EXPECT_EQ(log->read(Index(1), Index(5)).value(), entries(1, 5));
  log.reset();
  auto reopened = open_log(posix_filesystem(), dir);
  EXPECT_GE(reopened->last_index(), Index(5));
  EXPECT_EQ(reopened->read(Index(1), Index(5)).value(), entries(1, 5));
}

TEST(DiskErrors, EveryWaiterOfAFailedGroupCommitSeesTheError) {
  TempDir dir;
  FaultPlan plan;
  FaultyFilesystem fs(plan);
  auto log = open_log(fs, dir);
  plan.syncs_left = 0;
  std::mutex order;
  std::atomic<int> acknowledged{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      Result<Index> mine = Index(0);
      {
        std::lock_guard lock(order);
        Index next = log->last_index().next();
        mine = log->append(entries(next.value(), next.value()));
      }
      if (mine.ok() && log->sync(*mine).ok()) {
        ++acknowledged;
      } else {
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(acknowledged.load(), 0);
  EXPECT_EQ(refused.load(), 8);
  EXPECT_EQ(log->durable_index(), Index(0));
}

TEST(DiskErrors, DiskFullIsReportedBySyncAndStops) {
  TempDir dir;
  FaultPlan plan;
  FaultyFilesystem fs(plan);
  auto log = open_log(fs, dir);
  ASSERT_TRUE(log->append(entries(1, 3)).ok());
  ASSERT_TRUE(log->sync().ok());
  plan.write_bytes_left = 50;  // less than the next batch
  // append() only buffers; the write, and so the error, belong to sync().
  ASSERT_TRUE(log->append(entries(4, 6)).ok());
  Status synced = log->sync(Index(6));
  ASSERT_FALSE(synced.ok());
  EXPECT_EQ(synced.error().code, ErrorCode::kNoSpace);
  EXPECT_NE(synced.error().message.find("free space"), std::string::npos) << synced.error().message;
  EXPECT_EQ(log->durable_index(), Index(3));
  EXPECT_EQ(log->sync(Index(3)).code(), ErrorCode::kStopped);
  EXPECT_EQ(log->append(entries(7, 7)).error().code, ErrorCode::kStopped);
  log.reset();
  // The half-written batch is a torn tail to recovery: its whole records
  // may survive (never acknowledged, but intact), the partial one is cut.
  auto reopened = open_log(posix_filesystem(), dir);
  EXPECT_GE(reopened->last_index(), Index(3));
  EXPECT_LT(reopened->last_index(), Index(6));
  EXPECT_TRUE(reopened->recovery().torn_tail.has_value());
  EXPECT_EQ(reopened->read(Index(1), reopened->last_index()).value(), entries(1, reopened->last_index().value()));
}

TEST(DiskErrors, AFailedSyncWhileSealingASegmentStops) {
  TempDir dir;
  FaultPlan plan;
  FaultyFilesystem fs(plan);
  LogOptions options;
  options.segment_bytes_max = 200;
  auto log = open_log(fs, dir, options);
  ASSERT_TRUE(log->append(entries(1, 2, 1, 60)).ok());
  ASSERT_TRUE(log->sync().ok());
  plan.syncs_left = 0;
  EXPECT_EQ(log->append(entries(3, 4, 1, 60)).error().code, ErrorCode::kIo);
  EXPECT_EQ(log->durable_index(), Index(2));
  EXPECT_EQ(log->append(entries(3, 3)).error().code, ErrorCode::kStopped);
}

TEST(DiskErrors, HardStateSaveFailureIsFailStop) {
  TempDir dir;
  FaultPlan plan;
  FaultyFilesystem fs(plan);
  auto store = HardStateStore::open(fs, dir.path()).value();
  raft::HardState one{raft::Term(1), raft::NodeId(1), Index(0)};
  ASSERT_TRUE(store->save(one).ok());
  plan.syncs_left = 0;
  raft::HardState two{raft::Term(2), raft::NodeId(2), Index(0)};
  EXPECT_EQ(store->save(two).code(), ErrorCode::kIo);
  EXPECT_EQ(store->current(), one);  // not acknowledged, so not current
  plan.syncs_left = -1;
  EXPECT_EQ(store->save(two).code(), ErrorCode::kStopped);
}

TEST(DiskErrors, ASnapshotThatFailsToSyncIsNeverCommitted) {
  TempDir dir;
  FaultPlan plan;
  FaultyFilesystem fs(plan);
  auto store = SnapshotStore::open(fs, dir / "snap").value();
  {
    auto writer = store->begin(raft::SnapshotMeta{Index(10), raft::Term(1), {}}).value();
    ASSERT_TRUE(writer.write("data").ok());
    plan.syncs_left = 0;
    auto committed = writer.commit();
    ASSERT_FALSE(committed.ok());
    EXPECT_EQ(committed.error().code, ErrorCode::kIo);
  }
  plan.syncs_left = -1;
  EXPECT_FALSE(store->latest().has_value());
  plan.write_bytes_left = 100;
  {
    auto writer = store->begin(raft::SnapshotMeta{Index(11), raft::Term(1), {}}).value();
    EXPECT_EQ(writer.write(std::string(1000, 'x')).code(), ErrorCode::kNoSpace);
  }
  EXPECT_FALSE(store->latest().has_value());
}

}  // namespace
}  // namespace conclave::storage
