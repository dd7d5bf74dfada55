// `conclavectl log`: opens a stopped node's data directory read-only with
// the storage library (no lock taken, nothing created, a torn tail reported
// and left for the node to cut) and prints what it holds. A running node's
// directory can be read too, but may change while it is read.
#include "tools/conclavectl/log_dump.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <iostream>

#include "sidecar/storage/data_dir.h"
#include "tools/conclavectl/config_text.h"
#include "tools/conclavectl/data_text.h"
#include "sidecar/node/app_entry.h"
#include "tools/conclavectl/json_writer.h"

namespace conclave::ctl {

namespace {

// Entries read per batch, so a long log is never held in memory at once.
constexpr std::uint64_t kBatchBytesMax = 4u << 20;

// `text` followed by spaces to `width` (at least one space).
std::string padded(const std::string& text, std::size_t width) {
  return text + std::string(text.size() < width ? width - text.size() : 1, ' ');
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

const char* type_name(raft::EntryType type) {
  switch (type) {
    case raft::EntryType::kNormal: return "normal";
    case raft::EntryType::kNoop: return "noop";
    case raft::EntryType::kConfig: return "config";
  }
  return "unknown";
}

// A config entry's change in words; nullopt if the data does not decode.
std::optional<std::string> change_text(const std::string& data) {
  auto change = raft::decode_config_change(data);
  if (!change) return std::nullopt;
  const std::string node = std::to_string(change->node.value());
  switch (change->type) {
    case raft::ConfigChangeType::kAddLearner: return "add-learner " + node + " at " + change->address;
    case raft::ConfigChangeType::kPromote: return "promote " + node;
    case raft::ConfigChangeType::kRemove: return "remove " + node;
    case raft::ConfigChangeType::kBootstrap: return "bootstrap " + config_text(change->founders);
  }
  return std::nullopt;
}

int fail(const LogDumpOptions& options, const std::string& message) {
  if (options.json) {
    JsonWriter j;
    j.begin_object().field("ok", false).field("error", "unreadable").field("reason", message).end_object();
    std::cout << j.str() << '\n';
  }
  std::cerr << "conclavectl: " << message << '\n';
  return 1;
}

}  // namespace

int run_log(const LogDumpOptions& options) {
  // The storage library logs through spdlog; keep stdout for the dump.
  auto logger = spdlog::stderr_logger_mt("conclavectl");
  logger->set_level(spdlog::level::warn);
  spdlog::set_default_logger(logger);

  const std::string& dir = options.data_dir;
  // Opening would create a missing directory; a typo should not.
  if (!exists(dir + "/hardstate") && !exists(dir + "/log")) {
    return fail(options, dir + " is not a Conclave data directory (no hardstate, no log/): give the --data-dir "
                               "that conclaved was started with");
  }
  storage::DataDirOptions read_only;
  read_only.read_only = true;
  auto opened = storage::DataDir::open(dir, read_only);
  if (!opened) return fail(options, "cannot open " + dir + ": " + opened.error().message);
  storage::DataDir& d = *opened.value();
  const raft::HardState hs = d.hard_state().current();
  const auto snapshots = d.snapshots().list();
  storage::SegmentedLog& log = d.log();
  const std::uint64_t first_held = log.first_index().value();
  const std::uint64_t last_held = log.last_index().value();
  const std::uint64_t from = std::max(options.from.value_or(first_held), first_held);
  const std::uint64_t to = std::min(options.to.value_or(last_held), last_held);

  JsonWriter j;
  if (options.json) {
    j.begin_object().field("ok", true).field("data_dir", dir);
    j.key("hard_state").begin_object().field("term", hs.term.value()).field("vote", hs.vote.value());
    j.field("commit", hs.commit.value()).end_object();
    j.key("snapshots").begin_array();
    for (const auto& s : snapshots) {
      j.begin_object().field("index", s.meta.index.value()).field("term", s.meta.term.value());
      j.field("data_bytes", s.data_bytes).key("config");
      config_json(j, s.meta.config);
      j.end_object();
    }
    j.end_array().field("first_index", first_held).field("last_index", last_held);
    if (log.recovery().torn_tail) j.field("torn_tail", *log.recovery().torn_tail);
    j.key("entries").begin_array();
  } else {
    std::cout << "data dir    " << dir << '\n'
              << "hard state  term " << hs.term.value() << "  vote " << hs.vote.value() << "  commit "
              << hs.commit.value() << " (a lower bound: commit is saved with term and vote changes)\n";
    if (snapshots.empty()) std::cout << "snapshots   none\n";
    for (const auto& s : snapshots) {
      std::cout << "snapshot    index " << s.meta.index.value() << "  term " << s.meta.term.value() << "  "
                << s.data_bytes << " bytes  " << config_text(s.meta.config) << '\n';
    }
    if (first_held > last_held) {
      std::cout << "log         empty (next index " << first_held << ")\n";
    } else {
      std::cout << "log         entries " << first_held << ".." << last_held << " in " << log.segment_count()
                << " segment(s)\n";
    }
    if (log.recovery().torn_tail) std::cout << "torn tail   " << *log.recovery().torn_tail << '\n';
    std::cout << '\n' << "INDEX  TERM  TYPE    DATA\n";
  }

  for (std::uint64_t next = from; next <= to && first_held <= last_held;) {
    auto batch = log.read(raft::Index(next), raft::Index(to), kBatchBytesMax);
    if (!batch) return fail(options, "reading entry " + std::to_string(next) + " failed: " + batch.error().message);
    for (const raft::Entry& e : *batch) {
      std::optional<std::string> change;
      if (e.type == raft::EntryType::kConfig) change = change_text(e.data);
      // A proposal's data, out of its client-session envelope.
      std::optional<node::AppEntry> proposal;
      if (e.type == raft::EntryType::kNormal) proposal = node::decode_app_entry(e.data);
      const std::string data = proposal ? std::string(proposal->data) : e.data;
      if (options.json) {
        j.begin_object().field("index", e.index.value()).field("term", e.term.value()).field("type", type_name(e.type));
        if (proposal) j.field("session", proposal->session).field("seq", proposal->seq);
        if (is_printable(data)) {
          j.field("data", data);
        } else {
          j.field("data_hex", to_hex(data));
        }
        if (change) j.field("change", *change);
        j.end_object();
      } else {
        std::string session;
        if (proposal && proposal->session != 0) {
          session = "[session " + std::to_string(proposal->session) + " seq " + std::to_string(proposal->seq) + "] ";
        }
        std::cout << padded(std::to_string(e.index.value()), 7) << padded(std::to_string(e.term.value()), 6)
                  << padded(type_name(e.type), 8) << (change ? *change : session + shown(data)) << '\n';
      }
      next = e.index.value() + 1;
    }
    if (batch->empty()) break;
  }
  if (options.json) {
    j.end_array().end_object();
    std::cout << j.str() << '\n';
  }
  return 0;
}

}  // namespace conclave::ctl
