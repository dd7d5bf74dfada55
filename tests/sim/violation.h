// A broken safety or liveness property, or a broken I/O contract. Checkers
// throw it; the run stops at the first one and reports it with its seed.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace conclave::sim {

class Violation : public std::runtime_error {
 public:
  Violation(std::string property, const std::string& detail)
      : std::runtime_error(property + ": " + detail), property_(std::move(property)) {}
  const std::string& property() const { return property_; }

 private:
  std::string property_;
};

// Builds the detail text with stream syntax: fail("log matching") << "node " << id;
// throws when the temporary is destroyed at the end of the full expression.
class ViolationBuilder {
 public:
  explicit ViolationBuilder(std::string property) : property_(std::move(property)) {}
  ViolationBuilder(const ViolationBuilder&) = delete;
  ViolationBuilder& operator=(const ViolationBuilder&) = delete;
  ~ViolationBuilder() noexcept(false) {
    if (std::uncaught_exceptions() == 0) throw Violation(property_, out_.str());
  }
  template <typename T>
  ViolationBuilder& operator<<(const T& v) {
    out_ << v;
    return *this;
  }

 private:
  std::string property_;
  std::ostringstream out_;
};

inline ViolationBuilder fail(std::string property) { return ViolationBuilder(std::move(property)); }

}  // namespace conclave::sim
