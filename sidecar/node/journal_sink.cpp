// The journald sink; see journal_sink.h. Without libsystemd only the
// priority mapping is built, and make_journal_sink says no.
#include "sidecar/node/journal_sink.h"

#include <spdlog/sinks/base_sink.h>
#include <syslog.h>

#include <mutex>

#ifdef CONCLAVE_HAVE_SYSTEMD
// Otherwise every entry names this file and line as its source.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#endif

namespace conclave::node {

int syslog_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return LOG_DEBUG;
    case spdlog::level::info: return LOG_INFO;
    case spdlog::level::warn: return LOG_WARNING;
    case spdlog::level::err: return LOG_ERR;
    case spdlog::level::critical: return LOG_CRIT;
    default: return LOG_INFO;
  }
}

#ifdef CONCLAVE_HAVE_SYSTEMD

namespace {

class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  JournalSink(JournalFields fields, std::FILE* fallback)
      : node_id_("CONCLAVE_NODE_ID=" + std::to_string(fields.node_id)),
        cluster_id_("CONCLAVE_CLUSTER_ID=" + fields.cluster_id),
        fallback_(fallback) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    // The formatter ends the line with a newline; journald wants none.
    std::size_t size = line.size();
    while (size > 0 && (line[size - 1] == '\n' || line[size - 1] == '\r')) --size;
    const int priority = syslog_priority(msg.level);
    const int rc = sd_journal_send("MESSAGE=%.*s", static_cast<int>(size), line.data(), "PRIORITY=%d", priority,
                                   "SYSLOG_IDENTIFIER=conclaved", "%s", node_id_.c_str(), "%s", cluster_id_.c_str(),
                                   nullptr);
    // A refusal (not an absent journald: that sd_journal_send ignores, and
    // set_up_logging checks for) must not lose the line.
    if (rc < 0 && fallback_ != nullptr) {
      std::fprintf(fallback_, "<%d>%.*s\n", priority, static_cast<int>(size), line.data());
    }
  }
  void flush_() override {
    if (fallback_ != nullptr) std::fflush(fallback_);
  }

 private:
  const std::string node_id_;
  const std::string cluster_id_;
  std::FILE* fallback_;
};

}  // namespace

bool journal_supported() { return true; }

std::shared_ptr<spdlog::sinks::sink> make_journal_sink(JournalFields fields, std::FILE* fallback) {
  return std::make_shared<JournalSink>(std::move(fields), fallback);
}

#else

bool journal_supported() { return false; }

std::shared_ptr<spdlog::sinks::sink> make_journal_sink(JournalFields, std::FILE*) { return nullptr; }

#endif

}  // namespace conclave::node
