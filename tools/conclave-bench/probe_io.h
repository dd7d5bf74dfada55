// What the machine probes (machine_limits.cpp, replication_floor.cpp)
// share: scratch files written the way the log writes, loopback sockets,
// and quantiles.
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <string>
#include <vector>

namespace conclave::bench::probe {

using Clock = std::chrono::steady_clock;

// Throws std::runtime_error with `what` and errno's text.
[[noreturn]] void fail(const std::string& what);

double us_since(Clock::time_point start);

// The q-quantile (0..1) of the samples; 0 when there are none.
double quantile_us(std::vector<double> samples, double q);

// A scratch file of `blocks` zero-filled 4 KiB blocks in `dir`, already
// unlinked. Zero-filled ahead, as the log's segments are (segmented_log.h,
// PREALLOCATION): a write then changes no file size, and fdatasync flushes
// the data alone, which is what the daemon pays per sync.
int zero_filled_scratch(const std::string& dir, const std::string& name, int blocks);

// A listening TCP socket on 127.0.0.1 at a free port, written to `addr`.
int listen_loopback(sockaddr_in& addr);
// A connected TCP socket with TCP_NODELAY, or -1 (errno set).
int connect_loopback(const sockaddr_in& addr);
// accept() with TCP_NODELAY set on the result, or -1.
int accept_nodelay(int listener);

}  // namespace conclave::bench::probe
