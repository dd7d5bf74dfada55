// The disk's fdatasync rate and the loopback round trip.
#include "machine_limits.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <stdexcept>
#include <thread>
#include <vector>

#include "probe_io.h"

namespace conclave::bench {

namespace {

using probe::Clock;
using probe::fail;
using probe::quantile_us;
using probe::us_since;
using probe::zero_filled_scratch;

// Sends and receives exactly one byte; false when the peer has gone.
bool exchange_byte(int fd, bool send_first) {
  char byte = 'x';
  if (send_first && ::send(fd, &byte, 1, MSG_NOSIGNAL) != 1) return false;
  if (::recv(fd, &byte, 1, MSG_WAITALL) != 1) return false;
  if (!send_first && ::send(fd, &byte, 1, MSG_NOSIGNAL) != 1) return false;
  return true;
}

// One 4 KiB write at the file position (wrapping after `blocks`) and an
// fdatasync; returns how long they took.
double write_and_sync(int fd, int blocks, int i) {
  static const std::vector<char> data(4096, 'b');
  if (i % blocks == 0 && ::lseek(fd, 0, SEEK_SET) != 0) fail("lseek");
  const auto t = Clock::now();
  if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) fail("write");
  if (::fdatasync(fd) != 0) fail("fdatasync");
  return us_since(t);
}

}  // namespace

DiskSync measure_disk_sync(const std::string& dir, int syncs) {
  int fd = zero_filled_scratch(dir, "conclave-bench-fdatasync.tmp", syncs);
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(syncs));
  const auto start = Clock::now();
  for (int i = 0; i < syncs; ++i) samples.push_back(write_and_sync(fd, syncs, i));
  const double total_us = us_since(start);
  ::close(fd);
  return DiskSync{syncs, syncs / (total_us / 1e6), quantile_us(samples, 0.5), quantile_us(samples, 0.99)};
}

DiskSyncTail measure_disk_sync_tail(const std::string& dir, int writers, double seconds) {
  constexpr int kBlocks = 4096;  // 16 MiB each, rewritten from the start
  std::vector<int> fds;
  try {
    for (int w = 0; w < writers; ++w) {
      fds.push_back(zero_filled_scratch(dir, "conclave-bench-fdatasync-" + std::to_string(w) + ".tmp", kBlocks));
    }
  } catch (...) {
    for (int fd : fds) ::close(fd);
    throw;
  }
  std::vector<std::vector<double>> samples(static_cast<std::size_t>(writers));
  std::vector<std::string> errors(static_cast<std::size_t>(writers));
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      const auto k = static_cast<std::size_t>(w);
      try {
        for (int i = 0; Clock::now() < until; ++i) samples[k].push_back(write_and_sync(fds[k], kBlocks, i));
      } catch (const std::exception& e) {
        errors[k] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int fd : fds) ::close(fd);
  for (const auto& e : errors) {
    if (!e.empty()) throw std::runtime_error(e);
  }
  std::vector<double> all;
  for (auto& s : samples) all.insert(all.end(), s.begin(), s.end());
  const double max_us = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
  return DiskSyncTail{writers, seconds, static_cast<double>(all.size()) / seconds, quantile_us(all, 0.99),
                      quantile_us(all, 0.999), max_us};
}

LoopbackRtt measure_loopback_rtt(int round_trips) {
  sockaddr_in addr{};
  int listener = probe::listen_loopback(addr);
  std::thread echo([listener, round_trips] {
    int fd = probe::accept_nodelay(listener);
    if (fd < 0) return;
    for (int i = 0; i < round_trips && exchange_byte(fd, false); ++i) {
    }
    ::close(fd);
  });
  int fd = probe::connect_loopback(addr);
  bool connected = fd >= 0;
  std::vector<double> samples;
  if (connected) {
    samples.reserve(static_cast<std::size_t>(round_trips));
    for (int i = 0; i < round_trips; ++i) {
      const auto t = Clock::now();
      if (!exchange_byte(fd, true)) break;
      samples.push_back(us_since(t));
    }
  }
  const int saved_errno = errno;
  if (fd >= 0) ::close(fd);
  if (!connected) ::shutdown(listener, SHUT_RDWR);  // ends the accept
  echo.join();
  ::close(listener);
  if (samples.size() != static_cast<std::size_t>(round_trips)) {
    errno = saved_errno;
    fail("loopback ping-pong");
  }
  return LoopbackRtt{round_trips, quantile_us(std::move(samples), 0.5)};
}

}  // namespace conclave::bench

namespace conclave::bench {

MachineLimits measure_machine(const std::string& dir, int syncs, int round_trips, int tail_writers,
                              double tail_seconds) {
  MachineLimits m;
  m.disk_idle = measure_disk_sync(dir, syncs);
  m.rtt_idle = measure_loopback_rtt(round_trips);
  std::atomic<bool> done{false};
  std::thread spinner([&done] {
    while (!done.load(std::memory_order_relaxed)) {
    }
  });
  try {
    m.disk = measure_disk_sync(dir, syncs);
    m.rtt = measure_loopback_rtt(round_trips);
  } catch (...) {
    done = true;
    spinner.join();
    throw;
  }
  done = true;
  spinner.join();
  // Last: it loads the disk the hardest, and the others are medians.
  if (tail_writers > 0) m.disk_tail = measure_disk_sync_tail(dir, tail_writers, tail_seconds);
  return m;
}

}  // namespace conclave::bench
