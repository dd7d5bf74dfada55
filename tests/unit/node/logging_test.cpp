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

// journald's side of the native protocol, played by the test: a datagram
// socket bound at kJournalSocket, where sd_journal_send(3) always writes.
// Only where no journald runs (a build machine, a container) and the test
// may create it (root); removed afterwards with whatever directories it made.
class StandInJournald {
 public:
  StandInJournald() {
    namespace fs = std::filesystem;
    const fs::path socket_path(kJournalSocket);
    std::error_code ec;
    if (fs::exists(socket_path, ec)) {
      why_not_ = "journald runs here; the test will not stand in for it";
      return;
    }
    std::vector<fs::path> missing;
    for (fs::path dir = socket_path.parent_path(); !fs::exists(dir, ec); dir = dir.parent_path()) {
      missing.insert(missing.begin(), dir);
    }
    // Only what this test made is removed afterwards.
    for (const auto& dir : missing) {
      if (!fs::create_directory(dir, ec)) {
        why_not_ = "cannot create " + dir.string() + " (not root?)";
        return;
      }
      created_.push_back(dir);
    }
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, kJournalSocket, sizeof(addr.sun_path) - 1);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      why_not_ = std::string("cannot bind ") + kJournalSocket + ": " + std::strerror(errno);
    }
  }
  ~StandInJournald() {
    if (fd_ >= 0) ::close(fd_);
    std::error_code ec;
    if (bound()) std::filesystem::remove(kJournalSocket, ec);
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) std::filesystem::remove(*it, ec);
  }
  bool bound() const { return why_not_.empty(); }
  const std::string& why_not() const { return why_not_; }

  // The next entry's fields (KEY=value lines), or empty after a second.
  std::string next_entry() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) return {};
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  int fd_ = -1;
  std::string why_not_;
  std::vector<std::filesystem::path> created_;
};

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
