// `conclavectl recover`: the way back after a majority of the voters is lost
// for good. Run on one stopped survivor, it forces a configuration in which
// that node is the only voter, so it can elect itself and commit again; the
// operator then adds fresh nodes with `members add` / `promote`.
//
// How: it appends one configuration entry (the founding kind, naming this
// node alone, with its address) after the node's last entry, in a term above
// any the node has seen, and moves the hard state to that term with no vote.
// On start the node is the sole voter of its configuration, campaigns, wins
// alone, and its first commit commits the forced entry and everything before
// it. Nothing else is rewritten: the log, the snapshots and the commit index
// stay as they were.
//
// The risks, which the command prints before it acts:
//  - Entries the lost nodes committed that never reached this survivor are
//    gone, although clients were told they committed.
//  - Entries this survivor holds that were never committed (appended, not
//    yet acknowledged by a majority) become committed: clients that saw
//    their proposals fail or time out may find them applied.
//  - The lost nodes must never rejoin with their old data: wipe their data
//    directories before they start again, and add them as new members.
#pragma once

#include <cstdint>
#include <string>

namespace conclave::ctl {

struct RecoverOptions {
  std::string data_dir;
  std::uint64_t node_id = 0;  // this node's id, as in its configuration
  bool confirmed = false;     // without it, only say what would be done
  bool json = false;
};

// Returns the exit code: 0 done (or, unconfirmed, the plan printed),
// 1 refused or failed.
int run_recover(const RecoverOptions& options);

}  // namespace conclave::ctl
