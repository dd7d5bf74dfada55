// Reading a stopped node's data directory, and the on-disk checks.
#include "tests/cluster/disk_log.h"

#include <gtest/gtest.h>

#include "sidecar/node/app_entry.h"
#include "sidecar/storage/data_dir.h"

namespace conclave::cluster_test {

const raft::Entry* DiskLog::at(std::uint64_t index) const {
  if (entries.empty()) return nullptr;
  const std::uint64_t first = entries.front().index.value();
  if (index < first || index - first >= entries.size()) return nullptr;
  return &entries[index - first];
}

DiskLog read_disk_log(const std::string& data_dir) {
  DiskLog out;
  out.data_dir = data_dir;
  // DataDir::open takes the directory's lock: a node still running there
  // makes this fail rather than read a log that is changing.
  auto opened = storage::DataDir::open(data_dir);
  if (!opened) {
    ADD_FAILURE() << "cannot open " << data_dir << ": " << opened.error().message;
    return out;
  }
  storage::DataDir& d = *opened.value();
  out.hard_state = d.hard_state().current();
  if (auto latest = d.snapshots().latest()) out.snapshot_index = latest->meta.index.value();
  const raft::Index first = d.log().first_index();
  const raft::Index last = d.log().last_index();
  if (first <= last) {
    auto entries = d.log().read(first, last);
    if (!entries) {
      ADD_FAILURE() << "reading " << data_dir << " entries " << first << ".." << last
                    << " failed: " << entries.error().message;
      return out;
    }
    out.entries = std::move(entries).value();
  }
  return out;
}

void expect_all_acked_present(const DiskLog& log, const std::vector<Acked>& acked) {
  for (const auto& a : acked) {
    if (a.index <= log.snapshot_index) continue;  // covered by a snapshot: its data is the app's
    const raft::Entry* e = log.at(a.index);
    if (e == nullptr) {
      ADD_FAILURE() << log.data_dir << ": acknowledged entry " << a.index << " (\"" << a.data
                    << "\") is missing; the log holds "
                    << (log.entries.empty() ? std::string("nothing")
                                            : std::to_string(log.entries.front().index.value()) + ".." +
                                                  std::to_string(log.entries.back().index.value()));
      continue;
    }
    EXPECT_EQ(e->type, raft::EntryType::kNormal) << log.data_dir << ": entry " << a.index;
    // The node stores every proposal in its client-session envelope.
    auto proposed = node::decode_app_entry(e->data);
    ASSERT_TRUE(proposed.has_value()) << log.data_dir << ": entry " << a.index << " is not an application entry";
    EXPECT_EQ(proposed->data, a.data) << log.data_dir << ": acknowledged entry " << a.index
                                      << " holds other data than was proposed";
  }
}

int count_entries_with_data(const DiskLog& log, const std::string& data) {
  int n = 0;
  for (const auto& e : log.entries) n += e.data == data ? 1 : 0;
  return n;
}

void expect_logs_agree(const DiskLog& a, const DiskLog& b, std::uint64_t through) {
  for (std::uint64_t i = 1; i <= through; ++i) {
    const raft::Entry* ea = a.at(i);
    const raft::Entry* eb = b.at(i);
    if (ea == nullptr && i > a.snapshot_index) {
      ADD_FAILURE() << a.data_dir << " lacks committed entry " << i;
      return;
    }
    if (eb == nullptr && i > b.snapshot_index) {
      ADD_FAILURE() << b.data_dir << " lacks committed entry " << i;
      return;
    }
    if (ea == nullptr || eb == nullptr) continue;
    if (!(*ea == *eb)) {
      ADD_FAILURE() << "entry " << i << " differs: " << a.data_dir << " has term " << ea->term << " type "
                    << int(ea->type) << " data \"" << ea->data << "\"; " << b.data_dir << " has term " << eb->term
                    << " type " << int(eb->type) << " data \"" << eb->data << "\"";
      return;
    }
  }
}

}  // namespace conclave::cluster_test
