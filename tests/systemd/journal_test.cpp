// conclaved's log under systemd, end to end: started the way a unit with
// StandardError=journal starts it (JOURNAL_STREAM naming its stderr), it
// writes its lines to journald's socket with the node as fields, and none to
// stderr; with JOURNAL_STREAM naming some other stream (inherited, stale) it
// keeps to stderr. journald is played by the test: a datagram socket bound
// at /run/systemd/journal/socket, only where no journald runs and the test
// may create it (root); removed afterwards.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sidecar/node/journal_sink.h"
#include "tests/support/free_port.h"
#include "tests/support/read_file.h"
#include "tests/support/spawn.h"
#include "tests/support/stand_in_journald.h"

namespace conclave::systemd_test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test_support::free_port;
using test_support::StandInJournald;
using test_support::read_file;
using test_support::spawn_logged;

// Every wait is bounded by this; only a failure waits that long.
constexpr auto kPatience = std::chrono::seconds(30);

// A solo conclaved with stderr on `log_path` and JOURNAL_STREAM set to
// `journal_stream` (computed from the log file when empty); SIGKILLed at
// the end.
class Daemon {
 public:
  Daemon(const std::string& dir, const std::string& log_path, const std::string& journal_stream) {
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) throw std::runtime_error("cannot open " + log_path);
    struct stat st {};
    ::fstat(log, &st);
    ::close(log);
    std::string env_stream = journal_stream.empty() ? std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)
                                                    : journal_stream;
    std::vector<std::string> argv{CONCLAVED_PATH, "--id", "1", "--cluster-id", "journal-test", "--data-dir",
                                  dir + "/data", "--solo", "--peer-listen",
                                  "127.0.0.1:" + std::to_string(free_port()), "--admin-socket", dir + "/admin.sock",
                                  "--app-socket", dir + "/app.sock", "--tick-ms", "10", "--no-fsync",
                                  "--peer-plaintext"};
    pid_ = spawn_logged(argv, {"JOURNAL_STREAM=" + env_stream}, log_path);
  }
  ~Daemon() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/conclave-journal-XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Waits until `path` holds `text`; false at the deadline.
bool wait_for_text(const std::string& path, const std::string& text) {
  const auto deadline = Clock::now() + kPatience;
  while (Clock::now() < deadline) {
    if (read_file(path).find(text) != std::string::npos) return true;
    ::usleep(10000);
  }
  return false;
}

TEST(SystemdJournal, UnderSystemdTheLogGoesToJournaldWithTheNodeAsFields) {
  if (!node::journal_supported()) GTEST_SKIP() << "conclaved was built without libsystemd (libsystemd-dev)";
  StandInJournald journald;
  if (!journald.bound()) GTEST_SKIP() << journald.why_not();
  TempDir dir;
  const std::string log = dir.path() + "/stderr.log";
  Daemon daemon(dir.path(), log, "");

  const std::string entry = journald.wait_for_entry_with("MESSAGE=conclaved starting", kPatience);
  ASSERT_FALSE(entry.empty()) << "no entry reached journald; stderr had:\n" << read_file(log);
  EXPECT_NE(entry.find("\nPRIORITY=6\n"), std::string::npos) << entry;
  EXPECT_NE(entry.find("\nCONCLAVE_NODE_ID=1\n"), std::string::npos) << entry;
  EXPECT_NE(entry.find("\nCONCLAVE_CLUSTER_ID=journal-test\n"), std::string::npos) << entry;
  const std::string warning = journald.wait_for_entry_with("MESSAGE=*** peer_plaintext", kPatience);
  EXPECT_NE(warning.find("\nPRIORITY=4\n"), std::string::npos) << warning;
  // Nothing was written to stderr meanwhile: the journal has every line.
  EXPECT_EQ(read_file(log), "");
}

TEST(SystemdJournal, AJournalStreamNamingAnotherFileKeepsTheLogOnStderr) {
  StandInJournald journald;  // present or not, conclaved must not use it
  TempDir dir;
  const std::string log = dir.path() + "/stderr.log";
  // Inherited from some unit, but stderr is now this file.
  Daemon daemon(dir.path(), log, "1:1");
  EXPECT_TRUE(wait_for_text(log, "conclaved starting")) << read_file(log);
  EXPECT_TRUE(wait_for_text(log, "[node 1] ")) << read_file(log);
}

}  // namespace
}  // namespace conclave::systemd_test
