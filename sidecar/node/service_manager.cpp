// sd_notify(3) calls for Type=notify units; a no-op build without libsystemd.
#include "sidecar/node/service_manager.h"

#include <algorithm>
#include <cstdint>

#ifdef CONCLAVE_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace conclave::node {

namespace {

// A STATUS value is one line of the notification; ours never hold a newline,
// but one would cut the line short, so it is replaced rather than trusted.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

}  // namespace

std::string describe_status(raft::Role role, raft::Term term, raft::NodeId leader) {
  std::string status(raft::to_string(role));
  status += ", term " + std::to_string(term.value());
  status += leader == raft::kNoNode ? ", no leader known" : ", leader node " + std::to_string(leader.value());
  return status;
}

#ifdef CONCLAVE_HAVE_SYSTEMD
void notify_ready(const std::string& status) { sd_notify(0, ("READY=1\nSTATUS=" + one_line(status)).c_str()); }
void notify_status(const std::string& status) { sd_notify(0, ("STATUS=" + one_line(status)).c_str()); }
void notify_stopping() { sd_notify(0, "STOPPING=1"); }
void notify_watchdog() { sd_notify(0, "WATCHDOG=1"); }
std::optional<std::chrono::milliseconds> watchdog_ping_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::milliseconds(std::max<std::uint64_t>(usec / 2000, 1));
}
#else
void notify_ready(const std::string&) {}
void notify_status(const std::string&) {}
void notify_stopping() {}
void notify_watchdog() {}
std::optional<std::chrono::milliseconds> watchdog_ping_interval() { return std::nullopt; }
#endif

}  // namespace conclave::node
