// SegmentedLog::open: find the segments, verify every record, cut a torn
// tail, and refuse anything else. The rules are in segmented_log.h.
#include <spdlog/spdlog.h>

#include <cinttypes>
#include <cstdio>
#include <map>

#include "sidecar/storage/segment_format.h"
#include "sidecar/storage/segmented_log.h"

namespace conclave::storage {

using raft::Index;

namespace {

constexpr const char* kRemedy =
    " The sidecar refuses to start rather than drop entries that may be committed. If the other members "
    "of the cluster are healthy, stop this node, move its data directory aside (keep it for diagnosis) and "
    "restart it empty so it rejoins from a snapshot; otherwise restore the file from a backup.";

Error corrupt(const std::string& what) { return Error{ErrorCode::kCorrupt, what + "." + kRemedy}; }

std::optional<std::uint64_t> parse_index(const std::string& s) {
  if (s.size() != 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

Result<std::unique_ptr<SegmentedLog>> SegmentedLog::open(Filesystem& fs, const std::string& dir,
                                                         const LogOptions& options) {
  std::unique_ptr<SegmentedLog> log(new SegmentedLog(fs, dir, options));
  if (!options.fsync) {
    spdlog::warn("storage: fsync is OFF for the log in {}: nothing it stores survives a machine crash; "
                 "this setting is for tests only", dir);
  }
  if (Status s = log->recover(); !s) return s.error();
  return log;
}

Result<SegmentedLog::Segment> SegmentedLog::recover_segment(const std::string& name, Index name_first,
                                                            std::optional<Index> name_last, std::string& bytes) {
  std::string path = dir_ + "/" + name;
  auto opened = fs_.open(path, options_.read_only ? OpenMode::kRead : OpenMode::kReadWrite);
  if (!opened) return opened.error();
  Segment segment;
  segment.file = std::move(opened).value();
  segment.first = name_first;
  segment.open = !name_last.has_value();
  auto size = segment.file->size();
  if (!size) return size.error();
  if (Status s = segment.file->read_at(0, *size, bytes); !s) return s.error();
  SegmentScan scan = scan_segment(bytes);
  recovery_.bytes += bytes.size();

  if (scan.end == ScanEnd::kClean && scan.first_index != name_first) {
    return corrupt("log segment " + path + " says it starts at entry " +
                   std::to_string(scan.first_index.value()) + " but is named for entry " +
                   std::to_string(name_first.value()));
  }
  if (!segment.open) {
    if (scan.end != ScanEnd::kClean) {
      return corrupt("sealed log segment " + path + " is damaged: " + scan.problem);
    }
    std::uint64_t want = name_last->value() - name_first.value() + 1;
    if (scan.offsets.size() != want) {
      return corrupt("sealed log segment " + path + " holds " + std::to_string(scan.offsets.size()) +
                     " entries where its name promises " + std::to_string(want) + " (entries " +
                     std::to_string(name_first.value()) + ".." + std::to_string(name_last->value()) + ")");
    }
  } else if (scan.end == ScanEnd::kCorrupt) {
    return corrupt("log segment " + path + " is damaged before its end: " + scan.problem);
  } else if (scan.end == ScanEnd::kTorn && options_.read_only) {
    if (!scan.offsets.empty() && scan.first_index != name_first) {
      return corrupt("log segment " + path + " says it starts at entry " +
                     std::to_string(scan.first_index.value()) + " but is named for entry " +
                     std::to_string(name_first.value()));
    }
    std::string message = "found a torn write at the end of " + path + ": " +
                          std::to_string(bytes.size() - scan.valid_bytes) + " bytes (" + scan.problem +
                          "); left in place (opened read-only), the sidecar cuts it when it next starts";
    spdlog::warn("storage: {}", message);
    recovery_.torn_tail = message;
  } else if (scan.end == ScanEnd::kTorn) {
    std::string what;
    if (scan.offsets.empty() && scan.valid_bytes == 0) {
      // The header itself was cut short: the segment was being created.
      std::string header = encode_segment_header(name_first);
      if (Status s = segment.file->truncate(0); !s) return s.error();
      if (Status s = segment.file->write_at(0, header); !s) return s.error();
      scan.valid_bytes = header.size();
      what = "an incomplete segment header";
    } else {
      if (scan.first_index != name_first) {
        return corrupt("log segment " + path + " says it starts at entry " +
                       std::to_string(scan.first_index.value()) + " but is named for entry " +
                       std::to_string(name_first.value()));
      }
      if (Status s = segment.file->truncate(scan.valid_bytes); !s) return s.error();
      what = std::to_string(bytes.size() - scan.valid_bytes) + " bytes (" + scan.problem + ")";
    }
    if (options_.fsync) {
      if (Status s = segment.file->sync(); !s) return s.error();
    }
    std::string message = "cut a torn write off the end of " + path + ": " + what +
                          "; it was never acknowledged, so nothing committed is lost";
    spdlog::warn("storage: {}", message);
    recovery_.torn_tail = message;
  }
  segment.offsets = std::move(scan.offsets);
  segment.preallocated = segment.open && scan.end == ScanEnd::kClean && scan.zero_tail_bytes > 0;
  segment.end = scan.valid_bytes;
  segment.written = scan.valid_bytes;
  return segment;
}

Status SegmentedLog::recover() {
  if (options_.read_only) {
    // Writes are refused from the start; the message says why.
    failed_ = Error{ErrorCode::kStopped, "opened read-only"};
    stopped_ = true;
    if (!fs_.exists(dir_)) return {};
  } else if (Status s = fs_.create_dirs(dir_); !s) {
    return s;
  }
  auto names = fs_.list(dir_);
  if (!names) return names.error();
  std::map<std::uint64_t, std::pair<std::string, std::optional<Index>>> sealed;
  std::vector<std::pair<std::string, Index>> open;
  for (const std::string& name : *names) {
    if (name.rfind("segment-", 0) == 0 && name.size() == 8 + 20 + 1 + 20 && name[28] == '-') {
      auto first = parse_index(name.substr(8, 20));
      auto last = parse_index(name.substr(29, 20));
      if (first && last && *first <= *last) {
        sealed[*first] = {name, Index(*last)};
        continue;
      }
    } else if (name == kPreparedSegmentName) {
      // Zero-filled ahead of use, perhaps only partly: no records in it.
      if (!options_.read_only) {
        if (Status s = fs_.remove(dir_ + "/" + name); !s) return s;
      }
      continue;
    } else if (name.rfind("open-", 0) == 0) {
      if (auto first = parse_index(name.substr(5))) {
        open.emplace_back(name, Index(*first));
        continue;
      }
    }
    spdlog::warn("storage: ignoring {}/{}: not a log segment name", dir_, name);
  }
  if (open.size() > 1) {
    return corrupt("the log in " + dir_ + " has " + std::to_string(open.size()) + " open segments (" +
                   open[0].first + ", " + open[1].first + ", ...) where at most one may exist");
  }
  // One buffer for every segment: a fresh 64 MiB allocation per segment
  // spent more time in page faults than the checksums took.
  std::string buffer;
  for (const auto& [first, entry] : sealed) {
    auto segment = recover_segment(entry.first, Index(first), entry.second, buffer);
    if (!segment) return segment.error();
    segments_.push_back(std::move(segment).value());
  }
  if (!open.empty()) {
    auto segment = recover_segment(open[0].first, open[0].second, std::nullopt, buffer);
    if (!segment) return segment.error();
    segments_.push_back(std::move(segment).value());
  }
  for (std::size_t i = 1; i < segments_.size(); ++i) {
    Index want = segments_[i - 1].last().next();
    if (segments_[i].first != want) {
      return corrupt("the log in " + dir_ + " has a gap: " + path_of(segments_[i - 1]) + " ends at entry " +
                     std::to_string(segments_[i - 1].last().value()) + " but the next segment " +
                     path_of(segments_[i]) + " starts at entry " + std::to_string(segments_[i].first.value()));
    }
    if (!segments_[i - 1].open && segments_[i - 1].empty()) {
      return corrupt("sealed log segment " + path_of(segments_[i - 1]) + " is empty");
    }
  }
  recovery_.segments = segments_.size();
  if (options_.read_only) {
    publish_durable(last_index_locked());
    return {};
  }
  if (segments_.empty() || !segments_.back().open) {
    Index first = segments_.empty() ? options_.first_index_if_empty : segments_.back().last().next();
    if (Status s = create_open_segment(first); !s) return s;
  } else if (options_.fsync) {
    // What we read may still be only in the page cache (the process died,
    // the machine did not); sync once so durable_index() is the truth.
    if (Status s = segments_.back().file->sync(); !s) return s;
  }
  publish_durable(last_index_locked());
  spdlog::info("storage: opened the log in {}: {} segments, {} bytes, entries {}..{}", dir_, segments_.size(),
               recovery_.bytes, segments_.front().first.value(), durable_.value());
  return {};
}

}  // namespace conclave::storage
