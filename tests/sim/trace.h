// The --verbose event trace. Lines are built only when tracing is on, so a
// sweep pays nothing for them; tracing never draws random numbers, so turning
// it on does not change the run it describes.
#pragma once

#include <cstdint>
#include <iostream>
#include <sstream>

namespace conclave::sim {

class Trace {
 public:
  bool on() const { return enabled_; }
  void enable(bool enabled) { enabled_ = enabled; }
  void set_time(std::uint64_t now) { now_ = now; }

  // Usage: if (trace.on()) trace.line() << "node 3 crashes";
  class Line {
   public:
    Line(std::ostream& os, std::uint64_t now) : os_(os) { out_ << "[t=" << now << "] "; }
    Line(const Line&) = delete;
    Line& operator=(const Line&) = delete;
    ~Line() { os_ << out_.str() << '\n'; }
    template <typename T>
    Line& operator<<(const T& v) {
      out_ << v;
      return *this;
    }

   private:
    std::ostream& os_;
    std::ostringstream out_;
  };
  Line line() const { return Line(std::cout, now_); }

 private:
  bool enabled_ = false;
  std::uint64_t now_ = 0;
};

}  // namespace conclave::sim
