// Telling systemd (Type=notify) how the daemon is doing: READY once it
// serves, STOPPING when it begins to stop, and WATCHDOG pings while its event
// loop turns. Without systemd (no NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <chrono>
#include <optional>

namespace conclave::node {

void notify_ready();
void notify_stopping();
void notify_watchdog();
// How often systemd wants a WATCHDOG ping (its WatchdogSec halved, so a late
// tick does not trip it), or nothing when the watchdog is off.
std::optional<std::chrono::milliseconds> watchdog_ping_interval();

}  // namespace conclave::node
