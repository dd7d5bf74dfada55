// Tests of where conclaved logs: the JOURNAL_STREAM decision (systemd.exec(5):
// the journal only when stderr is the very stream systemd connected to it),
// the level-to-priority mapping, the journal sink's entries (read by a
// stand-in journald where none runs), and the refusal of "journal" where
// journald would not get the lines.
#include "sidecar/node/logging.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "sidecar/node/journal_sink.h"
#include "tests/support/stand_in_journald.h"

namespace conclave::node {
namespace {

TEST(JournalStream, ParsesDeviceColonInode) {
  auto id = parse_journal_stream("8:306630");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->device, 8u);
  EXPECT_EQ(id->inode, 306630u);
  for (const char* bad : {"", "8", "8:", ":306630", "8:x", "8:1:2", "-8:1", " 8:1", "8:1 ", "0x8:1"}) {
    EXPECT_FALSE(parse_journal_stream(bad)) << "'" << bad << "'";
  }
}

TEST(LogTarget, AutoPicksTheJournalOnlyWhenStderrIsTheJournalsStream) {
  const StreamId stderr_id{8, 306630};
  EXPECT_EQ(choose_log_target("auto", "8:306630", stderr_id), LogTarget::kJournal);
  // Inherited from a unit, but stderr now goes elsewhere (a file, a terminal).
  EXPECT_EQ(choose_log_target("auto", "8:306631", stderr_id), LogTarget::kConsole);
  EXPECT_EQ(choose_log_target("auto", "9:306630", stderr_id), LogTarget::kConsole);
  EXPECT_EQ(choose_log_target("auto", nullptr, stderr_id), LogTarget::kConsole);
  EXPECT_EQ(choose_log_target("auto", "garbage", stderr_id), LogTarget::kConsole);
  EXPECT_EQ(choose_log_target("auto", "8:306630", std::nullopt), LogTarget::kConsole);
}

TEST(LogTarget, AnExplicitSettingWins) {
  EXPECT_EQ(choose_log_target("journal", nullptr, std::nullopt), LogTarget::kJournal);
  EXPECT_EQ(choose_log_target("console", "8:306630", StreamId{8, 306630}), LogTarget::kConsole);
}

TEST(LogTarget, StderrIdentityIsWhatFstatSays) {
  // The comparison is only as good as the identity read from fd 2.
  struct stat st {};
  ASSERT_EQ(::fstat(STDERR_FILENO, &st), 0);
  auto id = stderr_stream_id();
  ASSERT_TRUE(id);
  EXPECT_EQ(id->device, static_cast<std::uint64_t>(st.st_dev));
  EXPECT_EQ(id->inode, static_cast<std::uint64_t>(st.st_ino));
  const std::string env = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  EXPECT_EQ(choose_log_target("auto", env.c_str(), stderr_stream_id()), LogTarget::kJournal);
}

TEST(JournalSink, LevelsMapToSyslogPriorities) {
  EXPECT_EQ(syslog_priority(spdlog::level::trace), LOG_DEBUG);
  EXPECT_EQ(syslog_priority(spdlog::level::debug), LOG_DEBUG);
  EXPECT_EQ(syslog_priority(spdlog::level::info), LOG_INFO);
  EXPECT_EQ(syslog_priority(spdlog::level::warn), LOG_WARNING);
  EXPECT_EQ(syslog_priority(spdlog::level::err), LOG_ERR);
  EXPECT_EQ(syslog_priority(spdlog::level::critical), LOG_CRIT);
}

using test_support::StandInJournald;


bool has_line(const std::string& entry, const std::string& line) {
  return ("\n" + entry).find("\n" + line + "\n") != std::string::npos;
}

TEST(JournalSink, SendsTheMessageWithItsPriorityAndTheNodeAsFields) {
  if (!journal_supported()) {
    EXPECT_EQ(make_journal_sink(JournalFields{1, "c"}), nullptr);
    GTEST_SKIP() << "built without libsystemd: no journal sink";
  }
  StandInJournald journald;
  if (!journald.bound()) GTEST_SKIP() << journald.why_not();
  auto sink = make_journal_sink(JournalFields{3, "orders"}, nullptr);
  ASSERT_NE(sink, nullptr);
  spdlog::logger logger("journal-test", sink);
  logger.set_pattern("%v");
  logger.warn("peer {} is slow", 2);
  logger.error("disk full");

  const std::string first = journald.next_entry();
  EXPECT_TRUE(has_line(first, "MESSAGE=peer 2 is slow")) << first;
  EXPECT_TRUE(has_line(first, "PRIORITY=4")) << first;
  EXPECT_TRUE(has_line(first, "SYSLOG_IDENTIFIER=conclaved")) << first;
  EXPECT_TRUE(has_line(first, "CONCLAVE_NODE_ID=3")) << first;
  EXPECT_TRUE(has_line(first, "CONCLAVE_CLUSTER_ID=orders")) << first;
  // No source location of the sink's own: it would name journal_sink.cpp.
  EXPECT_EQ(first.find("CODE_FILE="), std::string::npos) << first;
  const std::string second = journald.next_entry();
  EXPECT_TRUE(has_line(second, "MESSAGE=disk full")) << second;
  EXPECT_TRUE(has_line(second, "PRIORITY=3")) << second;
}

// set_up_logging honours the setting, and refuses "journal" where it would
// lose every line: a build without libsystemd, or no journald listening.
TEST(SetUpLogging, MakesTheDefaultLoggerForTheTarget) {
  NodeConfig config;
  config.id = 7;
  config.cluster_id = "c";
  config.log_target = "console";
  EXPECT_EQ(set_up_logging(config), LogTarget::kConsole);
  EXPECT_EQ(spdlog::default_logger()->name(), "conclaved");
  config.log_target = "journal";
  config.log_level = "warn";
  if (journal_supported() && std::filesystem::exists(kJournalSocket)) {
    EXPECT_EQ(set_up_logging(config), LogTarget::kJournal);
    EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
  } else {
    try {
      set_up_logging(config);
      ADD_FAILURE() << "log_target = journal accepted with no journal to write to";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.key(), "log_target");
    }
  }
}

// With a journald to write to, "journal" is taken.
TEST(SetUpLogging, TakesTheJournalWhereJournaldListens) {
  if (!journal_supported()) GTEST_SKIP() << "built without libsystemd";
  StandInJournald journald;
  if (!journald.bound() && !std::filesystem::exists(kJournalSocket)) GTEST_SKIP() << journald.why_not();
  NodeConfig config;
  config.id = 7;
  config.log_target = "journal";
  EXPECT_EQ(set_up_logging(config), LogTarget::kJournal);
  config.log_target = "console";
  set_up_logging(config);
}

}  // namespace
}  // namespace conclave::node
