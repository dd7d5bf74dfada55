// SegmentedLog's background thread: the file work that no appender should
// wait for. It zero-fills the next segment ahead of use (PREALLOCATION in
// segmented_log.h) and deletes the segments compaction dropped.
//
// Deleting is slow enough to matter. Closing the last descriptor of an
// unlinked 64 MiB segment frees its blocks, and on ext4 that took 125 ms
// (perf trace, during a conclave-bench run at saturation); the unlink and
// the directory sync after it took another 8 ms. The node compacts on its
// event loop after every application snapshot, so done inline this stalled
// every commit of the cluster about every three seconds and set its
// p99.9 latency.
//
// Retired segments are deleted oldest first, each deletion made durable
// before the next, so a crash at any point leaves a suffix of the log on
// disk, as compaction always did (recovery compacts a leftover prefix again
// behind the snapshot). A failed deletion stops the log, as a failed
// deletion inline did: the caller hears of it from its next call.
#include <spdlog/spdlog.h>

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
    housekeeping_wake_.wait(lock, [this] {
      return stopping_.load() || prepare_wanted_ || (!retired_.empty() && !failed_);
    });
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
    lock.unlock();
    Status s = zero_fill_prepared_segment();
    lock.lock();
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
  // The last close of an unlinked file frees its blocks: the slow part. A
  // reader still holding the file closes it instead, off the loop as well.
  file.reset();
  return {};
}

Status SegmentedLog::zero_fill_prepared_segment() {
  std::string path = prepared_path();
  if (fs_.exists(path)) {
    if (Status s = fs_.remove(path); !s) return s;
  }
  auto file = fs_.open(path, OpenMode::kCreateExclusive);
  if (!file) return file.error();
  const std::string zeros(std::min<std::uint64_t>(options_.segment_bytes_max, 1u << 20), '\0');
  for (std::uint64_t offset = 0; offset < options_.segment_bytes_max; offset += zeros.size()) {
    if (stopping_) return Error{ErrorCode::kStopped, "the log is closing"};
    std::size_t n = std::min<std::uint64_t>(zeros.size(), options_.segment_bytes_max - offset);
    if (Status s = (*file)->write_at(offset, std::string_view(zeros).substr(0, n)); !s) return s;
    // Written out chunk by chunk: left to the final fdatasync, the whole
    // segment (64 MiB by default) would queue at the device ahead of the
    // log's own fdatasyncs and stall every commit for the time it takes
    // to write (a quarter of a second, measured on a cloud disk).
    if (options_.fsync) {
      if (Status s = (*file)->write_out(offset, n); !s) return s;
    }
  }
  // Synced, so that the blocks and the file size are on disk before any
  // record is written over them: a record's fdatasync then commits no
  // metadata (with fsync off nothing is synced, here as anywhere).
  return options_.fsync ? (*file)->sync() : Status{};
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
