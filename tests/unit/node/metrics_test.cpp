// Tests of the metrics registry's text (Prometheus exposition format 0.0.4):
// exact output for counters, labelled gauges and a histogram, whose buckets
// must be cumulative; escaping of HELP text and label values; values.
#include "sidecar/node/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace conclave::node {
namespace {

using Type = MetricsRegistry::Type;

TEST(MetricsRegistry, RendersCountersAndLabelledGaugesGroupedByName) {
  MetricsRegistry r;
  r.counter("conclave_x_total", "Things counted.", 7);
  r.gauge("conclave_role", "Role.", 1, {{"role", "leader"}});
  r.gauge("conclave_role", "Role.", 0, {{"role", "follower"}, {"zone", "a"}});
  r.declare("conclave_empty", "Nothing yet.", Type::kGauge);
  EXPECT_EQ(r.render(),
            "# HELP conclave_x_total Things counted.\n"
            "# TYPE conclave_x_total counter\n"
            "conclave_x_total 7\n"
            "# HELP conclave_role Role.\n"
            "# TYPE conclave_role gauge\n"
            "conclave_role{role=\"leader\"} 1\n"
            "conclave_role{role=\"follower\",zone=\"a\"} 0\n"
            "# HELP conclave_empty Nothing yet.\n"
            "# TYPE conclave_empty gauge\n");
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeWithSumAndCount) {
  // Binary fractions, so the sum is exact.
  Histogram h({0.125, 1, 10});
  h.observe(0.0625);
  h.observe(0.125);  // le is inclusive: this one is in the 0.125 bucket
  h.observe(0.5);
  h.observe(20);
  MetricsRegistry r;
  r.histogram("conclave_d_seconds", "Durations.", h, {{"disk", "a"}});
  EXPECT_EQ(r.render(),
            "# HELP conclave_d_seconds Durations.\n"
            "# TYPE conclave_d_seconds histogram\n"
            "conclave_d_seconds_bucket{disk=\"a\",le=\"0.125\"} 2\n"
            "conclave_d_seconds_bucket{disk=\"a\",le=\"1\"} 3\n"
            "conclave_d_seconds_bucket{disk=\"a\",le=\"10\"} 3\n"
            "conclave_d_seconds_bucket{disk=\"a\",le=\"+Inf\"} 4\n"
            "conclave_d_seconds_sum{disk=\"a\"} 20.6875\n"
            "conclave_d_seconds_count{disk=\"a\"} 4\n");
}

TEST(MetricsRegistry, EmptyHistogramHasEveryBucketAtZero) {
  MetricsRegistry r;
  r.histogram("conclave_h", "H.", Histogram({1}));
  EXPECT_EQ(r.render(),
            "# HELP conclave_h H.\n"
            "# TYPE conclave_h histogram\n"
            "conclave_h_bucket{le=\"1\"} 0\n"
            "conclave_h_bucket{le=\"+Inf\"} 0\n"
            "conclave_h_sum 0\n"
            "conclave_h_count 0\n");
}

TEST(MetricsRegistry, EscapesLabelValuesAndHelp) {
  MetricsRegistry r;
  r.gauge("conclave_app", "A \\ help\nline with \"quotes\".", 1, {{"application", "a\"b\\c\nd"}});
  EXPECT_EQ(r.render(),
            "# HELP conclave_app A \\\\ help\\nline with \"quotes\".\n"
            "# TYPE conclave_app gauge\n"
            "conclave_app{application=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsRegistry, FormatsValuesAsPrometheusReadsThem) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(18446744073709.0), "18446744073709");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(0.0001), "0.0001");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  // Past 2^53 integers are not exact: the shortest round-tripping form.
  EXPECT_EQ(format_value(1e20), "1e+20");
}

TEST(MetricsRegistry, RefusesBadNamesAndMixedTypes) {
  MetricsRegistry r;
  EXPECT_THROW(r.gauge("9lives", "h", 1), std::logic_error);
  EXPECT_THROW(r.gauge("has space", "h", 1), std::logic_error);
  r.gauge("conclave_g", "h", 1);
  EXPECT_THROW(r.counter("conclave_g", "h", 1), std::logic_error);
  r.gauge("conclave_l", "h", 1, {{"bad-label", "v"}});
  EXPECT_THROW(r.render(), std::logic_error);
  EXPECT_THROW(Histogram({1, 1}), std::logic_error);
}

}  // namespace
}  // namespace conclave::node
