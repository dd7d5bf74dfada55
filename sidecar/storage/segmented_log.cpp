// SegmentedLog at run time: append, group-commit sync, read, truncate,
// compact, reset. Opening and recovery live in log_recovery.cpp.
#include "sidecar/storage/segmented_log.h"

#include <spdlog/spdlog.h>

#include <cinttypes>
#include <cstdio>

#include "sidecar/storage/segment_format.h"

namespace conclave::storage {

using raft::Entry;
using raft::Index;

std::string sealed_segment_name(Index first, Index last) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "segment-%020" PRIu64 "-%020" PRIu64, first.value(), last.value());
  return buf;
}

std::string open_segment_name(Index first) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "open-%020" PRIu64, first.value());
  return buf;
}

SegmentedLog::SegmentedLog(Filesystem& fs, std::string dir, const LogOptions& options)
    : fs_(fs), dir_(std::move(dir)), options_(options) {}

SegmentedLog::~SegmentedLog() {
  stop_housekeeper();
  // Hand unsynced appends to the kernel on a clean shutdown; they were never
  // acknowledged, so this is a courtesy, not a promise.
  std::unique_lock lock(mu_);
  wait_for_sync(lock);
  if (!failed_ && !segments_.empty()) (void)flush_pending();
}

std::string SegmentedLog::path_of(const Segment& segment) const {
  return dir_ + "/" +
         (segment.open ? open_segment_name(segment.first) : sealed_segment_name(segment.first, segment.last()));
}

Index SegmentedLog::last_index_locked() const {
  if (segments_.empty()) return Index(0);  // only after a failed reset(); the log is stopped
  const Segment& back = segments_.back();
  return Index(back.first.value() + back.offsets.size() - 1);
}

Index SegmentedLog::first_index() const {
  std::lock_guard lock(mu_);
  return segments_.empty() ? Index(1) : segments_.front().first;
}

Index SegmentedLog::last_index() const {
  std::lock_guard lock(mu_);
  return last_index_locked();
}

Index SegmentedLog::durable_index() const {
  std::lock_guard lock(mu_);
  return durable_;
}

std::uint64_t SegmentedLog::sync_count() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

std::uint64_t SegmentedLog::preallocated_segments() const {
  std::lock_guard lock(mu_);
  return preallocated_segments_;
}

std::size_t SegmentedLog::segment_count() const {
  std::lock_guard lock(mu_);
  return segments_.size();
}

Status SegmentedLog::fail(const Error& error) {
  // Fail-stop: after a failed write or fdatasync we cannot know what reached
  // the disk, and retrying fdatasync can report success for pages the kernel
  // already dropped. The only honest move is to stop and let recovery, which
  // verifies every record, decide on restart.
  if (!failed_) {
    spdlog::critical("storage: the log in {} stopped accepting writes: {}", dir_, error.message);
    failed_ = error;
    stopped_ = true;
  }
  sync_done_.notify_all();
  ++sync_epoch_;
  sync_epoch_.notify_all();
  return error;
}

void SegmentedLog::publish_durable(Index index) {
  durable_ = index;
  durable_published_.store(index.value(), std::memory_order_release);
}

Status SegmentedLog::stopped_error() const {
  if (options_.read_only) {
    return Error{ErrorCode::kStopped, "the log in " + dir_ + " was opened read-only (for an offline tool)"};
  }
  return Error{ErrorCode::kStopped, "the log in " + dir_ + " stopped accepting writes after an earlier failure (" +
                                        failed_->message + "); restart the sidecar once the disk is fixed"};
}

void SegmentedLog::wait_for_sync(std::unique_lock<std::mutex>& lock) {
  sync_done_.wait(lock, [this] { return !syncing_; });
}

Status SegmentedLog::create_open_segment(Index first) {
  Segment segment;
  segment.first = first;
  segment.open = true;
  std::string path = path_of(segment);
  if (prepared_ready_) {
    // A crash between the rename and the header's sync leaves an open
    // segment of zeros; recovery rewrites its header (see the format).
    prepared_ready_ = false;
    if (Status s = fs_.rename(prepared_path(), path); !s) return s;
    segment.preallocated = true;
    ++preallocated_segments_;
  }
  // A growing segment: a fill in progress is now paced by time too.
  if (!segment.preallocated) housekeeping_wake_.notify_one();
  auto file = fs_.open(path, segment.preallocated ? OpenMode::kReadWrite : OpenMode::kCreateExclusive);
  if (!file) return file.error();
  segment.file = std::move(file).value();
  std::string header = encode_segment_header(first);
  if (Status s = segment.file->write_at(0, header); !s) return s;
  if (options_.fsync) {
    if (Status s = segment.file->sync(); !s) return s;
    if (Status s = fs_.sync_dir(dir_); !s) return s;
  }
  segment.end = header.size();
  segment.written = header.size();
  segments_.push_back(std::move(segment));
  return {};
}

Status SegmentedLog::seal_open_segment() {
  if (Status s = flush_pending(); !s) return s;
  Segment& segment = segments_.back();
  if (segment.preallocated) {
    if (Status s = segment.file->truncate(segment.end); !s) return s;
    segment.preallocated = false;
  }
  // Synced before it is named sealed: recovery treats any damage in a sealed
  // segment as corruption, so it must never hold an unfinished write.
  if (options_.fsync) {
    if (Status s = segment.file->sync(); !s) return s;
  }
  std::string from = path_of(segment);
  segment.open = false;
  if (Status s = fs_.rename(from, path_of(segment)); !s) {
    segment.open = true;
    return s;
  }
  // create_open_segment syncs the directory, covering this rename too.
  return create_open_segment(segment.last().next());
}

std::uint64_t SegmentedLog::end_of_entry(const Segment& segment, Index index) {
  const std::uint64_t i = index.value() - segment.first.value();
  return i + 1 < segment.offsets.size() ? segment.offsets[i + 1] : segment.end;
}

Status SegmentedLog::flush_pending() {
  Segment& segment = segments_.back();
  if (segment.pending.empty()) return {};
  if (Status s = segment.file->write_at(segment.end - segment.pending.size(), segment.pending); !s) return s;
  segment.written = segment.end;
  segment.pending.clear();
  return {};
}

Result<Index> SegmentedLog::append(std::span<const Entry> entries) {
  std::unique_lock lock(mu_);
  std::uint64_t batch_bytes = 0;
  for (const Entry& e : entries) batch_bytes += record_bytes(e);
  // A batch that will seal the open segment waits for a running sync first
  // (see seal_open_segment); checks come after the wait, which unlocks.
  while (!failed_ && syncing_ &&
         (segments_.back().end + batch_bytes > options_.segment_bytes_max || gives_way(segments_.back()))) {
    sync_done_.wait(lock);
  }
  if (failed_) return stopped_error().error();
  Index expected = last_index_locked().next();
  for (const Entry& e : entries) {
    if (e.index != expected) {
      return Error{ErrorCode::kInvalidArgument, "append of entry " + std::to_string(e.index.value()) +
                                                    " where " + std::to_string(expected.value()) +
                                                    " is next; truncate the suffix first"};
    }
    expected = expected.next();
  }
  for (const Entry& e : entries) {
    Segment* open = &segments_.back();
    if (!open->empty() && (open->end + record_bytes(e) > options_.segment_bytes_max || gives_way(*open))) {
      if (Status s = seal_open_segment(); !s) return fail(s.error()).error();
      open = &segments_.back();
    }
    open->offsets.push_back(open->end);
    std::size_t before = open->pending.size();
    append_record(open->pending, e);
    open->end += open->pending.size() - before;
  }
  want_prepared_segment();
  wake_paced_fill();
  return last_index_locked();
}

Status SegmentedLog::sync(Index through) {
  while (true) {
    std::uint64_t epoch = sync_epoch_.load(std::memory_order_acquire);
    if (!stopped_.load() && durable_published_.load(std::memory_order_acquire) >= through.value()) return {};
    std::unique_lock lock(mu_);
    if (failed_) return stopped_error();
    if (durable_ >= through) return {};
    // Checked on every round: a truncation while we waited may have removed
    // the entry, and no sync will ever cover it.
    if (through > last_index_locked()) {
      return Error{ErrorCode::kInvalidArgument, "sync through entry " + std::to_string(through.value()) +
                                                    ", beyond the last entry " +
                                                    std::to_string(last_index_locked().value()) +
                                                    " (never appended, or truncated since)"};
    }
    if (syncing_) {
      lock.unlock();
      sync_epoch_.wait(epoch);  // until the running round ends
      continue;
    }
    // Become the syncer for everything appended so far; entries appended
    // while we sync wait for the next round. Sealed segments were synced
    // when sealed, so the open one's batch covers the whole target.
    syncing_ = true;
    Index target = last_index_locked();
    Segment& open = segments_.back();
    // The two buffers trade places each round, so appends keep encoding
    // into memory that is already allocated and faulted in.
    std::string batch = std::move(open.pending);
    open.pending = std::move(spare_buffer_);
    open.pending.clear();
    std::uint64_t offset = open.end - batch.size();
    std::shared_ptr<File> file = open.file;
    lock.unlock();
    Status s = batch.empty() ? Status{} : file->write_at(offset, batch);
    if (s && options_.fsync) s = file->sync();
    lock.lock();
    syncing_ = false;
    if (!s) return fail(s.error());
    // Nothing can seal, truncate or reset the open segment while we sync.
    segments_.back().written = std::max(segments_.back().written, offset + batch.size());
    if (batch.capacity() <= kSpareBufferBytesMax) {
      batch.clear();
      spare_buffer_ = std::move(batch);
    }
    ++syncs_;
    if (target > durable_) publish_durable(target);
    sync_done_.notify_all();
    ++sync_epoch_;
    sync_epoch_.notify_all();
  }
}

Result<std::vector<Entry>> SegmentedLog::read(Index first, Index last, std::uint64_t bytes_max) {
  std::unique_lock lock(mu_);
  if (segments_.empty()) return stopped_error().error();
  // Entries still in memory are written out first, so every read comes from
  // the file and is checked the same way. Only a read that reaches past the
  // bytes already in the file waits for a running sync: the applications'
  // cursors read committed, hence durable, entries while the next batch
  // syncs, and must not stall the node's loop behind that fdatasync.
  const Segment& open = segments_.back();
  if (last >= open.first && last <= open.last() && end_of_entry(open, last) > open.written) {
    wait_for_sync(lock);
    if (failed_) return stopped_error().error();
    if (Status s = flush_pending(); !s) return fail(s.error()).error();
  }
  if (first < segments_.front().first || last > last_index_locked() || first > last) {
    return Error{ErrorCode::kInvalidArgument,
                 "read of entries " + std::to_string(first.value()) + ".." + std::to_string(last.value()) +
                     " outside the log's " + std::to_string(segments_.front().first.value()) + ".." +
                     std::to_string(last_index_locked().value())};
  }
  std::vector<Entry> out;
  std::uint64_t bytes = 0;
  Index next = first;
  for (const Segment& segment : segments_) {
    if (segment.empty() || segment.last() < next) continue;
    if (next > last) break;
    std::uint64_t i = next.value() - segment.first.value();
    std::uint64_t j = std::min(last.value(), segment.last().value()) - segment.first.value();
    auto entry_end = [&](std::uint64_t m) { return end_of_entry(segment, Index(segment.first.value() + m)); };
    // Take entries i..k-1: as many as fit the byte budget (by the index, so
    // nothing is read that will not be returned), and always the first one.
    std::uint64_t k = i;
    while (k <= j) {
      bool first_of_all = out.empty() && k == i;
      if (!first_of_all && bytes + (entry_end(k) - segment.offsets[i]) > bytes_max) break;
      ++k;
    }
    if (k == i) break;
    std::uint64_t begin = segment.offsets[i];
    std::uint64_t end = entry_end(k - 1);
    std::string buf;
    if (Status s = segment.file->read_at(begin, end - begin, buf); !s) return s.error();
    std::string problem;
    if (buf.size() != end - begin || !decode_records(buf, Index(segment.first.value() + i), out, problem)) {
      return Error{ErrorCode::kCorrupt,
                   "log segment " + path_of(segment) + " changed on disk since it was verified: " +
                       (problem.empty() ? "it is shorter than expected" : problem) + " (relative to offset " +
                       std::to_string(begin) + "); the disk is failing or something else writes to " + dir_ +
                       ": stop this node and check the disk"};
    }
    bytes += end - begin;
    next = Index(segment.first.value() + k);
    if (k <= j) break;  // budget reached inside this segment
  }
  return out;
}

Status SegmentedLog::remove_segment_file(const Segment& segment) { return remove_file_durably(path_of(segment)); }

Status SegmentedLog::remove_file_durably(const std::string& path) {
  if (Status s = fs_.remove(path); !s) return s;
  // One directory sync per removal keeps the order of removals durable, so a
  // crash leaves a prefix (truncation) or a suffix (compaction), never a gap.
  return options_.fsync ? fs_.sync_dir(dir_) : Status{};
}

Status SegmentedLog::truncate_suffix(Index from) {
  std::unique_lock lock(mu_);
  if (failed_) return stopped_error();
  if (from < segments_.front().first) {
    return Error{ErrorCode::kInvalidArgument, "truncate from " + std::to_string(from.value()) +
                                                  ", before the first entry held; use reset()"};
  }
  if (from > last_index_locked()) return {};
  wait_for_sync(lock);
  if (failed_) return stopped_error();
  if (Status s = flush_pending(); !s) return fail(s.error());
  while (segments_.size() > 1 && segments_.back().first >= from) {
    if (Status s = remove_segment_file(segments_.back()); !s) return fail(s.error());
    segments_.pop_back();
  }
  Segment& segment = segments_.back();
  if (!segment.open) {
    std::string sealed = path_of(segment);
    segment.open = true;
    if (Status s = fs_.rename(sealed, path_of(segment)); !s) return fail(s.error());
    if (options_.fsync) {
      if (Status s = fs_.sync_dir(dir_); !s) return fail(s.error());
    }
  }
  std::uint64_t keep = from.value() - segment.first.value();
  if (keep < segment.offsets.size()) {
    segment.end = segment.offsets[keep];
    segment.written = segment.end;
    segment.offsets.resize(keep);
    segment.preallocated = false;
    housekeeping_wake_.notify_one();  // the segment now grows (PREALLOCATION)
    if (Status s = segment.file->truncate(segment.end); !s) return fail(s.error());
    if (options_.fsync) {
      if (Status s = segment.file->sync(); !s) return fail(s.error());
    }
  }
  if (durable_ >= from) publish_durable(from.prev());
  return {};
}

Status SegmentedLog::compact_prefix(Index through) {
  std::unique_lock lock(mu_);
  if (failed_) return stopped_error();
  while (segments_.size() > 1 && !segments_.front().open && segments_.front().last() <= through) {
    retire_segment(segments_.front());
    segments_.pop_front();
  }
  return {};
}

Status SegmentedLog::reset(Index next) {
  std::unique_lock lock(mu_);
  if (failed_) return stopped_error();
  wait_for_sync(lock);
  // A compacted prefix still on disk, then the new segment far beyond it,
  // would be a gap to recovery: the old files go first.
  wait_for_retired(lock);
  if (failed_) return stopped_error();
  while (!segments_.empty()) {
    if (Status s = remove_segment_file(segments_.back()); !s) return fail(s.error());
    segments_.pop_back();
  }
  if (Status s = create_open_segment(next); !s) return fail(s.error());
  publish_durable(next.prev());
  return {};
}

}  // namespace conclave::storage
