// A whole text file as a string (empty if it cannot be read): logs and
// configuration files the tests inspect.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace conclave::test_support {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace conclave::test_support
