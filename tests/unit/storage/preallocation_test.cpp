// Segments zero-filled ahead of use: they are used, sealed without their
// zero tail, recovered without cutting it, and a torn record inside it is
// still cut. The format rules are in segmented_log.h (PREALLOCATION).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sidecar/storage/segment_format.h"
#include "sidecar/storage/segmented_log.h"
#include "tests/unit/storage/log_test_entries.h"
#include "tests/unit/storage/temp_dir.h"

namespace conclave::storage {
namespace {

using raft::Index;
using testing::entries;
using testing::entry;
using testing::open_segment_path;
using testing::read_file;
using testing::TempDir;

constexpr std::uint64_t kSegmentBytes = 4096;

LogOptions small_segments() {
  LogOptions options;
  options.segment_bytes_max = kSegmentBytes;
  return options;
}

std::unique_ptr<SegmentedLog> open_log(const TempDir& dir) {
  auto log = SegmentedLog::open(posix_filesystem(), dir / "log", small_segments());
  if (!log) ADD_FAILURE() << log.error().message;
  return log ? std::move(log).value() : nullptr;
}

// Appends and syncs one entry at a time until `count` open segments were
// made from prepared files (the preparer runs on its own thread, so this
// waits for it rather than assuming its speed). Returns the last index.
std::uint64_t fill_until_preallocated(SegmentedLog& log, std::uint64_t count) {
  std::uint64_t next = log.last_index().value() + 1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (log.preallocated_segments() < count && std::chrono::steady_clock::now() < deadline) {
    EXPECT_TRUE(log.append(entries(next, next, 1, 100)).ok());
    EXPECT_TRUE(log.sync().ok());
    ++next;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  EXPECT_GE(log.preallocated_segments(), count) << "the preparer never delivered";
  return next - 1;
}

// A log whose open segment was zero-filled ahead of use, closed; returns
// its last index.
std::uint64_t closed_log_in_a_preallocated_segment(const TempDir& dir) {
  auto log = open_log(dir);
  return fill_until_preallocated(*log, 1);
}

TEST(Preallocation, OpenSegmentsComeZeroFilledAndSealedOnesAreCutToTheirRecords) {
  TempDir dir;
  auto log = open_log(dir);
  std::uint64_t last = fill_until_preallocated(*log, 2);
  EXPECT_EQ(std::filesystem::file_size(open_segment_path(dir / "log")), kSegmentBytes);
  for (const auto& f : std::filesystem::directory_iterator(dir / "log")) {
    if (f.path().filename().string().rfind("segment-", 0) != 0) continue;
    SegmentScan scan = scan_segment(read_file(f.path().string()));
    EXPECT_EQ(scan.end, ScanEnd::kClean) << f.path();
    EXPECT_EQ(scan.zero_tail_bytes, 0u) << f.path() << " was sealed with its zero tail";
  }
  EXPECT_EQ(log->read(Index(1), Index(last)).value(), entries(1, last, 1, 100));
}

TEST(Preallocation, RecoveryKeepsTheZeroTailAndReportsNothing) {
  TempDir dir;
  std::uint64_t last = closed_log_in_a_preallocated_segment(dir);
  std::string open = open_segment_path(dir / "log");
  ASSERT_EQ(std::filesystem::file_size(open), kSegmentBytes);
  {
    auto log = open_log(dir);
    EXPECT_FALSE(log->recovery().torn_tail.has_value()) << *log->recovery().torn_tail;
    EXPECT_EQ(log->last_index(), Index(last));
    EXPECT_EQ(log->durable_index(), Index(last));
    EXPECT_EQ(std::filesystem::file_size(open), kSegmentBytes);
    // Appends go on over the zeros, and survive another reopen.
    ASSERT_TRUE(log->append(entries(last + 1, last + 2, 1, 100)).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  auto log = open_log(dir);
  EXPECT_FALSE(log->recovery().torn_tail.has_value());
  EXPECT_EQ(log->read(Index(1), Index(last + 2)).value(), entries(1, last + 2, 1, 100));
}

TEST(Preallocation, ATornRecordInsideTheZeroTailIsCut) {
  TempDir dir;
  std::uint64_t last = closed_log_in_a_preallocated_segment(dir);
  std::string open = open_segment_path(dir / "log");
  std::uint64_t end = scan_segment(read_file(open)).valid_bytes;
  ASSERT_LT(end + 40, kSegmentBytes);
  {
    // The first bytes of a record that never finished.
    std::fstream f(open, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(end));
    f << std::string(20, '\x7f');
  }
  auto log = open_log(dir);
  ASSERT_TRUE(log->recovery().torn_tail.has_value());
  EXPECT_EQ(log->last_index(), Index(last));
  EXPECT_EQ(std::filesystem::file_size(open), end);
  ASSERT_TRUE(log->append(entries(last + 1, last + 1, 1, 100)).ok());
  ASSERT_TRUE(log->sync().ok());
  EXPECT_EQ(log->read(Index(last), Index(last + 1)).value(), entries(last, last + 1, 1, 100));
}

TEST(Preallocation, AnAllZeroOpenSegmentGetsItsHeaderBack) {
  // A crash after prepared-segment was renamed, before its header was synced.
  TempDir dir;
  { open_log(dir); }
  std::string open = open_segment_path(dir / "log");
  { std::ofstream(open, std::ios::binary | std::ios::trunc) << std::string(kSegmentBytes, '\0'); }
  auto log = open_log(dir);
  EXPECT_TRUE(log->recovery().torn_tail.has_value());
  EXPECT_EQ(log->first_index(), Index(1));
  ASSERT_TRUE(log->append(entries(1, 3)).ok());
  ASSERT_TRUE(log->sync().ok());
  EXPECT_EQ(log->read(Index(1), Index(3)).value(), entries(1, 3));
}

TEST(Preallocation, ALeftoverPreparedSegmentIsRemoved) {
  TempDir dir;
  {
    auto log = open_log(dir);
    ASSERT_TRUE(log->append(entries(1, 2)).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  std::string prepared = dir / "log" + "/" + kPreparedSegmentName;
  { std::ofstream(prepared, std::ios::binary) << std::string(100, '\0') << "partly"; }
  auto log = open_log(dir);
  EXPECT_FALSE(std::filesystem::exists(prepared));
  EXPECT_EQ(log->last_index(), Index(2));
}

TEST(Preallocation, TruncatingInsideAPreallocatedSegmentCutsTheFile) {
  TempDir dir;
  std::uint64_t last = 0;
  {
    auto log = open_log(dir);
    last = fill_until_preallocated(*log, 1);
    ASSERT_TRUE(log->append(entries(last + 1, last + 3, 1, 100)).ok());
    ASSERT_TRUE(log->sync().ok());
    ASSERT_TRUE(log->truncate_suffix(Index(last + 2)).ok());
    std::string open = open_segment_path(dir / "log");
    EXPECT_EQ(std::filesystem::file_size(open), scan_segment(read_file(open)).valid_bytes);
  }
  auto log = open_log(dir);
  EXPECT_EQ(log->last_index(), Index(last + 1));
  EXPECT_FALSE(log->recovery().torn_tail.has_value());
}

std::uint64_t prepared_bytes(const TempDir& dir) {
  std::error_code ec;
  auto size = std::filesystem::file_size(dir / "log" + "/" + kPreparedSegmentName, ec);
  return ec ? 0 : size;
}

// Waits (up to 30 s: the preparer runs on its own thread) until `done`.
template <typename Done>
bool wait_for(Done done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

LogOptions one_mib_segments() {
  LogOptions options;
  options.segment_bytes_max = 1u << 20;
  return options;
}

// The fill keeps pace with the open segment instead of writing the whole
// next segment at once: a chunk (256 KiB) goes when the open segment holds
// half the bytes the fill will then have written. Written at once, the
// zeros went out in one burst that every commit's fdatasync waited behind.
TEST(Preallocation, TheFillKeepsPaceWithTheOpenSegment) {
  TempDir dir;
  auto log = SegmentedLog::open(posix_filesystem(), dir / "log", one_mib_segments()).value();
  // Pacing by growth is for an open segment that was itself preallocated.
  std::uint64_t next = fill_until_preallocated(*log, 1) + 1;
  const std::string open = open_segment_path(dir / "log");
  auto append_through = [&](std::uint64_t open_bytes) {
    while (scan_segment(read_file(open)).valid_bytes < open_bytes) {
      ASSERT_TRUE(log->append(entries(next, next, 1, 1000)).ok());
      ASSERT_TRUE(log->sync().ok());
      ++next;
    }
  };

  // 300 KiB in the open segment allows two chunks, and no more.
  append_through(300u << 10);
  ASSERT_TRUE(wait_for([&] { return prepared_bytes(dir) >= (512u << 10); }))
      << "the fill had not started with the open segment at 300 KiB: " << prepared_bytes(dir);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(prepared_bytes(dir), 512u << 10) << "the fill ran ahead of the open segment";

  // Half full: the fill finishes, and the next segment is the prepared one.
  append_through(512u << 10);
  ASSERT_TRUE(wait_for([&] { return prepared_bytes(dir) == (1u << 20); }));
  append_through((1u << 20) - 2000);
  while (log->preallocated_segments() == 1 && next < 5000) {
    ASSERT_TRUE(log->append(entries(next, next, 1, 1000)).ok());
    ++next;
  }
  EXPECT_EQ(log->preallocated_segments(), 2u);
  EXPECT_EQ(log->read(Index(next - 1), Index(next - 1)).value(), entries(next - 1, next - 1, 1, 1000));
}

// A segment that grows with each append makes every fdatasync write the
// file's size and blocks too. A new log's first segment is one: the fill
// runs by time, however slowly the log grows, and the next append moves on
// to the prepared segment.
TEST(Preallocation, ANewLogsGrowingSegmentGivesWayToAPreparedOne) {
  TempDir dir;
  std::uint64_t last = 0;
  {
    auto log = SegmentedLog::open(posix_filesystem(), dir / "log", one_mib_segments()).value();
    ASSERT_TRUE(log->append(entries(1, 1, 1, 100)).ok());
    ASSERT_TRUE(log->sync().ok());
    ASSERT_TRUE(wait_for([&] { return prepared_bytes(dir) == (1u << 20); }))
        << "one small entry, and the fill stopped at " << prepared_bytes(dir);
    EXPECT_EQ(log->preallocated_segments(), 0u);
    // Appends go on while the filled file is synced; then the next one
    // seals the growing segment and moves on.
    last = fill_until_preallocated(*log, 1);
    EXPECT_TRUE(std::filesystem::exists(dir / "log" + "/" + sealed_segment_name(Index(1), Index(last - 1))));
    EXPECT_EQ(std::filesystem::file_size(open_segment_path(dir / "log")), 1u << 20);
  }
  auto log = SegmentedLog::open(posix_filesystem(), dir / "log", one_mib_segments()).value();
  EXPECT_FALSE(log->recovery().torn_tail.has_value());
  EXPECT_EQ(log->read(Index(1), Index(last)).value(), entries(1, last, 1, 100));
}

// A suffix truncation cuts the open segment to its records, so it grows
// again: it too gives way once the next prepared segment is ready, which
// the fill, now paced by time, brings without waiting for growth.
TEST(Preallocation, ASegmentCutByATruncationGivesWayToo) {
  TempDir dir;
  auto log = SegmentedLog::open(posix_filesystem(), dir / "log", one_mib_segments()).value();
  std::uint64_t last = fill_until_preallocated(*log, 1);
  ASSERT_TRUE(log->append(entries(last + 1, last + 3, 1, 100)).ok());
  ASSERT_TRUE(log->sync().ok());
  ASSERT_TRUE(log->truncate_suffix(Index(last + 2)).ok());
  ASSERT_TRUE(wait_for([&] { return prepared_bytes(dir) == (1u << 20); }))
      << "the open segment was cut, and the fill stopped at " << prepared_bytes(dir);
  ASSERT_TRUE(log->append(entries(last + 2, last + 2, 2, 100)).ok());
  ASSERT_TRUE(log->sync().ok());
  const std::uint64_t moved_at = fill_until_preallocated(*log, 2);
  EXPECT_TRUE(std::filesystem::exists(dir / "log" + "/" +
                                      sealed_segment_name(Index(last), Index(moved_at - 1))));
  EXPECT_EQ(log->read(Index(last + 1), Index(last + 2)).value()[1], entry(last + 2, 2, 100));
}

TEST(Preallocation, OffMeansNoPreparedFiles) {
  TempDir dir;
  LogOptions options = small_segments();
  options.preallocate = false;
  auto log = SegmentedLog::open(posix_filesystem(), dir / "log", options).value();
  for (std::uint64_t i = 1; i <= 200; ++i) ASSERT_TRUE(log->append(entries(i, i, 1, 100)).ok());
  ASSERT_TRUE(log->sync().ok());
  EXPECT_EQ(log->preallocated_segments(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir / "log" + "/" + kPreparedSegmentName));
}

}  // namespace
}  // namespace conclave::storage
