#include "bench/report.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace bim::bench {
namespace {

std::string Num(double v) {
  if (v != 0 && (v < 0.1 && v > -0.1)) return fmt::format("{:.3f}", v);
  if (v < 100) return fmt::format("{:.2f}", v);
  return fmt::format("{:.0f}", v);
}

}  // namespace

void Report::Add(Row row) {
  std::string met = !row.met ? "" : (*row.met ? "  [met]" : "  [MISSED]");
  std::fprintf(stderr, "  %-8s %-52s %s%s\n", row.group.c_str(), row.name.c_str(),
               row.summary.n ? fmt::format("median {} p99 {} {}", Num(row.summary.median),
                                           Num(row.summary.p99), row.unit)
                                   .c_str()
                             : fmt::format("{} {}", Num(row.value), row.unit).c_str(),
               met.c_str());
  rows_.push_back(std::move(row));
}

void Report::Note(const std::string& group, const std::string& text) {
  notes_.push_back({{"group", group}, {"text", text}});
}

void Report::PrintTable() const {
  std::string out = fmt::format("\n{:<8} {:<52} {:>10} {:>10} {:>6} {:>8} {:<16} {}\n", "group",
                                "measure", "median", "p99", "unit", "ratio", "target", "met");
  out += std::string(124, '-') + "\n";
  for (const auto& r : rows_) {
    std::string median = r.summary.n ? Num(r.summary.median) : Num(r.value);
    std::string p99 = r.summary.n ? Num(r.summary.p99) : "";
    std::string ratio = r.ratio ? fmt::format("{:.2f}x", *r.ratio) : "";
    std::string met = !r.met ? "" : (*r.met ? "yes" : "NO");
    out += fmt::format("{:<8} {:<52} {:>10} {:>10} {:>6} {:>8} {:<16} {}\n", r.group, r.name,
                       median, p99, r.unit, ratio, r.target, met);
  }
  for (const auto& n : notes_) {
    out += fmt::format("\n[{}] {}\n", n["group"].get<std::string>(), n["text"].get<std::string>());
  }
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
}

bool Report::WriteJson(const std::string& path) const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : rows_) {
    nlohmann::json j{{"group", r.group}, {"name", r.name}, {"unit", r.unit}};
    if (r.summary.n) {
      j["n"] = r.summary.n;
      j["median"] = r.summary.median;
      j["p99"] = r.summary.p99;
      j["min"] = r.summary.min;
      j["max"] = r.summary.max;
    } else {
      j["value"] = r.value;
    }
    if (r.ratio) {
      j["ratio"] = *r.ratio;
      j["baseline"] = r.baseline;
    }
    if (!r.target.empty()) j["target"] = r.target;
    if (r.met) j["met"] = *r.met;
    rows.push_back(std::move(j));
  }
  nlohmann::json doc{{"meta", meta_}, {"rows", rows}, {"notes", notes_}};
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::ofstream out(path);
  out << doc.dump(2) << "\n";
  return static_cast<bool>(out);
}

}  // namespace bim::bench
