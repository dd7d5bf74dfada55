// SnapshotStore, SnapshotWriter, SnapshotReader; the format is in the header.
#include "sidecar/storage/snapshot_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "sidecar/storage/crc32c.h"

namespace conclave::storage {
namespace {

constexpr char kMagic[8] = {'C', 'N', 'C', 'L', 'S', 'N', 'P', '\n'};
constexpr char kEndMagic[8] = {'C', 'N', 'C', 'L', 'E', 'N', 'D', '\n'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kTrailerBytes = 24;
constexpr std::uint32_t kConfigBytesMax = 1u << 20;
constexpr const char* kRetiredSuffix = ".retired";

void put(std::string& out, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

std::string snapshot_name(const raft::SnapshotMeta& meta) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "snapshot-%020" PRIu64 "-%020" PRIu64, meta.index.value(), meta.term.value());
  return buf;
}

std::string encode_header(const raft::SnapshotMeta& meta) {
  std::string config = raft::encode_configuration(meta.config);
  std::string out(kMagic, 8);
  put(out, kVersion, 4);
  put(out, config.size(), 4);
  put(out, meta.index.value(), 8);
  put(out, meta.term.value(), 8);
  out += config;
  put(out, crc32c(out), 4);
  return out;
}

Error damaged(const std::string& path, const std::string& what) {
  return Error{ErrorCode::kCorrupt,
               "snapshot " + path + " is damaged: " + what +
                   ". If a newer snapshot exists, or the other members of the cluster are healthy, move this "
                   "file aside and restart; the node will fetch a snapshot from the leader"};
}

struct Parsed {
  SnapshotInfo info;
  std::uint64_t data_offset = 0;
  std::uint32_t data_crc = 0;
};

// Checks header, trailer and size; not the data (see verify_data).
Result<Parsed> parse(File& file) {
  const std::string& path = file.path();
  auto size = file.size();
  if (!size) return size.error();
  std::string head;
  if (Status s = file.read_at(0, 32, head); !s) return s.error();
  if (head.size() < 32 || std::memcmp(head.data(), kMagic, 8) != 0 || get(head.data() + 8, 4) != kVersion) {
    return damaged(path, "the header is missing or not a snapshot header");
  }
  auto config_bytes = static_cast<std::uint32_t>(get(head.data() + 12, 4));
  if (config_bytes > kConfigBytesMax || 32u + config_bytes + 4 + kTrailerBytes > *size) {
    return damaged(path, "the header's configuration length is impossible");
  }
  std::string header;
  if (Status s = file.read_at(0, 32 + config_bytes + 4, header); !s) return s.error();
  if (crc32c(header.data(), 32 + config_bytes) != get(header.data() + 32 + config_bytes, 4)) {
    return damaged(path, "the header fails its checksum");
  }
  auto config = raft::decode_configuration(std::string_view(header).substr(32, config_bytes));
  if (!config) return damaged(path, "the configuration does not decode");
  std::string trailer;
  if (Status s = file.read_at(*size - kTrailerBytes, kTrailerBytes, trailer); !s) return s.error();
  if (trailer.size() != kTrailerBytes || std::memcmp(trailer.data() + 16, kEndMagic, 8) != 0 ||
      crc32c(trailer.data(), 12) != get(trailer.data() + 12, 4)) {
    return damaged(path, "the trailer is missing or fails its checksum (an incomplete file?)");
  }
  Parsed parsed;
  parsed.data_offset = header.size();
  parsed.info.data_bytes = get(trailer.data(), 8);
  parsed.data_crc = static_cast<std::uint32_t>(get(trailer.data() + 8, 4));
  if (parsed.data_offset + parsed.info.data_bytes + kTrailerBytes != *size) {
    return damaged(path, "its size does not match the length its trailer records");
  }
  parsed.info.meta = {raft::Index(get(header.data() + 16, 8)), raft::Term(get(header.data() + 24, 8)),
                      std::move(*config)};
  parsed.info.path = path;
  return parsed;
}

}  // namespace

SnapshotWriter::SnapshotWriter(Filesystem& fs, std::string dir, std::string path, std::unique_ptr<File> file,
                               raft::SnapshotMeta meta, std::uint64_t offset, bool fsync)
    : fs_(&fs), dir_(std::move(dir)), path_(std::move(path)), file_(std::move(file)), meta_(std::move(meta)),
      offset_(offset), fsync_(fsync) {}

SnapshotWriter::SnapshotWriter(SnapshotWriter&& other) noexcept
    : fs_(other.fs_), dir_(std::move(other.dir_)), path_(std::move(other.path_)), file_(std::move(other.file_)),
      meta_(std::move(other.meta_)), offset_(other.offset_), data_bytes_(other.data_bytes_), crc_(other.crc_),
      fsync_(other.fsync_), done_(other.done_) {
  other.done_ = true;
}

SnapshotWriter::~SnapshotWriter() {
  if (done_) return;
  file_.reset();
  if (Status s = fs_->remove(path_ + ".tmp"); !s) {
    spdlog::warn("storage: could not remove an abandoned snapshot: {}", s.error().message);
  }
}

Status SnapshotWriter::write(std::string_view chunk) {
  if (done_) throw std::logic_error("storage: write to a finished snapshot");
  if (Status s = file_->write_at(offset_, chunk); !s) return s;
  offset_ += chunk.size();
  data_bytes_ += chunk.size();
  crc_ = crc32c_extend(crc_, chunk.data(), chunk.size());
  return {};
}

Result<SnapshotInfo> SnapshotWriter::commit() {
  if (done_) throw std::logic_error("storage: commit of a finished snapshot");
  std::string trailer;
  put(trailer, data_bytes_, 8);
  put(trailer, crc_, 4);
  put(trailer, crc32c(trailer), 4);
  trailer.append(kEndMagic, 8);
  if (Status s = file_->write_at(offset_, trailer); !s) return s.error();
  if (fsync_) {
    if (Status s = file_->sync(); !s) return s.error();
  }
  if (Status s = fs_->rename(path_ + ".tmp", path_); !s) return s.error();
  if (fsync_) {
    if (Status s = fs_->sync_dir(dir_); !s) return s.error();
  }
  done_ = true;
  spdlog::info("storage: stored snapshot {} ({} bytes, index {}, term {})", path_, data_bytes_,
               meta_.index.value(), meta_.term.value());
  return SnapshotInfo{meta_, data_bytes_, path_};
}

SnapshotReader::SnapshotReader(std::unique_ptr<File> file, SnapshotInfo info, std::uint64_t data_offset,
                               std::uint32_t data_crc)
    : file_(std::move(file)), info_(std::move(info)), data_offset_(data_offset), expected_crc_(data_crc) {}

Result<std::string> SnapshotReader::next(std::size_t max_bytes) {
  std::string chunk;
  if (done()) return chunk;
  std::uint64_t n = std::min<std::uint64_t>(max_bytes, info_.data_bytes - position_);
  if (Status s = file_->read_at(data_offset_ + position_, n, chunk); !s) return s.error();
  if (chunk.size() != n) return damaged(info_.path, "it is shorter than when it was verified");
  position_ += n;
  crc_ = crc32c_extend(crc_, chunk.data(), chunk.size());
  if (done() && crc_ != expected_crc_) return damaged(info_.path, "its data fails the checksum");
  return chunk;
}

Result<std::unique_ptr<SnapshotStore>> SnapshotStore::open(Filesystem& fs, const std::string& dir, bool fsync,
                                                           bool read_only) {
  if (!read_only) {
    if (Status s = fs.create_dirs(dir); !s) return s.error();
  }
  std::unique_ptr<SnapshotStore> store(new SnapshotStore(fs, dir, fsync, read_only));
  if (Status s = store->refresh(true); !s) return s.error();
  // Verify every byte once now, so a damaged snapshot stops the node at
  // startup instead of in the middle of a transfer.
  for (const SnapshotInfo& info : store->snapshots_) {
    auto reader = store->read(info);
    if (!reader) return reader.error();
    while (!reader->done()) {
      auto chunk = reader->next(4u << 20);
      if (!chunk) return chunk.error();
    }
  }
  return store;
}

Status SnapshotStore::read_only_error() const {
  return Error{ErrorCode::kStopped, "the snapshot store in " + dir_ + " was opened read-only (for an offline tool)"};
}

Status SnapshotStore::refresh(bool at_open) {
  if (read_only_ && !fs_.exists(dir_)) {
    snapshots_.clear();
    return {};
  }
  auto names = fs_.list(dir_);
  if (!names) return names.error();
  snapshots_.clear();
  for (const std::string& name : *names) {
    std::string path = dir_ + "/" + name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      if (!at_open || read_only_) continue;  // a writer may be busy with it
      spdlog::warn("storage: removing {}, a snapshot that was never finished", path);
      if (Status s = fs_.remove(path); !s) return s;
      continue;
    }
    if (name.ends_with(kRetiredSuffix)) {
      if (!at_open || read_only_) continue;  // being deleted
      spdlog::info("storage: removing {}, a pruned snapshot", path);
      if (Status s = fs_.remove(path); !s) return s;
      continue;
    }
    if (name.rfind("snapshot-", 0) != 0) {
      spdlog::warn("storage: ignoring {}: not a snapshot name", path);
      continue;
    }
    auto file = fs_.open(path, OpenMode::kRead);
    if (!file) return file.error();
    auto parsed = parse(**file);
    if (!parsed) return parsed.error();
    if (snapshot_name(parsed->info.meta) != name) {
      return damaged(path, "its header names index " + std::to_string(parsed->info.meta.index.value()) +
                               " term " + std::to_string(parsed->info.meta.term.value()) +
                               ", which does not match the file name");
    }
    snapshots_.push_back(parsed->info);
  }
  std::sort(snapshots_.begin(), snapshots_.end(),
            [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.meta.index < b.meta.index; });
  return {};
}

Result<SnapshotWriter> SnapshotStore::begin(const raft::SnapshotMeta& meta) {
  if (read_only_) return read_only_error().error();
  std::string path = dir_ + "/" + snapshot_name(meta);
  std::string tmp = path + ".tmp";
  if (fs_.exists(tmp)) {
    if (Status s = fs_.remove(tmp); !s) return s.error();
  }
  auto file = fs_.open(tmp, OpenMode::kCreateExclusive);
  if (!file) return file.error();
  std::string header = encode_header(meta);
  if (Status s = (*file)->write_at(0, header); !s) {
    file->reset();
    (void)fs_.remove(tmp);
    return s.error();
  }
  return SnapshotWriter(fs_, dir_, path, std::move(file).value(), meta, header.size(), fsync_);
}

std::vector<SnapshotInfo> SnapshotStore::list() {
  if (Status s = refresh(false); !s) spdlog::error("storage: listing snapshots: {}", s.error().message);
  return snapshots_;
}

std::optional<SnapshotInfo> SnapshotStore::latest() {
  auto all = list();
  if (all.empty()) return std::nullopt;
  return all.back();
}

Result<SnapshotReader> SnapshotStore::read(const SnapshotInfo& info) {
  auto file = fs_.open(info.path, OpenMode::kRead);
  if (!file) return file.error();
  auto parsed = parse(**file);
  if (!parsed) return parsed.error();
  return SnapshotReader(std::move(file).value(), parsed->info, parsed->data_offset, parsed->data_crc);
}

Status SnapshotStore::prune(std::size_t keep) {
  auto retired = retire(keep);
  if (!retired) return retired.error();
  return delete_retired(*retired);
}

Result<std::vector<std::string>> SnapshotStore::retire(std::size_t keep) {
  if (read_only_) return read_only_error().error();
  auto all = list();
  std::vector<std::string> retired;
  for (std::size_t i = 0; i + keep < all.size(); ++i) {
    std::string to = all[i].path + kRetiredSuffix;
    if (Status s = fs_.rename(all[i].path, to); !s) return s.error();
    retired.push_back(std::move(to));
  }
  return retired;
}

Status SnapshotStore::delete_retired(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    // Unlinked whole, not cut down first as compacted log segments are
    // (gradual_release.h): a reader streaming it to a peer or an
    // application may still hold it open, and reads on after the unlink.
    if (Status s = fs_.remove(path); !s) return s;
    spdlog::info("storage: removed old snapshot {}", path);
  }
  return fsync_ && !paths.empty() ? fs_.sync_dir(dir_) : Status{};
}

}  // namespace conclave::storage
