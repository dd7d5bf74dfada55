// Running a helper command (conclavectl) from a cluster test and capturing
// its standard output.
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "tests/cluster/cluster.h"

namespace conclave::cluster_test {

namespace {

// Single-quoted for /bin/sh: our arguments are paths and flags, but a quote
// inside one must not break the command.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, bool with_stderr) {
  std::string command;
  for (const auto& a : argv) command += (command.empty() ? "" : " ") + shell_quote(a);
  if (with_stderr) command += " 2>&1";
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

CommandResult run_conclavectl(const Cluster& cluster, std::uint64_t id, const std::vector<std::string>& args,
                              bool stdout_only) {
  std::vector<std::string> argv = {conclavectl_path(), "--socket", cluster.admin_socket(id)};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, !stdout_only);
}

}  // namespace conclave::cluster_test
