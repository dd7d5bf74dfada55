// `conclavectl recover`; see recover.h for what it does and why it is safe
// only in the situation it is for.
#include "tools/conclavectl/recover.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <iostream>

#include "sidecar/raft/types.h"
#include "sidecar/storage/data_dir.h"
#include "tools/conclavectl/config_text.h"
#include "tools/conclavectl/json_writer.h"

namespace conclave::ctl {
namespace {

int refuse(const RecoverOptions& options, const std::string& message) {
  if (options.json) {
    JsonWriter j;
    j.begin_object().field("ok", false).field("error", "refused").field("reason", message).end_object();
    std::cout << j.str() << '\n';
  }
  std::cerr << "conclavectl: " << message << '\n';
  return 1;
}

constexpr const char* kRisks =
    "  - entries that only the lost nodes held are gone, even if clients were told they committed;\n"
    "  - entries this node holds that never committed become committed;\n"
    "  - the lost nodes must never start again with their old data: wipe their data directories and add\n"
    "    them back as new members (conclavectl members add, then promote).\n";

}  // namespace

int run_recover(const RecoverOptions& options) {
  // The storage library logs through spdlog; stdout is for the answer.
  auto logger = spdlog::stderr_logger_mt("conclavectl");
  logger->set_level(spdlog::level::warn);
  spdlog::set_default_logger(logger);

  const std::string& dir = options.data_dir;
  struct stat st {};
  if (::stat((dir + "/hardstate").c_str(), &st) != 0) {
    return refuse(options, dir + " is not a Conclave data directory (no hardstate): give the --data-dir that "
                               "conclaved was started with");
  }
  // Takes the directory's lock: a running node holds it, and its log must
  // not change under it.
  auto opened = storage::DataDir::open(dir);
  if (!opened) {
    return refuse(options, "cannot open " + dir + ": " + opened.error().message +
                               " (stop the node first: recover works on a stopped node only)");
  }
  storage::DataDir& d = *opened.value();
  auto restored = d.restore();
  if (!restored) return refuse(options, "cannot read " + dir + ": " + restored.error().message);

  const raft::NodeId self(options.node_id);
  raft::Configuration config = restored->snapshot.config;
  for (const raft::Entry& e : restored->entries) {
    if (e.type != raft::EntryType::kConfig) continue;
    auto change = raft::decode_config_change(e.data);
    if (!change) {
      return refuse(options, "the configuration entry at index " + std::to_string(e.index.value()) +
                                 " does not decode; the log is damaged");
    }
    config = raft::apply_config_change(std::move(config), *change);
  }
  if (config.is_learner(self)) {
    return refuse(options, "node " + std::to_string(self.value()) +
                               " is a learner: it may lack committed entries, so it cannot be the survivor to "
                               "recover from; pick a voter");
  }
  if (!config.is_voter(self)) {
    return refuse(options, "node " + std::to_string(self.value()) + " is not a member of the configuration this "
                               "directory holds (" + config_text(config) + "): check --id and --data-dir");
  }
  const raft::Index last(restored->entries.empty() ? restored->snapshot.index.value()
                                                    : restored->entries.back().index.value());
  const raft::Term last_term = restored->entries.empty() ? restored->snapshot.term : restored->entries.back().term;
  if (config.voters.size() == 1 && config.learners.empty()) {
    if (options.json) {
      JsonWriter j;
      j.begin_object().field("ok", true).field("changed", false).key("configuration");
      config_json(j, config);
      std::cout << j.end_object().str() << '\n';
    } else {
      std::cout << "node " << self.value() << " is already the only member (" << config_text(config)
                << "); nothing to do: start it\n";
    }
    return 0;
  }

  raft::Configuration forced;
  forced.voters.insert(self);
  if (auto it = config.addresses.find(self); it != config.addresses.end()) forced.addresses[self] = it->second;
  const raft::Term term(std::max(restored->hard_state.term.value(), last_term.value()) + 1);
  const raft::Entry entry{last.next(), term, raft::EntryType::kConfig,
                          raft::encode_config_change(raft::ConfigChange::founding(forced))};
  const std::uint64_t commit = restored->hard_state.commit.value();

  if (!options.confirmed) {
    if (options.json) {
      JsonWriter j;
      j.begin_object().field("ok", true).field("changed", false).field("dry_run", true).key("from");
      config_json(j, config);
      j.key("to");
      config_json(j, forced);
      j.field("index", entry.index.value()).field("term", term.value()).field("last_index", last.value());
      j.field("commit_index", commit);
      std::cout << j.end_object().str() << '\n';
    } else {
      std::cout << "would force node " << self.value() << " to be the only voter:\n"
                << "  from " << config_text(config) << "\n  to   " << config_text(forced) << "\n"
                << "  by appending a configuration entry at index " << entry.index.value() << " in term "
                << term.value() << " (this node's log ends at " << last.value()
                << "; the commit index it knows is " << commit << ", so entries " << commit + 1 << ".."
                << last.value() << " would become committed)\n"
                << "Only when a majority of the voters is lost for good. Risks:\n"
                << kRisks << "Run again with --yes to do it.\n";
    }
    return 0;
  }

  raft::Ready ready;
  ready.entries.push_back(entry);
  ready.hard_state = raft::HardState{term, raft::kNoNode, restored->hard_state.commit};
  ready.must_sync = true;
  if (storage::Status s = d.persist(ready); !s) {
    return refuse(options, "writing the forced configuration to " + dir + " failed: " + s.error().message +
                               "; the directory is as it was unless the log shows the entry at index " +
                               std::to_string(entry.index.value()));
  }
  if (options.json) {
    JsonWriter j;
    j.begin_object().field("ok", true).field("changed", true).key("configuration");
    config_json(j, forced);
    j.field("index", entry.index.value()).field("term", term.value());
    std::cout << j.end_object().str() << '\n';
  } else {
    std::cout << "node " << self.value() << " is now the only voter (" << config_text(forced)
              << "): configuration entry at index " << entry.index.value() << ", term " << term.value() << ".\n"
              << "Next: start the node (it elects itself), then add fresh nodes with `conclavectl members add ID "
                 "HOST:PORT` and `members promote ID`. Remember:\n"
              << kRisks;
  }
  return 0;
}

}  // namespace conclave::ctl
