#include "ctl/tree_diff.h"

#include <fmt/format.h>

#include <dtl/dtl.hpp>

#include "common/path_policy.h"

namespace bim::ctl {
namespace {

// Lines with their line break, so that a last line without one differs from one with it.
std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.emplace_back(text.substr(pos, end - pos));
    pos = end;
  }
  return lines;
}

void AppendLine(std::string& out, char prefix, const std::string& line) {
  out += prefix;
  out += line;
  if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

// diff -u's range: "start,count", with ",1" left out, and the line before for an empty range.
std::string Range(long long start, long long count) {
  if (count == 0) return fmt::format("{},0", std::max(0LL, start - 1));
  if (count == 1) return fmt::format("{}", start);
  return fmt::format("{},{}", start, count);
}

// Above this many lines on both sides, libdtl is told to bound its memory (onHuge).
constexpr size_t kHugeLines = 100000;

}  // namespace

const char* ChangeName(FileChange::Kind kind) {
  switch (kind) {
    case FileChange::Kind::kAdded:
      return "added";
    case FileChange::Kind::kRemoved:
      return "removed";
    case FileChange::Kind::kChanged:
      return "changed";
  }
  return "changed";
}

bool LooksBinary(std::string_view content) {
  return content.find('\0') != std::string_view::npos || !IsValidUtf8(content);
}

std::string UnifiedHunks(std::string_view from_text, std::string_view to_text) {
  if (from_text == to_text) return "";
  std::vector<std::string> a = SplitLines(from_text), b = SplitLines(to_text);
  dtl::Diff<std::string> diff(a, b);
  if (a.size() + b.size() > kHugeLines) diff.onHuge();
  diff.compose();
  diff.composeUnifiedHunks();
  std::string out;
  for (const auto& h : diff.getUniHunks()) {
    out += fmt::format("@@ -{} +{} @@\n", Range(h.a, h.b), Range(h.c, h.d));
    for (const auto& e : h.common[0]) AppendLine(out, ' ', e.first);
    for (const auto& e : h.change) {
      char prefix = e.second.type == dtl::SES_ADD      ? '+'
                    : e.second.type == dtl::SES_DELETE ? '-'
                                                       : ' ';
      AppendLine(out, prefix, e.first);
    }
    for (const auto& e : h.common[1]) AppendLine(out, ' ', e.first);
  }
  return out;
}

TreeDiff DiffTrees(const contract::FileMap& from_files, const contract::FileMap& to_files,
                   const std::string& from, const std::string& to) {
  TreeDiff out;
  auto add = [&](const std::string& path, const std::string* before, const std::string* after) {
    FileChange c;
    c.path = path;
    c.kind = !before  ? FileChange::Kind::kAdded
             : !after ? FileChange::Kind::kRemoved
                      : FileChange::Kind::kChanged;
    static const std::string kEmpty;
    const std::string& a = before ? *before : kEmpty;
    const std::string& b = after ? *after : kEmpty;
    std::string from_name = before ? from + "/" + path : "/dev/null";
    std::string to_name = after ? to + "/" + path : "/dev/null";
    c.binary = LooksBinary(a) || LooksBinary(b);
    if (c.binary) {
      c.unified = fmt::format("Binary files {} and {} differ\n", from_name, to_name);
    } else {
      c.unified = fmt::format("--- {}\n+++ {}\n", from_name, to_name) + UnifiedHunks(a, b);
    }
    out.changes.push_back(std::move(c));
  };
  auto i = from_files.begin();
  auto j = to_files.begin();
  while (i != from_files.end() || j != to_files.end()) {
    if (j == to_files.end() || (i != from_files.end() && i->first < j->first)) {
      add(i->first, &i->second, nullptr);
      ++i;
    } else if (i == from_files.end() || j->first < i->first) {
      add(j->first, nullptr, &j->second);
      ++j;
    } else {
      if (i->second != j->second) add(i->first, &i->second, &j->second);
      ++i;
      ++j;
    }
  }
  return out;
}

std::string TreeDiff::Unified() const {
  std::string out;
  for (const auto& c : changes) out += c.unified;
  return out;
}

}  // namespace bim::ctl
