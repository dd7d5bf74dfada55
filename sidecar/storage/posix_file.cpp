// PosixFilesystem: the production implementation of the file seam.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "sidecar/storage/file.h"

namespace conclave::storage {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Status write_at(std::uint64_t offset, std::string_view bytes) override {
    while (!bytes.empty()) {
      ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_error(errno, "pwrite", path_);
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
      offset += static_cast<std::uint64_t>(n);
    }
    return {};
  }

  Status read_at(std::uint64_t offset, std::size_t size, std::string& out) override {
    out.resize(size);
    std::size_t done = 0;
    while (done < size) {
      ssize_t n = ::pread(fd_, out.data() + done, size - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_error(errno, "pread", path_);
      }
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    out.resize(done);
    return {};
  }

  Status sync() override {
    // No retry on failure: after a failed fdatasync the kernel may have
    // dropped the dirty pages, and a second fdatasync can "succeed" without
    // writing them (the 2018 PostgreSQL fsync lesson).
    if (::fdatasync(fd_) != 0) return errno_error(errno, "fdatasync", path_);
    return {};
  }

  Status write_out(std::uint64_t offset, std::uint64_t length) override {
    const unsigned flags = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
    if (::sync_file_range(fd_, static_cast<off_t>(offset), static_cast<off_t>(length), flags) != 0) {
      return errno_error(errno, "sync_file_range", path_);
    }
    return {};
  }

  Status truncate(std::uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return errno_error(errno, "ftruncate", path_);
    return {};
  }

  Result<std::uint64_t> size() override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return errno_error(errno, "fstat", path_);
    return static_cast<std::uint64_t>(st.st_size);
  }

  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

Error errno_error(int err, std::string_view call, const std::string& path) {
  std::string message = std::string(call) + "(" + path + ") failed: " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) {
    return {ErrorCode::kNoSpace, message + "; free space on this filesystem, then restart the sidecar"};
  }
  return {ErrorCode::kIo,
          message + "; check the disk (dmesg, SMART) and the path's permissions, then restart the sidecar"};
}

Result<std::unique_ptr<File>> PosixFilesystem::open(const std::string& path, OpenMode mode) {
  int flags = O_CLOEXEC;
  switch (mode) {
    case OpenMode::kRead: flags |= O_RDONLY; break;
    case OpenMode::kReadWrite: flags |= O_RDWR; break;
    case OpenMode::kCreateExclusive: flags |= O_RDWR | O_CREAT | O_EXCL; break;
  }
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) {
    Error error = errno_error(errno, "open", path);
    if (errno == ENOENT) error.code = ErrorCode::kNotFound;
    return error;
  }
  return std::unique_ptr<File>(std::make_unique<PosixFile>(fd, path));
}

Status PosixFilesystem::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return errno_error(errno, "rename", from + " -> " + to);
  return {};
}

Status PosixFilesystem::remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return errno_error(errno, "unlink", path);
  return {};
}

Status PosixFilesystem::sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error(errno, "open", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return errno_error(err, "fsync", dir);
  return {};
}

Status PosixFilesystem::create_dirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return errno_error(ec.value(), "mkdir", dir);
  return {};
}

Result<std::vector<std::string>> PosixFilesystem::list(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return errno_error(errno, "opendir", dir);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode)) names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool PosixFilesystem::exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

Filesystem& posix_filesystem() {
  static PosixFilesystem fs;
  return fs;
}

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kIo: return "io";
    case ErrorCode::kNoSpace: return "no space";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kLocked: return "locked";
    case ErrorCode::kStopped: return "stopped";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
  }
  return "unknown";
}

}  // namespace conclave::storage
