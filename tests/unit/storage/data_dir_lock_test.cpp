// DataDirLock: one holder per directory, across processes and within one,
// and the refusal names the directory and the holder's pid.
#include "sidecar/storage/data_dir_lock.h"
#include "sidecar/storage/file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/storage/temp_dir.h"

namespace conclave::storage {
namespace {

using testing::TempDir;

// Runs `body` in a forked child and returns its exit status (fcntl locks do
// not conflict within one process, so the other holder must be another one).
template <typename F>
int in_child(F body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(DataDirLock, AnotherProcessIsRefusedWithOurPid) {
  TempDir dir;
  auto lock = DataDirLock::acquire(dir.path());
  ASSERT_TRUE(lock.ok()) << lock.error().message;
  std::string pid = std::to_string(::getpid());
  int rc = in_child([&] {
    auto second = DataDirLock::acquire(dir.path());
    if (second.ok()) return 1;
    if (second.error().code != ErrorCode::kLocked) return 2;
    if (second.error().message.find(dir.path()) == std::string::npos) return 3;
    if (second.error().message.find("pid " + pid) == std::string::npos) return 4;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST(DataDirLock, ReleasedLockCanBeTakenByAnotherProcess) {
  TempDir dir;
  { auto lock = DataDirLock::acquire(dir.path()).value(); }
  EXPECT_EQ(in_child([&] { return DataDirLock::acquire(dir.path()).ok() ? 0 : 1; }), 0);
}

TEST(DataDirLock, ASecondAcquireInTheSameProcessIsRefusedAndKeepsTheFirst) {
  TempDir dir;
  auto lock = DataDirLock::acquire(dir.path());
  ASSERT_TRUE(lock.ok());
  auto second = DataDirLock::acquire(dir / ".");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kLocked);
  // The refused attempt must not have released the real lock.
  EXPECT_EQ(in_child([&] { return DataDirLock::acquire(dir.path()).ok() ? 1 : 0; }), 0);
}

TEST(DataDirLock, CreatesAMissingDirectory) {
  TempDir dir;
  auto lock = DataDirLock::acquire(dir / "a/b");
  ASSERT_TRUE(lock.ok()) << lock.error().message;
  EXPECT_TRUE(posix_filesystem().exists(dir / "a/b/LOCK"));
}

}  // namespace
}  // namespace conclave::storage
