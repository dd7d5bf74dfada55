// An spdlog sink writing to journald over its native protocol
// (sd_journal_send(3)), so each line keeps its priority and carries the node
// as fields: `journalctl CONCLAVE_NODE_ID=2 -p warning`.
//
// Ours rather than spdlog's systemd_sink: Debian's spdlog 1.10 sends only
// the message, priority and identifier, with no way to add fields. The
// priority mapping is the same as spdlog's.
#pragma once

#include <spdlog/common.h>
#include <spdlog/sinks/sink.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace conclave::node {

// Fields added to every entry besides MESSAGE, PRIORITY and
// SYSLOG_IDENTIFIER=conclaved.
struct JournalFields {
  std::uint64_t node_id = 0;     // CONCLAVE_NODE_ID
  std::string cluster_id;        // CONCLAVE_CLUSTER_ID
};

// The syslog(3) priority of a level: trace and debug are LOG_DEBUG, info
// LOG_INFO, warn LOG_WARNING, error LOG_ERR, critical LOG_CRIT.
int syslog_priority(spdlog::level::level_enum level);

// Whether this build can write to the journal (it links libsystemd).
bool journal_supported();

// Where journald takes native-protocol entries. sd_journal_send(3) drops
// an entry without a word when nothing listens there, so the daemon checks
// for it before choosing the journal.
inline constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

// The sink, or null in a build without libsystemd. An entry journald
// refuses goes to `fallback` instead, with a "<priority>" prefix that
// journald's stream reader understands when the fallback is a stream it
// reads (systemd.exec(5), SyslogLevelPrefix=).
std::shared_ptr<spdlog::sinks::sink> make_journal_sink(JournalFields fields, std::FILE* fallback = stderr);

}  // namespace conclave::node
