// The corruption test: flip a byte or cut a file at a seeded random offset,
// in sealed and open log segments, the hard state and snapshots, then
// reopen. Recovery must either cut a torn tail of the open segment or refuse
// with an error naming the file; it must never return an entry whose
// checksum fails and never drop an entry before the damage.
//
// Trials per kind: CONCLAVE_CORRUPTION_TRIALS (default 150); seed:
// CONCLAVE_CORRUPTION_SEED.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "sidecar/storage/hard_state_store.h"
#include "sidecar/storage/segment_format.h"
#include "sidecar/storage/segmented_log.h"
#include "sidecar/storage/snapshot_store.h"
#include "tests/unit/storage/log_test_entries.h"
#include "tests/unit/storage/temp_dir.h"

namespace conclave::storage {
namespace {

using raft::Index;
using testing::TempDir;
namespace fs = std::filesystem;

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

struct Damage {
  bool cut = false;  // else flip
  std::uint64_t offset = 0;
};

// Flips one byte at a random offset (by a random non-zero mask) or cuts the
// file there.
Damage damage(const std::string& path, std::mt19937_64& rng) {
  std::string bytes = testing::read_file(path);
  Damage d{rng() % 2 == 0, rng() % bytes.size()};
  if (d.cut) {
    bytes.resize(d.offset);
  } else {
    bytes[d.offset] = static_cast<char>(bytes[d.offset] ^ (1 + rng() % 255));
  }
  testing::write_file(path, bytes);
  return d;
}

std::string describe(const std::string& file, const Damage& d) {
  return file + (d.cut ? " cut at " : " flipped at ") + std::to_string(d.offset);
}

class Corruption : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::off);
    trials_ = env_or("CONCLAVE_CORRUPTION_TRIALS", 150);
    seed_ = env_or("CONCLAVE_CORRUPTION_SEED", 1);
  }
  void TearDown() override { spdlog::set_level(spdlog::level::info); }
  std::uint64_t trials_ = 0;
  std::uint64_t seed_ = 0;
};

TEST_F(Corruption, LogSegments) {
  TempDir pristine;
  LogOptions options;
  options.segment_bytes_max = 4096;
  std::vector<raft::Entry> written;
  {
    std::mt19937_64 rng(seed_);
    auto log = SegmentedLog::open(posix_filesystem(), pristine / "log", options).value();
    for (std::uint64_t i = 1; i <= 120; ++i) written.push_back(testing::entry(i, 1 + i / 50, rng() % 200));
    ASSERT_TRUE(log->append(written).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  std::vector<std::string> names = posix_filesystem().list(pristine / "log").value();
  // The next segment, zero-filled ahead of use, holds no records (recovery
  // deletes it; Preallocation.ALeftoverPreparedSegmentIsRemoved).
  std::erase(names, std::string(kPreparedSegmentName));
  ASSERT_GE(names.size(), 4u);
  ASSERT_EQ(names.front().rfind("open-", 0), 0u);  // sorts first
  std::mt19937_64 rng(seed_);
  std::uint64_t refused = 0;
  std::uint64_t cut = 0;
  for (std::uint64_t trial = 0; trial < trials_; ++trial) {
    TempDir work;
    fs::copy(pristine / "log", work / "log");
    const std::string& name = names[rng() % names.size()];
    std::string path = work / ("log/" + name);
    SegmentScan before = scan_segment(testing::read_file(path));
    Damage d = damage(path, rng);
    SCOPED_TRACE(describe(name, d) + " (seed " + std::to_string(seed_) + ")");
    bool open_segment = name.rfind("open-", 0) == 0;
    // The record the damage lands in (or the first one a cut removes).
    ASSERT_GE(before.offsets.size(), 2u);
    std::size_t hit = 0;
    for (std::size_t r = 0; r < before.offsets.size(); ++r) {
      if (before.offsets[r] <= d.offset) hit = r;
    }
    bool in_header = d.offset < kSegmentHeaderBytes;
    bool in_last_record = !in_header && hit + 1 == before.offsets.size();

    auto log = SegmentedLog::open(posix_filesystem(), work / "log", options);
    std::uint64_t first_in_file = before.first_index.value();
    std::uint64_t damaged_entry = first_in_file + hit;
    if (!open_segment || (!d.cut && !in_last_record)) {
      // A sealed segment, or a flip with valid records after it: refuse.
      ASSERT_FALSE(log.ok());
      EXPECT_EQ(log.error().code, ErrorCode::kCorrupt);
      EXPECT_NE(log.error().message.find(path), std::string::npos) << log.error().message;
      if (!in_header && open_segment) {
        EXPECT_NE(log.error().message.find("entry " + std::to_string(damaged_entry)), std::string::npos)
            << log.error().message;
      }
      ++refused;
      continue;
    }
    ++cut;
    ASSERT_TRUE(log.ok()) << log.error().message;
    // A cut keeps every record that ends at or before it; a flip in the last
    // record drops exactly that record.
    std::uint64_t kept = 0;
    if (d.cut) {
      for (std::size_t r = 0; r < before.offsets.size(); ++r) {
        std::uint64_t end = r + 1 < before.offsets.size() ? before.offsets[r + 1] : before.valid_bytes;
        if (end <= d.offset) kept = r + 1;
      }
    } else {
      kept = before.offsets.size() - 1;
    }
    EXPECT_EQ((*log)->last_index().value(), first_in_file + kept - 1);
    bool at_boundary = d.cut && (d.offset == kSegmentHeaderBytes ||
                                 std::count(before.offsets.begin(), before.offsets.end(), d.offset) > 0);
    EXPECT_EQ((*log)->recovery().torn_tail.has_value(), !at_boundary);
    if ((*log)->last_index().value() >= 1) {
      auto all = (*log)->read(Index(1), (*log)->last_index()).value();
      ASSERT_EQ(all.size(), (*log)->last_index().value());
      for (const auto& e : all) ASSERT_EQ(e, written[e.index.value() - 1]);
    }
  }
  std::printf("log corruption: %llu refused, %llu recovered by cutting the tail\n",
              static_cast<unsigned long long>(refused), static_cast<unsigned long long>(cut));
  if (trials_ >= 100) {
    EXPECT_GT(refused, 0u);
    EXPECT_GT(cut, 0u);
  }
}

TEST_F(Corruption, HardState) {
  TempDir pristine;
  std::vector<raft::HardState> saved;
  {
    auto store = HardStateStore::open(posix_filesystem(), pristine.path()).value();
    for (std::uint64_t i = 1; i <= 5; ++i) {
      saved.push_back({raft::Term(i), raft::NodeId(i), Index(i * 3)});
      ASSERT_TRUE(store->save(saved.back()).ok());
    }
  }
  // Sequences 2..6: the newest (6) sits in slot 0, the one before in slot 1.
  std::mt19937_64 rng(seed_);
  for (std::uint64_t trial = 0; trial < trials_; ++trial) {
    TempDir work;
    fs::copy_file(pristine / "hardstate", work / "hardstate");
    Damage d = damage(work / "hardstate", rng);
    SCOPED_TRACE(describe("hardstate", d));
    auto store = HardStateStore::open(posix_filesystem(), work.path());
    if (d.cut && d.offset < 52) {
      ASSERT_FALSE(store.ok());
      EXPECT_EQ(store.error().code, ErrorCode::kCorrupt);
      EXPECT_NE(store.error().message.find(work / "hardstate"), std::string::npos);
      continue;
    }
    ASSERT_TRUE(store.ok()) << store.error().message;
    bool newest_damaged = !d.cut && d.offset < 52;
    EXPECT_EQ((*store)->current(), newest_damaged ? saved[3] : saved[4]);
  }
}

TEST_F(Corruption, Snapshots) {
  TempDir pristine;
  std::string path;
  {
    auto store = SnapshotStore::open(posix_filesystem(), pristine / "snap").value();
    raft::Configuration config;
    config.voters = {raft::NodeId(1), raft::NodeId(2)};
    auto writer = store->begin(raft::SnapshotMeta{Index(77), raft::Term(3), config}).value();
    ASSERT_TRUE(writer.write(std::string(3000, 's')).ok());
    path = writer.commit().value().path;
  }
  std::string name = fs::path(path).filename();
  std::mt19937_64 rng(seed_);
  for (std::uint64_t trial = 0; trial < trials_; ++trial) {
    TempDir work;
    fs::copy(pristine / "snap", work / "snap");
    Damage d = damage(work / ("snap/" + name), rng);
    SCOPED_TRACE(describe(name, d));
    // Every byte of a snapshot is under a checksum or a magic number.
    auto store = SnapshotStore::open(posix_filesystem(), work / "snap");
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.error().code, ErrorCode::kCorrupt);
    EXPECT_NE(store.error().message.find(name), std::string::npos) << store.error().message;
  }
}

}  // namespace
}  // namespace conclave::storage
