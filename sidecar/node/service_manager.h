// Telling systemd (Type=notify) how the daemon is doing: READY once it
// serves, a STATUS line whenever the role, term or leader changes, STOPPING
// when it begins to stop, and WATCHDOG pings while its event loop turns.
// Without systemd (no NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "sidecar/raft/raft.h"

namespace conclave::node {

// The one line `systemctl status` shows under "Status:", e.g.
// "leader, term 3, leader node 1" or "follower, term 4, no leader known".
std::string describe_status(raft::Role role, raft::Term term, raft::NodeId leader);

// READY=1, with the first STATUS line.
void notify_ready(const std::string& status);
void notify_status(const std::string& status);
void notify_stopping();
void notify_watchdog();
// How often systemd wants a WATCHDOG ping (its WatchdogSec halved, so a late
// tick does not trip it), or nothing when the watchdog is off.
std::optional<std::chrono::milliseconds> watchdog_ping_interval();

}  // namespace conclave::node
