// One sidecar per data directory. Two processes writing the same log would
// interleave records and destroy it, so the second one must stop before it
// touches anything: a Boost.Interprocess file_lock on <dir>/LOCK, held for
// the life of the process, with the holder's pid written in the file so the
// refusal can say who holds it.
#pragma once

#include <memory>
#include <string>

#include "sidecar/storage/result.h"

namespace conclave::storage {

class DataDirLock {
 public:
  // Creates `dir` if missing and locks it, or returns ErrorCode::kLocked
  // naming the directory and the holder's pid. Also refuses a second lock of
  // the same directory within this process (POSIX record locks would not).
  static Result<std::unique_ptr<DataDirLock>> acquire(const std::string& dir);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  const std::string& dir() const { return dir_; }

 private:
  struct Held;
  DataDirLock(std::string dir, std::unique_ptr<Held> held);
  std::string dir_;
  std::unique_ptr<Held> held_;
};

}  // namespace conclave::storage
