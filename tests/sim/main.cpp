// conclave-sim: runs one seed, a sweep of seeds, or the narrated demo.
//
//   conclave-sim --seed S [--verbose]          one run; replays a failure exactly
//   conclave-sim --seeds N [--first-seed F]    a sweep (mixed sizes and fault mixes)
//   conclave-sim --seeds N --expect-violation  exits 0 iff some seed finds a violation
//   conclave-sim --demo                        the narrated 5-node demo
//   conclave-sim --seeds 100000 --jobs 2       a soak, on two threads
//
// --mix churn picks a fault mix that keeps leadership changing (see plan.h);
// --nodes K and --ticks T override the plan derived from each seed; they are
// repeated in the replay command a failure prints.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/sim/demo.h"
#include "tests/sim/plan.h"
#include "tests/sim/simulation.h"

namespace {

using conclave::sim::RunPlan;
using conclave::sim::RunResult;
using conclave::sim::Simulation;

struct Args {
  std::optional<std::uint64_t> seed;
  std::uint64_t seeds = 0;
  std::uint64_t first_seed = 1;
  std::optional<int> nodes;
  std::optional<std::uint64_t> ticks;
  std::string mix = "any";
  bool verbose = false;
  bool demo = false;
  bool expect_violation = false;
  bool keep_going = false;
  bool quiet = false;
  unsigned jobs = 1;
};

void usage(std::ostream& os) {
  os << "usage: conclave-sim --seed S | --seeds N [--first-seed F] | --demo\n"
        "       [--mix any|churn] [--nodes 3|5|7] [--ticks T] [--verbose] [--expect-violation] [--keep-going]"
        " [--quiet] [--jobs J]\n";
}

std::optional<std::uint64_t> number(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

bool parse(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::optional<std::uint64_t> {
      if (i + 1 >= argc) return std::nullopt;
      return number(argv[++i]);
    };
    std::optional<std::uint64_t> v;
    if (arg == "--seed") {
      if (!(v = value())) return false;
      a.seed = *v;
    } else if (arg == "--seeds") {
      if (!(v = value()) || *v == 0) return false;
      a.seeds = *v;
    } else if (arg == "--first-seed") {
      if (!(v = value())) return false;
      a.first_seed = *v;
    } else if (arg == "--nodes") {
      if (!(v = value()) || *v < 1 || *v > 9) return false;
      a.nodes = static_cast<int>(*v);
    } else if (arg == "--ticks") {
      if (!(v = value()) || *v == 0 || *v > 1'000'000) return false;
      a.ticks = *v;
    } else if (arg == "--mix") {
      if (i + 1 >= argc || !conclave::sim::valid_mix(argv[i + 1])) return false;
      a.mix = argv[++i];
    } else if (arg == "--jobs") {
      if (!(v = value()) || *v == 0 || *v > 256) return false;
      a.jobs = static_cast<unsigned>(*v);
    } else if (arg == "--verbose") {
      a.verbose = true;
    } else if (arg == "--demo") {
      a.demo = true;
    } else if (arg == "--expect-violation") {
      a.expect_violation = true;
    } else if (arg == "--keep-going") {
      a.keep_going = true;
    } else if (arg == "--quiet") {
      a.quiet = true;
    } else {
      return false;
    }
  }
  return a.demo || a.seed.has_value() || a.seeds > 0;
}

RunPlan plan_for(const Args& a, std::uint64_t seed) {
  RunPlan plan = conclave::sim::plan_for_seed(seed, a.mix);
  if (a.nodes) plan.nodes = *a.nodes;
  if (a.ticks) plan.fault_ticks = *a.ticks;
  return plan;
}

std::string replay_command(const char* program, const Args& a, std::uint64_t seed) {
  std::ostringstream out;
  out << program << " --seed " << seed;
  if (a.mix != "any") out << " --mix " << a.mix;
  if (a.nodes) out << " --nodes " << *a.nodes;
  if (a.ticks) out << " --ticks " << *a.ticks;
  return out.str();
}

void report_violation(const char* program, const Args& a, std::uint64_t seed,
                      const RunPlan& plan, const RunResult& r) {
  std::cout << "VIOLATION seed " << seed << " at time " << r.violation_time << " (step "
            << r.stats.steps << "): " << *r.violation << "\n"
            << "  plan: " << plan.describe() << "\n"
            << "  replay: " << replay_command(program, a, seed) << "\n"
            << "  trace:  " << replay_command(program, a, seed) << " --verbose\n";
}

int run_one(const char* program, const Args& a) {
  const RunPlan plan = plan_for(a, *a.seed);
  std::cout << "seed " << *a.seed << ": " << plan.describe() << "\n";
  Simulation sim(plan, a.verbose);
  const RunResult r = sim.run();
  if (r.violation) {
    report_violation(program, a, *a.seed, plan, r);
    return a.expect_violation ? 0 : 1;
  }
  const auto& s = r.stats;
  std::cout << "ok: " << s.steps << " steps, " << s.committed << " entries committed, "
            << s.writes_acked << " writes acknowledged, " << s.reads_checked << " reads checked, "
            << s.leaders << " leaders, " << s.crashes << " crashes, " << s.partitions
            << " partitions, " << s.pauses << " pauses, " << s.config_changes << " membership changes, "
            << s.snapshots_sent << " snapshots sent, " << s.snapshots_installed << " installed\n";
  return a.expect_violation ? 1 : 0;
}

// Runs seeds on `jobs` threads (each run is independent and single-threaded;
// nothing is shared but the next-seed counter and the report). Violations
// print as they are found; the totals print at the end.
int run_sweep(const char* program, const Args& a) {
  const auto started = std::chrono::steady_clock::now();
  std::mutex mu;
  std::atomic<std::uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::uint64_t steps = 0;
  std::uint64_t failures = 0;
  std::uint64_t run = 0;
  std::optional<std::uint64_t> first_failure;
  conclave::sim::RunStats total;

  auto worker = [&]() {
    while (!stop.load()) {
      const std::uint64_t i = next.fetch_add(1);
      if (i >= a.seeds) return;
      const std::uint64_t seed = a.first_seed + i;
      const RunPlan plan = plan_for(a, seed);
      Simulation sim(plan, a.verbose);
      const RunResult r = sim.run();
      std::lock_guard<std::mutex> lock(mu);
      ++run;
      steps += r.stats.steps;
      total.writes_acked += r.stats.writes_acked;
      total.reads_checked += r.stats.reads_checked;
      total.crashes += r.stats.crashes;
      total.config_changes += r.stats.config_changes;
      total.snapshots_sent += r.stats.snapshots_sent;
      total.snapshots_installed += r.stats.snapshots_installed;
      if (r.violation) {
        ++failures;
        if (!first_failure || seed < *first_failure) first_failure = seed;
        report_violation(program, a, seed, plan, r);
        if (a.expect_violation || !a.keep_going) stop.store(true);
      }
      if (!a.quiet && run % 1000 == 0) {
        std::cout << "  ... " << run << " seeds, " << steps << " steps" << std::endl;
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < a.jobs; ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "seeds from " << a.first_seed << ": " << run << " run, " << failures << " failed; "
            << steps << " steps in " << secs << " s on " << a.jobs << " thread(s) ("
            << static_cast<std::uint64_t>(static_cast<double>(steps) / secs) << " steps/s, "
            << static_cast<double>(run) / secs << " seeds/s); " << total.writes_acked
            << " writes acknowledged, " << total.reads_checked << " reads checked, "
            << total.crashes << " crashes, " << total.config_changes << " membership changes, "
            << total.snapshots_sent << " snapshots sent, " << total.snapshots_installed
            << " installed\n";
  if (a.expect_violation) {
    if (first_failure) {
      std::cout << "found the expected violation (seed " << *first_failure << ")\n";
      return 0;
    }
    std::cout << "expected a violation and found none\n";
    return 1;
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse(argc, argv, a)) {
    usage(std::cerr);
    return 2;
  }
  if (a.demo) return conclave::sim::run_demo(a.seed.value_or(7));
  if (a.seed) return run_one(argv[0], a);
  return run_sweep(argv[0], a);
}
