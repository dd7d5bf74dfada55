// Where conclaved's log goes, and setting it up: the journal when systemd
// runs the daemon with its stderr connected to journald, the console
// (stderr) otherwise, or whichever the log_target key names.
//
// The journal is detected the way systemd.exec(5) documents: systemd sets
// JOURNAL_STREAM to "<device>:<inode>" of the stream it connects to the
// journal, and the daemon compares that with its own stderr. Comparing,
// rather than trusting the variable's presence, matters because the variable
// is inherited: a daemon started by hand from a shell that a unit started,
// or with stderr redirected to a file, must keep writing to that file.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "sidecar/node/config.h"

namespace conclave::node {

enum class LogTarget { kConsole, kJournal };

// A file's identity, as fstat(2) gives it.
struct StreamId {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  bool operator==(const StreamId&) const = default;
};

// "<device>:<inode>", both decimal, as in JOURNAL_STREAM; nothing for
// anything else (empty, a missing part, trailing text).
std::optional<StreamId> parse_journal_stream(std::string_view text);

// The decision, from the log_target setting ("auto", "journal" or
// "console"), JOURNAL_STREAM's value (null when unset) and stderr's
// identity (nothing when stderr is closed). Pure, for tests.
LogTarget choose_log_target(std::string_view setting, const char* journal_stream,
                            std::optional<StreamId> stderr_id);

// stderr's identity now, or nothing when it is not open.
std::optional<StreamId> stderr_stream_id();

// Makes the default logger: every line carries the node id (a journal field,
// or the console's line prefix), at config.log_level. Throws ConfigError
// (key log_target) when the journal is asked for but cannot be written to:
// a build without libsystemd, or no journald listening (its lines would be
// lost without a trace). "auto" then picks the console. Returns where the
// log goes.
LogTarget set_up_logging(const NodeConfig& config);

}  // namespace conclave::node
