#pragma once
// Collects every figure of one benchmark run, prints them as a table and writes them as JSON
// (bench/results/latest.json by default) so runs can be compared between commits.
// Single-threaded: the benchmarks add rows from the main thread only.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/stats.h"

namespace bim::bench {

struct Row {
  Row(std::string group_, std::string name_, std::string unit_, Summary summary_ = {},
      double value_ = 0, std::optional<double> ratio_ = {}, std::string baseline_ = {},
      std::string target_ = {}, std::optional<bool> met_ = {})
      : group(std::move(group_)),
        name(std::move(name_)),
        unit(std::move(unit_)),
        summary(summary_),
        value(value_),
        ratio(ratio_),
        baseline(std::move(baseline_)),
        target(std::move(target_)),
        met(met_) {}

  std::string group;  // "ctl", "fanout", "idle", "history", "upload"
  std::string name;   // what was measured
  std::string unit;   // "ms", "MiB", "count", ...
  Summary summary;    // n == 0: a single value in `value`
  double value = 0;
  std::optional<double> ratio;  // vs the baseline named in `baseline`
  std::string baseline;
  std::string target;  // e.g. "<= 3x"; empty: none
  std::optional<bool> met;
};

class Report {
 public:
  void Add(Row row);
  // Free text printed under the table and kept in the JSON (query plans, load, caveats).
  void Note(const std::string& group, const std::string& text);
  void SetMeta(const std::string& key, nlohmann::json value) { meta_[key] = std::move(value); }

  void PrintTable() const;
  bool WriteJson(const std::string& path) const;

 private:
  std::vector<Row> rows_;
  nlohmann::json notes_ = nlohmann::json::array();
  nlohmann::json meta_ = nlohmann::json::object();
};

}  // namespace bim::bench
