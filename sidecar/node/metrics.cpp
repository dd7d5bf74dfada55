// The registry's text renderer: the Prometheus text exposition format 0.0.4
// (one "# HELP" and one "# TYPE" line per metric, then its samples, each
// "name{label="value",...} value"; histograms as cumulative _bucket lines
// ending at le="+Inf", then _sum and _count).
#include "sidecar/node/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace conclave::node {

namespace {

bool valid_name(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
  });
}

// HELP text escapes backslash and newline; label values also the double quote.
std::string escape(const std::string& text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view type_name(MetricsRegistry::Type type) {
  switch (type) {
    case MetricsRegistry::Type::kCounter: return "counter";
    case MetricsRegistry::Type::kGauge: return "gauge";
    case MetricsRegistry::Type::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Below 2^53 an integral double is exact: print it as the integer it is.
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  char buffer[64];
  // The general format, as Go's 'g' (what Prometheus writes): 0.0001, 1e+20.
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general);
  return std::string(buffer, end);
}

std::vector<double> latency_buckets_seconds() {
  return {0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5};
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  for (std::size_t i = 1; i < bounds_.size(); ++i) {
    if (!(bounds_[i - 1] < bounds_[i])) throw std::logic_error("histogram bounds must increase strictly");
  }
}

void Histogram::observe(double value) {
  // The first bucket whose upper bound holds the value (le is inclusive).
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  sum_ += value;
  ++count_;
}

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, const std::string& help, Type type) {
  for (Family& f : families_) {
    if (f.name != name) continue;
    if (f.type != type) throw std::logic_error("metric " + name + " added with two types");
    return f;
  }
  if (!valid_name(name)) throw std::logic_error("'" + name + "' is not a valid metric name");
  families_.push_back(Family{name, help, type, {}});
  return families_.back();
}

void MetricsRegistry::declare(const std::string& name, const std::string& help, Type type) {
  family(name, help, type);
}

void MetricsRegistry::counter(const std::string& name, const std::string& help, double value, Labels labels) {
  family(name, help, Type::kCounter).samples.push_back(Sample{{}, std::move(labels), value});
}

void MetricsRegistry::gauge(const std::string& name, const std::string& help, double value, Labels labels) {
  family(name, help, Type::kGauge).samples.push_back(Sample{{}, std::move(labels), value});
}

void MetricsRegistry::histogram(const std::string& name, const std::string& help, const Histogram& h,
                                Labels labels) {
  Family& f = family(name, help, Type::kHistogram);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.counts().size(); ++i) {
    cumulative += h.counts()[i];
    Labels with_le = labels;
    with_le.emplace_back("le", i < h.bounds().size() ? format_value(h.bounds()[i]) : "+Inf");
    f.samples.push_back(Sample{"_bucket", std::move(with_le), static_cast<double>(cumulative)});
  }
  f.samples.push_back(Sample{"_sum", labels, h.sum()});
  f.samples.push_back(Sample{"_count", std::move(labels), static_cast<double>(h.count())});
}

std::string MetricsRegistry::render() const {
  std::string out;
  for (const Family& f : families_) {
    out += "# HELP " + f.name + " " + escape(f.help, false) + "\n";
    out += "# TYPE " + f.name + " " + std::string(type_name(f.type)) + "\n";
    for (const Sample& s : f.samples) {
      out += f.name + s.suffix;
      if (!s.labels.empty()) {
        out += '{';
        for (std::size_t i = 0; i < s.labels.size(); ++i) {
          const auto& [label, value] = s.labels[i];
          if (!valid_name(label)) throw std::logic_error("'" + label + "' is not a valid label name");
          out += (i ? "," : "") + label + "=\"" + escape(value, true) + "\"";
        }
        out += '}';
      }
      out += " " + format_value(s.value) + "\n";
    }
  }
  return out;
}

}  // namespace conclave::node
