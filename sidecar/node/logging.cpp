// Choosing the log's destination and making the default logger. See logging.h.
#include "sidecar/node/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "sidecar/node/journal_sink.h"

namespace conclave::node {

namespace {

std::optional<std::uint64_t> decimal(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<StreamId> parse_journal_stream(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto device = decimal(text.substr(0, colon));
  auto inode = decimal(text.substr(colon + 1));
  if (!device || !inode) return std::nullopt;
  return StreamId{*device, *inode};
}

LogTarget choose_log_target(std::string_view setting, const char* journal_stream,
                            std::optional<StreamId> stderr_id) {
  if (setting == "journal") return LogTarget::kJournal;
  if (setting == "console") return LogTarget::kConsole;
  if (journal_stream == nullptr || !stderr_id) return LogTarget::kConsole;
  const auto connected = parse_journal_stream(journal_stream);
  return connected && *connected == *stderr_id ? LogTarget::kJournal : LogTarget::kConsole;
}

std::optional<StreamId> stderr_stream_id() {
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return std::nullopt;
  return StreamId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

LogTarget set_up_logging(const NodeConfig& config) {
  LogTarget target = choose_log_target(config.log_target, std::getenv("JOURNAL_STREAM"), stderr_stream_id());
  std::error_code ec;
  const bool journald_listens = std::filesystem::exists(kJournalSocket, ec);
  if (target == LogTarget::kJournal && config.log_target == "auto" && (!journal_supported() || !journald_listens)) {
    target = LogTarget::kConsole;
  }
  std::shared_ptr<spdlog::logger> logger;
  if (target == LogTarget::kJournal) {
    if (!journal_supported()) {
      throw ConfigError("log_target", "'journal' needs a conclaved built with libsystemd (libsystemd-dev); this one "
                                      "was not: use console");
    }
    if (!journald_listens) {
      throw ConfigError("log_target", std::string("'journal', but journald does not listen on ") + kJournalSocket +
                                          " here, so every line would be lost: use console, or auto");
    }
    auto sink = make_journal_sink(JournalFields{config.id, config.cluster_id});
    logger = std::make_shared<spdlog::logger>("conclaved", std::move(sink));
    // journald stamps the time and keeps the priority and node id as
    // fields; the message is the line.
    logger->set_pattern("%v");
  } else {
    logger = std::make_shared<spdlog::logger>("conclaved", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e [node " + std::to_string(config.id) + "] %^%l%$ %v");
  }
  logger->set_level(spdlog::level::from_str(config.log_level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return target;
}

}  // namespace conclave::node
