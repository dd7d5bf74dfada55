// The replicated log on disk: append-only segment files, group commit, reads
// by index, suffix truncation, prefix compaction and recovery.
//
// ON-DISK FORMAT (version 1; all integers little-endian)
//
// The log lives in one directory and consists of segment files:
//
//   segment-<first>-<last>   a SEALED segment: holds exactly the entries
//                            first..last (20-digit zero-padded decimals), was
//                            fdatasynced before it got this name, and is never
//                            written again.
//   open-<first>             the OPEN segment, at most one, always the newest:
//                            entries from first on, appended to until it
//                            passes segment_bytes_max; then it is fdatasynced
//                            and renamed to segment-<first>-<last>, and a new
//                            open-<last+1> is created.
//
// A segment file starts with a 32-byte header:
//
//   0  magic "CNCLSEG\n" | 8 u32 version (1) | 12 u32 zero |
//   16 u64 first index   | 24 u32 zero      | 28 u32 CRC32C of bytes 0..27
//
// followed by records, one per entry, back to back:
//
//   0  u32 CRC32C of the data   | 4  u32 data length (<= 64 MiB) |
//   8  u64 term                 | 16 u64 index                   |
//   24 u8 entry type, 3 zeros   | 28 u32 CRC32C of bytes 0..27   |
//   32 data
//
// The header checksum covers the data checksum, so one record's checksums
// cover all of it; a length is trusted only after its header checksum
// passes. A new segment's header is written and synced (with the directory)
// before any record goes into it.
//
// PREALLOCATION: an open segment may be longer than its records. While the
// open segment fills, a background thread zero-fills a file named
// prepared-segment to segment_bytes_max, in chunks paced to end as the open
// segment reaches half full, and fdatasyncs it; the next open
// segment is that file, renamed. Appends then overwrite blocks that are
// already allocated and written, so an fdatasync flushes data only, with
// no file-size or block-allocation metadata to commit (on ext4 that halves
// its cost; fallocate alone does not, since unwritten extents must be
// converted). The records of an open segment therefore end either at the
// end of the file or where every byte to the end of the file is zero: a
// preallocated tail, the clean end of the log, not damage. No record header
// is all zeros (the CRC32C of 28 zero bytes is not zero), so the two cannot
// be confused. A segment is cut to its records before it is sealed. A
// leftover prepared-segment holds no records; recovery deletes it.
//
// An open segment not made from a prepared file (a new log's first, one
// created while none was ready, one cut by a suffix truncation) grows with
// every append, and each fdatasync then also writes the file's new size
// and blocks: 220 us against 140 us on the disk where this was measured.
// Such a segment is sealed at the first append after a prepared file is
// ready, and while it is open the fill is paced by time (a chunk every
// kTimedFillPause), not only by its growth, so that a new or restarted node
// leaves it within a second or two, however slowly its log grows.
//
// WHAT A TORN WRITE LOOKS LIKE, AND WHAT RECOVERY DOES
//
// Appends go to the open segment and become durable at the next sync. A
// crash can leave the end of the open segment short (a record cut off, or
// its pages never written: zeros or stale bytes). On open, every segment is
// read and every checksum and index verified:
//
// - In the open segment, at the first record boundary where only zeros
//   remain: the end of the log (a preallocated tail); nothing is cut and
//   nothing is reported. An open segment that is all zeros, header too,
//   was renamed from prepared-segment just before a crash: its header is
//   rewritten.
// - In the open segment, at the first record that fails a check: if no
//   record header with a valid checksum exists anywhere after it, the rest
//   is an unfinished write (in a preallocated file: nonzero bytes, then
//   zeros). It is truncated (and fsynced), and a warning names the file,
//   offset and index. Nothing after that point was ever acknowledged,
//   because acknowledgement waits for a sync that covers it.
// - Anything else refuses to open with an error naming the file, offset and
//   entry index: a failed check followed by a valid record (something was
//   written after the damage, so the damaged entry may be committed), a
//   record with the wrong index, any damage in a sealed segment, a sealed
//   segment that is short or long, a gap between segments, two open
//   segments. Never skip or truncate an entry that might be committed
//   (Alagappan et al., "Protocol-Aware Recovery for Consensus-Based
//   Storage", FAST 2018). The operator's remedy, given in the message: if
//   the rest of the cluster is healthy, move this data directory aside and
//   let the node rejoin from a snapshot.
//
// Truncation of a suffix removes whole segments newest first (each removal
// made durable before the next) and then cuts the segment that holds the new
// end, so a crash midway leaves a prefix of the old log. Compaction removes
// whole sealed segments oldest first, leaving a suffix; entries of a
// partly covered segment stay readable until the whole segment is covered.
// Compaction drops the segments at once and deletes their files on a
// background thread, in the same order (deleting a large file is slow).
//
// CONCURRENCY AND GROUP COMMIT
//
// All methods are thread-safe. append() encodes records into an in-memory
// buffer for the open segment and returns at once, without a system call.
// sync(index) waits until a write and fdatasync covering `index` have
// finished. Whichever caller finds no sync running becomes the syncer: it
// takes the whole buffer, writes it with one pwrite and one fdatasync, and
// every appender whose entry was in it is released together (group commit);
// entries appended meanwhile wait for the next round. A failed write or sync
// stops the log for good (fail-stop): later calls return
// ErrorCode::kStopped, and durable_index() never moves past what was synced
// before the failure. Sealing a segment waits for a running sync, so a
// sealed segment never has a write in flight.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "sidecar/raft/types.h"
#include "sidecar/storage/file.h"
#include "sidecar/storage/gradual_release.h"
#include "sidecar/storage/result.h"

namespace conclave::storage {

struct LogOptions {
  // A segment is sealed once it passes this size (a single larger entry
  // gets a segment of its own).
  std::uint64_t segment_bytes_max = 64u << 20;
  // Test-only: skip fdatasync. Durability is then a lie; the log says so
  // loudly when opened.
  bool fsync = true;
  // Zero-fill the next segment ahead of use on a background thread (see
  // PREALLOCATION above); a failure to prepare only costs speed, and is
  // logged. It writes every segment twice, off the append path: group
  // commits of small records, bounded by fdatasync latency, gain (about a
  // third in conclave-log-bench), while appends bounded by the disk's
  // bandwidth (large records, many appenders) lose about a fifth.
  bool preallocate = true;
  // A compacted segment, once unlinked, is cut down this many bytes at a
  // time, with a pause between cuts, before its last close frees the rest
  // (gradual_release.h says why).
  std::uint64_t release_step_bytes = kReleaseStepBytes;
  // The index the log starts at if the directory holds no segments.
  raft::Index first_index_if_empty{1};
  // For offline tools reading a directory that a stopped (or crashed) node
  // left: every segment is verified as usual, but nothing on disk is
  // created, cut or synced. A torn tail is reported in recovery().torn_tail
  // and left in place (reads end before it); every write refuses with
  // ErrorCode::kStopped.
  bool read_only = false;
};

// What open() found and did, for the node's startup log line.
struct RecoveryReport {
  std::size_t segments = 0;
  std::uint64_t bytes = 0;
  // Set if a torn tail was cut off the open segment (or, read-only, found).
  std::optional<std::string> torn_tail;
};

class SegmentedLog {
 public:
  // Reads and verifies the whole log in `dir` (creating the directory if
  // missing). ErrorCode::kCorrupt means the operator must act; the message
  // says how.
  static Result<std::unique_ptr<SegmentedLog>> open(Filesystem& fs, const std::string& dir,
                                                    const LogOptions& options = {});
  ~SegmentedLog();
  SegmentedLog(const SegmentedLog&) = delete;
  SegmentedLog& operator=(const SegmentedLog&) = delete;

  // Appends entries whose indices run on from last_index() + 1 and returns
  // the new last index. Nothing is written yet: the records wait in memory
  // for the next sync(), which also reports any write error.
  Result<raft::Index> append(std::span<const raft::Entry> entries);
  // Blocks until every entry through `through` is on disk. Only then may
  // anything that depends on them be acknowledged. kInvalidArgument if
  // `through` is past the last entry (never appended, or truncated while we
  // waited): nothing is acknowledged for it.
  Status sync(raft::Index through);
  Status sync() { return sync(last_index()); }

  // Entries first..last (inclusive), stopping early once `bytes_max` of data
  // is exceeded (at least one entry is returned). Checksums are verified on
  // every read; a failure is ErrorCode::kCorrupt.
  Result<std::vector<raft::Entry>> read(raft::Index first, raft::Index last,
                                        std::uint64_t bytes_max = UINT64_MAX);

  // Removes every entry >= from, durably, before returning: a Raft follower
  // does this before appending a leader's conflicting entries.
  Status truncate_suffix(raft::Index from);
  // Drops whole segments whose entries are all <= through (a snapshot covers
  // them). first_index() tells what is still held.
  Status compact_prefix(raft::Index through);
  // Drops every entry; the next append must be at `next`. For installing a
  // snapshot that is ahead of the whole log.
  Status reset(raft::Index next);

  // The first index held (last_index() + 1 when the log is empty).
  raft::Index first_index() const;
  raft::Index last_index() const;
  raft::Index durable_index() const;
  std::size_t segment_count() const;
  // fdatasyncs of the open segment so far (appends per sync shows how well
  // group commit works).
  std::uint64_t sync_count() const;
  // Open segments made from a zero-filled prepared file so far.
  std::uint64_t preallocated_segments() const;
  const RecoveryReport& recovery() const { return recovery_; }

 private:
  // One segment file and the index of its records.
  struct Segment {
    raft::Index first;
    std::vector<std::uint64_t> offsets;  // offsets[i] holds entry first + i
    std::uint64_t end = 0;               // bytes, including those not yet written
    std::uint64_t written = 0;           // bytes in the file (the rest is pending
                                         // or in a syncer's batch)
    std::string pending;                 // encoded, not yet handed to a syncer;
                                         // belongs at end - pending.size()
    bool open = false;
    bool preallocated = false;           // the file holds zeros after `end`
    std::shared_ptr<File> file;
    raft::Index last() const { return raft::Index(first.value() + offsets.size() - 1); }
    bool empty() const { return offsets.empty(); }
  };

  SegmentedLog(Filesystem& fs, std::string dir, const LogOptions& options);
  Status recover();
  Result<Segment> recover_segment(const std::string& name, raft::Index name_first,
                                  std::optional<raft::Index> name_last, std::string& buffer);
  Status create_open_segment(raft::Index first);  // mu_ held
  Status seal_open_segment();                      // mu_ held
  Status flush_pending();                          // mu_ held, no sync running
  // Where the record of `index` (held by `segment`) ends in its file.
  static std::uint64_t end_of_entry(const Segment& segment, raft::Index index);
  Status remove_segment_file(const Segment& segment);
  // Unlinks, then syncs the directory: removals stay in their order on disk.
  Status remove_file_durably(const std::string& path);
  Status fail(const Error& error);                 // mu_ held
  Status stopped_error() const;
  std::string path_of(const Segment& segment) const;
  void wait_for_sync(std::unique_lock<std::mutex>& lock);
  raft::Index last_index_locked() const;
  // The housekeeper (segmented_log_housekeeping.cpp): a thread started on
  // first need that prepares the next segment (PREALLOCATION) and deletes
  // the segments compaction retired.
  void start_housekeeper();      // mu_ held
  void want_prepared_segment();  // mu_ held
  void retire_segment(Segment& segment);                       // mu_ held
  void wait_for_retired(std::unique_lock<std::mutex>& lock);  // every retired segment deleted
  void housekeeping();  // the thread's body
  Status delete_retired(const std::string& path, std::shared_ptr<File> file);
  // The paced zero-fill (segmented_log_housekeeping.cpp): may_fill_next_chunk
  // says whether the open segment has grown enough for the next chunk, and
  // if not, sets fill_wake_at_ for wake_paced_fill, which append() calls.
  std::uint64_t next_fill_end() const;  // mu_ held
  bool may_fill_next_chunk();           // mu_ held
  void wake_paced_fill();               // mu_ held
  // The open segment grows with each append: the fill is paced by time too,
  // and the segment gives way to the prepared one once that is ready.
  bool fill_paced_by_time() const;            // mu_ held
  bool gives_way(const Segment& open) const;  // mu_ held
  Status zero_fill_chunk(std::uint64_t from, std::uint64_t to);
  void stop_housekeeper();
  std::string prepared_path() const;

  Filesystem& fs_;
  const std::string dir_;
  const LogOptions options_;
  RecoveryReport recovery_;

  mutable std::mutex mu_;
  std::condition_variable sync_done_;
  std::deque<Segment> segments_;   // oldest first; the back one is open
  // The buffer a syncer last wrote, kept for the next round's appends
  // (dropped if a burst made it larger than this).
  static constexpr std::size_t kSpareBufferBytesMax = 8u << 20;
  std::string spare_buffer_;
  raft::Index durable_;
  bool syncing_ = false;
  std::uint64_t syncs_ = 0;
  // Mirrors of durable_ and failed_ plus a counter bumped when a sync round
  // ends, so that waiters in sync() sleep on an atomic and check whether
  // they are covered without queueing for mu_: with hundreds of appenders,
  // handing the mutex from waiter to waiter was the cost of a round.
  void publish_durable(raft::Index index);  // mu_ held
  std::atomic<std::uint64_t> durable_published_{0};
  std::atomic<bool> stopped_{false};
  std::atomic<std::uint64_t> sync_epoch_{0};
  std::optional<Error> failed_;

  std::thread housekeeper_;
  std::condition_variable housekeeping_wake_;
  bool prepare_wanted_ = false;  // mu_: the housekeeper is asked to, or does, fill
  bool prepared_ready_ = false;  // mu_: prepared_path() is zero-filled and synced
  static constexpr std::uint64_t kZeroFillChunkBytes = 256u << 10;
  std::shared_ptr<File> preparing_;  // the housekeeper's: prepared_path() while it fills
  std::uint64_t prepared_bytes_ = 0;  // mu_: how much of it is filled
  // mu_: the open segment's size at which the paced fill may go on.
  std::uint64_t fill_wake_at_ = std::numeric_limits<std::uint64_t>::max();
  // mu_: when a fill paced by time may write its next chunk; 64 MiB takes
  // about a second at this pause.
  static constexpr std::chrono::milliseconds kTimedFillPause{2};
  std::chrono::steady_clock::time_point timed_fill_due_{};
  // Segments compaction dropped, oldest first, still on disk; the front one
  // may be being deleted.
  struct Retired {
    std::string path;
    std::shared_ptr<File> file;
  };
  std::deque<Retired> retired_;  // mu_
  std::condition_variable retired_done_;
  std::atomic<bool> stopping_{false};
  std::uint64_t preallocated_segments_ = 0;
};

std::string sealed_segment_name(raft::Index first, raft::Index last);
std::string open_segment_name(raft::Index first);
// A segment file being zero-filled ahead of use (PREALLOCATION).
inline constexpr const char* kPreparedSegmentName = "prepared-segment";

}  // namespace conclave::storage
