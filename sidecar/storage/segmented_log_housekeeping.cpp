// SegmentedLog's background thread: the file work that no appender should
// wait for. It zero-fills the next segment ahead of use (PREALLOCATION in
// segmented_log.h) and deletes the segments compaction dropped.
//
// The fill is paced by the open segment's appends: a chunk goes only once
// the open segment holds half as many bytes as the fill will then have
// written, so the fill ends as the open segment reaches half full. Written
// at the disk's full speed, the 64 MiB went out in a fraction of a second,
// and every commit's fdatasync in that time flushed zeros with its record:
// at 4 x 16 in conclave-bench (three nodes on one disk), p99.9 commit
// latency was 23 ms with the fill and 4 ms without it.
//
// An open segment that grows with each append (PREALLOCATION in
// segmented_log.h) is left as soon as the fill ends, so while one is open
// the fill also goes by time, a chunk every kTimedFillPause. A fresh
// cluster's first segment was one, and at one proposal in flight its log
// grows so slowly that it stayed there for minutes: p50 commit latency in
// conclave-bench --clients 1 --inflight 1 --leader-only was 485 us there,
// 412 us in a prepared segment.
//
// Deleting is slow enough to matter. Closing the last descriptor of an
// unlinked 64 MiB segment frees its blocks, and on ext4 that took 125 ms
// (perf trace, during a conclave-bench run at saturation); the unlink and
// the directory sync after it took another 8 ms. The node compacts on its
// event loop after every application snapshot, so done inline this stalled
// every commit of the cluster about every three seconds and set its
// p99.9 latency.
//
// Off the loop was not enough. The freeing goes into the filesystem's
// journal, and every fdatasync that commits metadata meanwhile (a segment's
// seal, a directory sync, a snapshot) waits for it: with three nodes on one
// disk, p99.9 commit latency at 4 x 256 was 41 ms with the deletions and
// 16 ms without. An unlinked segment is therefore cut down a few MiB at a
// time (gradual_release.h) and closed once small: 41 -> 14 ms. The name is
// gone (durably) before the first cut, so a crash midway leaves an orphan
// the filesystem reclaims, not a damaged segment.
//
// Retired segments are deleted oldest first, each deletion made durable
// before the next, so a crash at any point leaves a suffix of the log on
// disk, as compaction always did (recovery compacts a leftover prefix again
// behind the snapshot). A failed deletion stops the log, as a failed
// deletion inline did: the caller hears of it from its next call.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "sidecar/storage/gradual_release.h"
#include "sidecar/storage/segmented_log.h"

namespace conclave::storage {

std::string SegmentedLog::prepared_path() const { return dir_ + "/" + kPreparedSegmentName; }

void SegmentedLog::start_housekeeper() {
  if (!housekeeper_.joinable()) housekeeper_ = std::thread([this] { housekeeping(); });
  housekeeping_wake_.notify_one();
}

void SegmentedLog::want_prepared_segment() {
  if (!options_.preallocate || options_.read_only || prepared_ready_ || prepare_wanted_ || failed_) return;
  prepare_wanted_ = true;
  start_housekeeper();
}

std::uint64_t SegmentedLog::next_fill_end() const {
  return std::min(prepared_bytes_ + kZeroFillChunkBytes, options_.segment_bytes_max);
}

bool SegmentedLog::may_fill_next_chunk() {
  if (!prepare_wanted_) return false;
  if (segments_.empty() || segments_.back().end * 2 >= next_fill_end()) return true;
  if (fill_paced_by_time() && std::chrono::steady_clock::now() >= timed_fill_due_) return true;
  fill_wake_at_ = (next_fill_end() + 1) / 2;
  return false;
}

bool SegmentedLog::fill_paced_by_time() const {
  return prepare_wanted_ && !segments_.empty() && !segments_.back().preallocated;
}

bool SegmentedLog::gives_way(const Segment& open) const {
  return prepared_ready_ && !open.preallocated && !open.empty();
}

void SegmentedLog::wake_paced_fill() {
  if (segments_.back().end < fill_wake_at_) return;
  fill_wake_at_ = std::numeric_limits<std::uint64_t>::max();
  housekeeping_wake_.notify_one();
}

void SegmentedLog::retire_segment(Segment& segment) {
  retired_.push_back(Retired{path_of(segment), std::move(segment.file)});
  start_housekeeper();
}

void SegmentedLog::wait_for_retired(std::unique_lock<std::mutex>& lock) {
  retired_done_.wait(lock, [this] { return retired_.empty() || failed_.has_value(); });
}

void SegmentedLog::housekeeping() {
  std::unique_lock lock(mu_);
  while (true) {
    // A wake can turn the fill's pacing from growth to time (a segment that
    // grows), so the kind of wait is chosen again after each.
    while (!stopping_ && (retired_.empty() || failed_) && !may_fill_next_chunk()) {
      if (fill_paced_by_time()) {
        housekeeping_wake_.wait_until(lock, timed_fill_due_);
      } else {
        housekeeping_wake_.wait(lock);
      }
    }
    // Deletions first, and on the way out too: a closed log leaves no
    // compacted segment behind.
    if (!retired_.empty() && !failed_) {
      const std::string path = retired_.front().path;
      std::shared_ptr<File> file = std::move(retired_.front().file);
      lock.unlock();
      Status s = delete_retired(path, std::move(file));
      lock.lock();
      retired_.pop_front();
      if (!s) {
        spdlog::error("storage: could not delete {}, a segment compaction dropped: {}", path, s.error().message);
        (void)fail(s.error());
      }
      retired_done_.notify_all();
      continue;
    }
    if (stopping_) return;
    const std::uint64_t from = prepared_bytes_;
    const std::uint64_t to = next_fill_end();
    lock.unlock();
    Status s = zero_fill_chunk(from, to);
    lock.lock();
    timed_fill_due_ = std::chrono::steady_clock::now() + kTimedFillPause;
    if (s) prepared_bytes_ = to;
    if (s && to < options_.segment_bytes_max) continue;
    preparing_.reset();
    prepared_bytes_ = 0;
    prepare_wanted_ = false;
    if (s) {
      prepared_ready_ = true;
    } else if (!stopping_) {
      // Only speed is lost: the next segment is created empty and grows.
      spdlog::warn("storage: could not prepare the next log segment ahead of use: {}", s.error().message);
    }
  }
}

Status SegmentedLog::delete_retired(const std::string& path, std::shared_ptr<File> file) {
  if (Status s = remove_file_durably(path); !s) return s;
  // Cut down in steps, then closed: the last close frees what is left. A
  // closing log skips the steps.
  cut_down_gradually(*file, options_.release_step_bytes, &stopping_);
  file.reset();
  return {};
}

Status SegmentedLog::zero_fill_chunk(std::uint64_t from, std::uint64_t to) {
  if (from == 0) {
    std::string path = prepared_path();
    if (fs_.exists(path)) {
      if (Status s = fs_.remove(path); !s) return s;
    }
    auto file = fs_.open(path, OpenMode::kCreateExclusive);
    if (!file) return file.error();
    preparing_ = std::move(file).value();
  }
  static const std::string zeros(kZeroFillChunkBytes, '\0');
  if (Status s = preparing_->write_at(from, std::string_view(zeros).substr(0, to - from)); !s) return s;
  if (!options_.fsync) return {};
  // Written out chunk by chunk, so that each of the log's own fdatasyncs
  // flushes at most one chunk of zeros with its records.
  if (Status s = preparing_->write_out(from, to - from); !s) return s;
  // The last chunk syncs the file, so that the blocks and the file size are
  // on disk before any record is written over them: a record's fdatasync
  // then commits no metadata.
  return to == options_.segment_bytes_max ? preparing_->sync() : Status{};
}

void SegmentedLog::stop_housekeeper() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  housekeeping_wake_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
}

}  // namespace conclave::storage
