// DataDirLock: a Boost.Interprocess file_lock (an fcntl record lock) on
// <dir>/LOCK. fcntl locks belong to the process and vanish when *any*
// descriptor of the file is closed by it, which shapes this code: the pid is
// written through a descriptor kept open as long as the lock, and a second
// acquire in the same process is refused from an in-process registry before
// it opens (and would later close) the file.
#include "sidecar/storage/data_dir_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/interprocess/sync/file_lock.hpp>
#include <cerrno>
#include <filesystem>
#include <mutex>
#include <map>

#include "sidecar/storage/file.h"

namespace conclave::storage {
namespace {

std::mutex registry_mu;
// Directory -> the pid that locked it. A forked child inherits this map but
// not the fcntl locks, so an entry counts only in the process that made it.
std::map<std::string, pid_t>& registry() {
  static std::map<std::string, pid_t> dirs;
  return dirs;
}

std::string holder_of(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "unknown pid" : "pid " + pid;
}

}  // namespace

struct DataDirLock::Held {
  int fd = -1;
  boost::interprocess::file_lock lock;
  ~Held() {
    // Release the lock before closing the descriptor that holds the pid.
    boost::interprocess::file_lock released(std::move(lock));
    (void)released;
    if (fd >= 0) ::close(fd);
  }
};

DataDirLock::DataDirLock(std::string dir, std::unique_ptr<Held> held) : dir_(std::move(dir)), held_(std::move(held)) {}

DataDirLock::~DataDirLock() {
  held_.reset();
  std::lock_guard guard(registry_mu);
  if (auto it = registry().find(dir_); it != registry().end() && it->second == ::getpid()) registry().erase(it);
}

Result<std::unique_ptr<DataDirLock>> DataDirLock::acquire(const std::string& dir_arg) {
  if (Status s = posix_filesystem().create_dirs(dir_arg); !s) return s.error();
  std::error_code ec;
  std::string dir = std::filesystem::canonical(dir_arg, ec).string();
  if (ec) dir = dir_arg;
  std::string path = dir + "/LOCK";
  std::lock_guard guard(registry_mu);
  if (auto it = registry().find(dir); it != registry().end() && it->second == ::getpid()) {
    return Error{ErrorCode::kLocked, "data directory " + dir + " is already in use by this process (pid " +
                                         std::to_string(::getpid()) + "); give each node its own --data-dir"};
  }
  auto held = std::make_unique<Held>();
  held->fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (held->fd < 0) return errno_error(errno, "open", path);
  try {
    boost::interprocess::file_lock lock(path.c_str());
    if (!lock.try_lock()) {
      std::string holder = holder_of(held->fd);
      return Error{ErrorCode::kLocked, "data directory " + dir + " is in use by another conclaved (" + holder +
                                           "); stop that process or give this one a different --data-dir"};
    }
    held->lock = std::move(lock);
  } catch (const boost::interprocess::interprocess_exception& e) {
    return Error{ErrorCode::kIo, "cannot lock " + path + ": " + e.what() +
                                     "; check that the data directory is writable and on a local filesystem"};
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(held->fd, 0) != 0 || ::pwrite(held->fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return errno_error(errno, "write", path);
  }
  registry()[dir] = ::getpid();
  return std::unique_ptr<DataDirLock>(new DataDirLock(dir, std::move(held)));
}

}  // namespace conclave::storage
