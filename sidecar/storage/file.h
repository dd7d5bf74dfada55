// The seam between storage and the operating system: every file call the
// log, hard-state and snapshot stores make goes through these interfaces.
// Production uses PosixFilesystem; fault tests wrap it to inject EIO and
// ENOSPC at chosen calls, which is how we show that nothing is acknowledged
// after a failed write or fsync. Kept deliberately small (positional I/O,
// fdatasync, write-out, truncate, directory fsync) so a wrapper stays trivial.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/storage/result.h"

namespace conclave::storage {

class File {
 public:
  virtual ~File() = default;
  // Writes all of `bytes` at `offset` (short writes are retried inside).
  virtual Status write_at(std::uint64_t offset, std::string_view bytes) = 0;
  // Reads up to `size` bytes at `offset` into `out` (resized to what was
  // read; fewer bytes only at end of file).
  virtual Status read_at(std::uint64_t offset, std::size_t size, std::string& out) = 0;
  // fdatasync: data and the metadata needed to read it (the size) are durable.
  virtual Status sync() = 0;
  // Writes the range's dirty pages to the device and waits for them
  // (sync_file_range): no durability promise, neither for metadata nor
  // through the device's cache. It paces a large write, so that megabytes
  // of it do not sit in the device's queue ahead of a log's fdatasync.
  virtual Status write_out(std::uint64_t offset, std::uint64_t length) = 0;
  virtual Status truncate(std::uint64_t size) = 0;
  virtual Result<std::uint64_t> size() = 0;
  virtual const std::string& path() const = 0;
};

enum class OpenMode {
  kRead,            // existing file, read only
  kReadWrite,       // existing file
  kCreateExclusive  // new file, read-write; fails if it exists
};

class Filesystem {
 public:
  virtual ~Filesystem() = default;
  virtual Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) = 0;
  // rename(2): atomic replacement of `to`.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status remove(const std::string& path) = 0;
  // Makes renames, creations and removals inside `dir` durable.
  virtual Status sync_dir(const std::string& dir) = 0;
  // Creates `dir` (and parents) if missing.
  virtual Status create_dirs(const std::string& dir) = 0;
  // Names (not paths) of the regular files in `dir`, sorted.
  virtual Result<std::vector<std::string>> list(const std::string& dir) = 0;
  virtual bool exists(const std::string& path) = 0;
};

// The real thing: open(2), pwrite(2), fdatasync(2), ...
class PosixFilesystem final : public Filesystem {
 public:
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status sync_dir(const std::string& dir) override;
  Status create_dirs(const std::string& dir) override;
  Result<std::vector<std::string>> list(const std::string& dir) override;
  bool exists(const std::string& path) override;
};

// The process-wide PosixFilesystem.
Filesystem& posix_filesystem();

// An Error for a failed system call: ENOSPC/EDQUOT become kNoSpace, the rest
// kIo; the message names the call, the path and strerror, and what to do.
Error errno_error(int err, std::string_view call, const std::string& path);

}  // namespace conclave::storage
