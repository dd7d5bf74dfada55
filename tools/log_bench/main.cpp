// conclave-log-bench: measures what the disk can do (fdatasync/s for 4 KiB
// appends; MB/s for sequential appends with one fdatasync per MiB), then
// what the log does on the same disk (appends/s and MB/s for 256 B and
// 4 KiB records with 1, 16 and 256 concurrent appenders sharing group
// commits; the latency of one append+sync, measured alternately with a raw
// write+fdatasync so both see the same load; recovery time of a large log),
// and prints the log's figures as ratios to the raw ones.
//
//   build/tools/log_bench/conclave-log-bench [--dir D] [--seconds S] [--recovery-mib M] [--quick] [--cold]
//       [--recovery-only] [--no-preallocate]
//
// --dir picks the filesystem under test (default: the current directory;
// a scratch subdirectory is made and removed).
//
// How "N concurrent appenders" is modelled (the row's label says which):
//   "N loop"      the daemon's shape: one loop thread keeps N appends in
//                 flight and re-appends as soon as the sync covering one
//                 completes; one sync thread does the syncs.
//   "1 x batchB"  one append of B records at a time (a Ready's entries).
//   "N loop pre"  the same, timed once the log has moved onto a segment
//                 zero-filled ahead of use (a fresh log's first segment is
//                 not; a running node's log is, see segmented_log.h).
//                 Preallocation writes every segment twice: it wins where
//                 fdatasync latency bounds the rate (small records) and
//                 costs where bandwidth does (--no-preallocate compares).
//   "N threads"   N OS threads, each appending and blocking in sync(); the
//                 model of earlier versions, kept for comparison: with far
//                 more threads than cores it measures the scheduler.
//
// Recovery is timed with the log in the page cache, and with --cold also
// after evicting it: by dropping the kernel's caches when run as root
// (/proc/sys/vm/drop_caches), otherwise with posix_fadvise(DONTNEED) on
// each segment file; the output says which.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sidecar/storage/crc32c.h"
#include "sidecar/storage/segment_format.h"
#include "sidecar/storage/segmented_log.h"

using conclave::storage::Status;

namespace {

using namespace conclave;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "conclave-log-bench: %s\n", what.c_str());
  std::exit(1);
}

struct Raw {
  double fdatasync_per_s = 0;
  double fdatasync_median_us = 0;
  double seq_mb_per_s = 0;
  // Sequential appends of what 256 in-flight 256 B records occupy on disk,
  // one fdatasync each: the most "256 loop" can reach, since a loop with
  // 256 appends in flight can never put more than that under one sync.
  double batch_mb_per_s = 0;
};

using storage::kRecordHeaderBytes;  // a record's framing in a segment, besides its payload
constexpr std::size_t kBoundInFlight = 256;
constexpr std::size_t kBoundRecordBytes = 256;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

Raw measure_raw(const std::string& dir, double seconds) {
  Raw raw;
  std::string path = dir + "/raw";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("cannot create " + path + ": " + std::strerror(errno));
  std::string block(4096, 'r');
  off_t offset = 0;
  std::vector<double> us;
  auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    auto t0 = Clock::now();
    if (::pwrite(fd, block.data(), block.size(), offset) != 4096 || ::fdatasync(fd) != 0) die("raw write failed");
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    offset += 4096;
  }
  raw.fdatasync_per_s = static_cast<double>(us.size()) / seconds_since(start);
  raw.fdatasync_median_us = median(us);
  if (::ftruncate(fd, 0) != 0) die("ftruncate failed");
  std::string mib(1 << 20, 'm');
  offset = 0;
  start = Clock::now();
  while (seconds_since(start) < seconds) {
    if (::pwrite(fd, mib.data(), mib.size(), offset) != static_cast<ssize_t>(mib.size()) || ::fdatasync(fd) != 0) {
      die("raw write failed");
    }
    offset += static_cast<off_t>(mib.size());
  }
  raw.seq_mb_per_s = static_cast<double>(offset) / 1e6 / seconds_since(start);
  if (::ftruncate(fd, 0) != 0) die("ftruncate failed");
  std::string batch(kBoundInFlight * (kBoundRecordBytes + kRecordHeaderBytes), 'b');
  offset = 0;
  off_t payload = 0;
  start = Clock::now();
  while (seconds_since(start) < seconds) {
    if (::pwrite(fd, batch.data(), batch.size(), offset) != static_cast<ssize_t>(batch.size()) ||
        ::fdatasync(fd) != 0) {
      die("raw write failed");
    }
    offset += static_cast<off_t>(batch.size());
    payload += static_cast<off_t>(kBoundInFlight * kBoundRecordBytes);
  }
  // Payload, not bytes written: the log's rows count payload too.
  raw.batch_mb_per_s = static_cast<double>(payload) / 1e6 / seconds_since(start);
  ::close(fd);
  std::filesystem::remove(path);
  return raw;
}

// --no-preallocate: the logs under test create each segment empty and grow
// it (LogOptions::preallocate off), for comparing the two.
bool g_preallocate = true;

std::unique_ptr<storage::SegmentedLog> fresh_log(const std::string& dir, bool fsync = true) {
  std::filesystem::remove_all(dir);
  storage::LogOptions options;
  options.fsync = fsync;
  options.preallocate = g_preallocate;
  auto log = storage::SegmentedLog::open(storage::posix_filesystem(), dir, options);
  if (!log) die(log.error().message);
  return std::move(log).value();
}

struct Load {
  double appends_per_s = 0;
  double payload_mb_per_s = 0;
  double appends_per_sync = 0;
};

// The daemon's model of "N concurrent appenders": one loop thread keeps N
// appends in flight (each of `batch` records) and re-issues an append as
// soon as the sync that covers its previous one completes; one sync thread
// syncs whatever has been appended. That is how conclaved drives the log
// (one event loop, syncs off the loop), so the figure is the one a node
// sees. Nothing is counted before the sync that covers it returned.
Load measure_log_loop(const std::string& dir, std::size_t record_bytes, int in_flight, double seconds,
                      std::size_t batch = 1, bool on_preallocated = false) {
  auto log = fresh_log(dir);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> appended_to{0};  // loop -> sync thread
  std::atomic<std::uint64_t> durable{0};      // sync thread -> loop
  std::string data(record_bytes, 'x');
  std::thread syncer([&] {
    std::uint64_t synced = 0;
    while (true) {
      appended_to.wait(synced, std::memory_order_acquire);
      if (stop.load()) return;
      std::uint64_t target = appended_to.load(std::memory_order_acquire);
      if (Status s = log->sync(raft::Index(target)); !s) die("sync failed: " + s.error().message);
      synced = target;
      durable.store(synced, std::memory_order_release);
      durable.notify_one();
    }
  });
  std::deque<std::uint64_t> waiting;  // the last index of each append in flight, in order
  std::vector<raft::Entry> entries;
  std::uint64_t next = log->last_index().value() + 1;  // the loop owns the log's end, as a leader does
  auto issue = [&] {
    entries.clear();
    for (std::size_t i = 0; i < batch; ++i) {
      entries.push_back({raft::Index(next + i), raft::Term(1), raft::EntryType::kNormal, data});
    }
    auto last = log->append(entries);
    if (!last) die("append failed: " + last.error().message);
    next = last->value() + 1;
    waiting.push_back(last->value());
  };
  for (int i = 0; i < in_flight; ++i) issue();
  appended_to.store(waiting.back(), std::memory_order_release);
  appended_to.notify_one();
  std::uint64_t seen = 0;
  // One turn of the loop: wait for a sync, re-issue what it covered.
  auto turn = [&] {
    durable.wait(seen, std::memory_order_acquire);
    seen = durable.load(std::memory_order_acquire);
    long done = 0;
    while (!waiting.empty() && waiting.front() <= seen) {
      waiting.pop_front();
      ++done;
    }
    for (long i = 0; i < done; ++i) issue();
    appended_to.store(waiting.back(), std::memory_order_release);
    appended_to.notify_one();
    return done * static_cast<long>(batch);
  };
  // A fresh log's first segment grows as it is written; a running node's
  // log is on segments zero-filled ahead of use. Warm up until it is.
  auto warm_until = Clock::now() + std::chrono::seconds(30);
  while (on_preallocated && log->preallocated_segments() == 0 && Clock::now() < warm_until) turn();
  if (on_preallocated && log->preallocated_segments() == 0) die("the log never moved onto a preallocated segment");
  std::uint64_t syncs_before = log->sync_count();
  long acknowledged = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < deadline) acknowledged += turn();
  double elapsed = seconds_since(start);
  stop = true;
  appended_to.store(UINT64_MAX);  // a value the sync thread is not waiting on
  appended_to.notify_one();
  syncer.join();
  Load load;
  load.appends_per_s = static_cast<double>(acknowledged) / elapsed;
  load.payload_mb_per_s = load.appends_per_s * static_cast<double>(record_bytes) / 1e6;
  load.appends_per_sync =
      static_cast<double>(acknowledged) / static_cast<double>(std::max<std::uint64_t>(1, log->sync_count() - syncs_before));
  return load;
}

// The previous model, kept for comparison: `appenders` OS threads, each
// appending `batch` records and blocking in sync() until they are durable.
// Hundreds of threads on a few cores measure the scheduler as much as the log.
Load measure_log_threads(const std::string& dir, std::size_t record_bytes, int appenders, double seconds,
                         std::size_t batch = 1) {
  auto log = fresh_log(dir);
  std::mutex order;
  std::atomic<bool> stop{false};
  std::atomic<long> appended{0};
  std::string data(record_bytes, 'x');
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int t = 0; t < appenders; ++t) {
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        std::vector<raft::Entry> entries;
        raft::Index mine;
        {
          std::lock_guard lock(order);
          for (std::size_t i = 0; i < batch; ++i) {
            entries.push_back({raft::Index(log->last_index().value() + 1 + i), raft::Term(1),
                               raft::EntryType::kNormal, data});
          }
          auto appended_to = log->append(entries);
          if (!appended_to) die("append failed: " + appended_to.error().message);
          mine = *appended_to;
        }
        if (Status s = log->sync(mine); !s) die("sync failed: " + s.error().message);
        appended += static_cast<long>(batch);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = seconds_since(start);
  Load load;
  load.appends_per_s = static_cast<double>(appended) / elapsed;
  load.payload_mb_per_s = load.appends_per_s * static_cast<double>(record_bytes) / 1e6;
  load.appends_per_sync = static_cast<double>(appended) / static_cast<double>(std::max<std::uint64_t>(1, log->sync_count()));
  return load;
}

struct Latency {
  double log_median_us = 0;
  double log_p99_us = 0;
  double raw_median_us = 0;
  double raw_p99_us = 0;
};

// One append+sync of the log against one raw write+fdatasync of the same
// size, alternating op by op on the same disk, so both see the same
// background load (on a shared disk, separate runs differ by 5x).
Latency measure_latency(const std::string& dir, std::size_t record_bytes, double seconds) {
  auto log = fresh_log(dir);
  std::string raw_path = dir + "-raw";
  int fd = ::open(raw_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("cannot create " + raw_path + ": " + std::strerror(errno));
  std::string data(record_bytes, 'l');
  std::string block(record_bytes + kRecordHeaderBytes, 'r');  // what the log writes: record and header
  std::vector<double> log_us;
  std::vector<double> raw_us;
  off_t offset = 0;
  auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    raft::Entry e{log->last_index().next(), raft::Term(1), raft::EntryType::kNormal, data};
    auto t0 = Clock::now();
    if (!log->append(std::span(&e, 1)).ok() || !log->sync().ok()) die("append+sync failed");
    auto t1 = Clock::now();
    if (::pwrite(fd, block.data(), block.size(), offset) != static_cast<ssize_t>(block.size()) ||
        ::fdatasync(fd) != 0) {
      die("raw write failed");
    }
    auto t2 = Clock::now();
    offset += static_cast<off_t>(block.size());
    log_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    raw_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
  }
  ::close(fd);
  std::filesystem::remove(raw_path);
  std::sort(log_us.begin(), log_us.end());
  std::sort(raw_us.begin(), raw_us.end());
  return {log_us[log_us.size() / 2], log_us[log_us.size() * 99 / 100], raw_us[raw_us.size() / 2],
          raw_us[raw_us.size() * 99 / 100]};
}

// Evicts the log in `dir` from the page cache so recovery reads the disk:
// all the kernel's clean caches when we may (root), else the segment files'
// own pages. Returns how, for the output line.
std::string evict_from_page_cache(const std::string& dir) {
  ::sync();
  if (FILE* f = std::fopen("/proc/sys/vm/drop_caches", "w")) {
    bool dropped = std::fputs("3\n", f) >= 0;
    dropped = std::fclose(f) == 0 && dropped;
    if (dropped) return "cold: page cache dropped via /proc/sys/vm/drop_caches";
  }
  for (const auto& file : std::filesystem::directory_iterator(dir)) {
    int fd = ::open(file.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open " + file.path().string() + ": " + std::strerror(errno));
    // The pages are clean after sync(), so DONTNEED drops them.
    if (::fdatasync(fd) != 0 || ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) {
      die("cannot evict " + file.path().string() + " from the page cache");
    }
    ::close(fd);
  }
  return "cold: segment files evicted with posix_fadvise(DONTNEED), not root";
}

void measure_recovery(const std::string& dir, std::uint64_t mib, bool cold) {
  std::uint64_t bytes = 0;
  std::uint64_t count = 0;
  {
    auto log = fresh_log(dir, /*fsync=*/false);
    std::vector<raft::Entry> batch;
    std::string data(4096, 'v');
    while (bytes < mib << 20) {
      batch.clear();
      for (int i = 0; i < 256; ++i) {
        batch.push_back({raft::Index(log->last_index().value() + 1 + batch.size()), raft::Term(1),
                         raft::EntryType::kNormal, data});
        bytes += data.size() + kRecordHeaderBytes;
      }
      if (!log->append(batch).ok()) die("append failed while building the recovery log");
    }
    count = log->last_index().value();
  }
  ::sync();
  auto time_open = [&](const char* cache) {
    auto start = Clock::now();
    auto log = storage::SegmentedLog::open(storage::posix_filesystem(), dir, storage::LogOptions{});
    double elapsed = seconds_since(start);
    if (!log) die(log.error().message);
    std::printf("recovery of %.0f MiB (%llu entries, %zu segments): %.2f s = %.0f MB/s (%s)\n",
                static_cast<double>(bytes) / (1 << 20), static_cast<unsigned long long>(count),
                (*log)->segment_count(), elapsed, static_cast<double>(bytes) / 1e6 / elapsed, cache);
  };
  time_open("page cache warm");
  if (cold) {
    std::string method = evict_from_page_cache(dir);
    time_open(method.c_str());
  }
}

void measure_crc() {
  std::string buf(64 << 20, 'c');
  auto start = Clock::now();
  volatile std::uint32_t sink = storage::crc32c(buf);
  double hw = seconds_since(start);
  start = Clock::now();
  sink = storage::crc32c_extend_portable(0, buf.data(), buf.size());
  double sw = seconds_since(start);
  (void)sink;
  std::printf("crc32c: %.0f MB/s as used (%s), %.0f MB/s portable (Boost.CRC)\n", 67.1 / hw,
              storage::crc32c_hardware() ? "SSE4.2" : "portable", 67.1 / sw);
}

struct Row {
  std::string record;
  std::string appenders;
  Load load;
};

void print_load(const Row& row, const Raw& raw) {
  std::printf("  %-8s %-12s appends/s %7.2fx raw fdatasync/s   MB/s %5.2fx raw sequential\n", row.record.c_str(),
              row.appenders.c_str(), row.load.appends_per_s / raw.fdatasync_per_s,
              row.load.payload_mb_per_s / raw.seq_mb_per_s);
}

void print_raw(const char* label, const Raw& raw) {
  std::printf("%s: %.0f fdatasync/s (4 KiB appends, median %.0f us), %.1f MB/s sequential (fdatasync per MiB),\n"
              "  %.1f MB/s of payload in %zu x %zu B batches (fdatasync per batch)\n",
              label, raw.fdatasync_per_s, raw.fdatasync_median_us, raw.seq_mb_per_s, raw.batch_mb_per_s,
              kBoundInFlight, kBoundRecordBytes);
}

// The 256 B rows with 256 appends in flight, against the most that shape
// can reach on this disk: the target is a ratio to sequential bandwidth,
// and this line says how much of the gap is the log and how much the shape.
void print_bound(const Row& row, const Raw& raw) {
  std::printf("  %-8s %-12s MB/s %5.2fx raw %zu x %zu B batches (the bound for %zu in flight)\n", row.record.c_str(),
              row.appenders.c_str(), row.load.payload_mb_per_s / raw.batch_mb_per_s, kBoundInFlight,
              kBoundRecordBytes, kBoundInFlight);
}

}  // namespace

int main(int argc, char** argv) {
  std::string base = ".";
  double seconds = 2;
  std::uint64_t recovery_mib = 1024;
  bool cold = false;
  bool recovery_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) die(arg + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--dir") base = value();
    else if (arg == "--seconds") seconds = std::stod(value());
    else if (arg == "--recovery-mib") recovery_mib = std::stoull(value());
    else if (arg == "--quick") { seconds = 0.5; recovery_mib = 128; }
    else if (arg == "--cold") cold = true;
    else if (arg == "--recovery-only") recovery_only = true;
    else if (arg == "--no-preallocate") g_preallocate = false;
    else die("usage: conclave-log-bench [--dir D] [--seconds S] [--recovery-mib M] [--quick] [--cold] [--recovery-only] "
             "[--no-preallocate]");
  }
  spdlog::set_level(spdlog::level::warn);
  std::string dir = base + "/conclave-log-bench." + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::printf("conclave-log-bench in %s, %.1f s per figure, segments %s\n\n", std::filesystem::absolute(dir).c_str(),
              seconds, g_preallocate ? "zero-filled ahead of use" : "not preallocated (--no-preallocate)");

  if (recovery_only) {
    measure_recovery(dir + "/log", recovery_mib, cold);
    std::filesystem::remove_all(dir);
    return 0;
  }
  // The disk is measured before and after the log, and ratios use the
  // better figure of each, so a disk that was busy once cannot flatter the
  // log. Both are printed: far apart means the figures are noise.
  Raw before = measure_raw(dir, seconds);
  print_raw("raw disk (before)", before);

  Raw raw;
  std::vector<Row> rows;
  std::printf("\n%-8s %-12s %12s %10s %12s\n", "record", "appenders", "appends/s", "MB/s", "per fsync");
  auto run = [&](const std::string& record, const std::string& appenders, const Load& load) {
    rows.push_back({record, appenders, load});
    std::printf("%-8s %-12s %12.0f %10.2f %12.1f\n", record.c_str(), appenders.c_str(), load.appends_per_s,
                load.payload_mb_per_s, load.appends_per_sync);
  };
  for (std::size_t record : {std::size_t{256}, std::size_t{4096}}) {
    for (int appenders : {1, 16, 256}) {
      Load load = measure_log_loop(dir + "/log", record, appenders, seconds);
      run(std::to_string(record), std::to_string(appenders) + " loop", load);
    }
  }
  // The same once the log runs on a segment zero-filled ahead of use.
  if (g_preallocate) run("256", "256 loop pre", measure_log_loop(dir + "/log", 256, 256, seconds, 1, true));
  // The node's own pattern: one loop appends a Ready's many entries at once.
  run("256", "1 x batch256", measure_log_loop(dir + "/log", 256, 1, seconds, 256));
  // The same 256 appenders as 256 OS threads each blocking in sync().
  run("256", "256 threads", measure_log_threads(dir + "/log", 256, 256, seconds));
  Raw after = measure_raw(dir, seconds);
  print_raw("raw disk (after) ", after);
  raw = {std::max(before.fdatasync_per_s, after.fdatasync_per_s),
         std::min(before.fdatasync_median_us, after.fdatasync_median_us),
         std::max(before.seq_mb_per_s, after.seq_mb_per_s), std::max(before.batch_mb_per_s, after.batch_mb_per_s)};
  std::printf("\nratios to the better raw figures (%.0f fdatasync/s, median %.0f us, %.1f MB/s):\n",
              raw.fdatasync_per_s, raw.fdatasync_median_us, raw.seq_mb_per_s);
  for (const Row& row : rows) print_load(row, raw);
  for (const Row& row : rows) {
    if (row.record == "256" && row.appenders.starts_with("256 loop")) print_bound(row, raw);
  }
  std::printf("\none append+sync, alternating with a raw write+fdatasync of the same bytes:\n");
  for (std::size_t record : {std::size_t{256}, std::size_t{4096}}) {
    Latency l = measure_latency(dir + "/log", record, seconds);
    std::printf("  %4zu B: log median %.0f us (p99 %.0f), raw median %.0f us (p99 %.0f): %.2f raw fdatasyncs\n",
                record, l.log_median_us, l.log_p99_us, l.raw_median_us, l.raw_p99_us,
                l.log_median_us / l.raw_median_us);
  }
  measure_crc();
  measure_recovery(dir + "/log", recovery_mib, cold);
  std::filesystem::remove_all(dir);
  return 0;
}
