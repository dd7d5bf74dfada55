// sd_notify(3) calls for Type=notify units; a no-op build without libsystemd.
#include "sidecar/node/service_manager.h"

#include <algorithm>
#include <cstdint>

#ifdef CONCLAVE_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace conclave::node {

#ifdef CONCLAVE_HAVE_SYSTEMD
void notify_ready() { sd_notify(0, "READY=1\nSTATUS=serving"); }
void notify_stopping() { sd_notify(0, "STOPPING=1"); }
void notify_watchdog() { sd_notify(0, "WATCHDOG=1"); }
std::optional<std::chrono::milliseconds> watchdog_ping_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::milliseconds(std::max<std::uint64_t>(usec / 2000, 1));
}
#else
void notify_ready() {}
void notify_stopping() {}
void notify_watchdog() {}
std::optional<std::chrono::milliseconds> watchdog_ping_interval() { return std::nullopt; }
#endif

}  // namespace conclave::node
