#pragma once
// How two trees of files differ (a deployment's kept files, a local folder): which files were
// added, removed or changed, and for text files a unified diff of each, as `diff -u` writes one
// (three lines of context). The line diff is libdtl's (Debian libdtl-dev). Pure: no I/O, so
// `backend-im diff`, `deploy --dry-run` and the MCP diff tool all show the same thing.
//
// A file is binary when it holds a NUL byte or is not valid UTF-8; of a binary file only the
// fact that it differs is said ("Binary files ... differ"), as diff(1) does.

#include <string>
#include <string_view>
#include <vector>

#include "common/contract.h"

namespace bim::ctl {

struct FileChange {
  enum class Kind { kAdded, kRemoved, kChanged };
  std::string path;
  Kind kind = Kind::kChanged;
  bool binary = false;
  // The file's part of the unified diff: its ---/+++ header and hunks, or the "Binary files"
  // line. Every line ends with "\n".
  std::string unified;
};

struct TreeDiff {
  std::vector<FileChange> changes;  // in path order
  bool same() const { return changes.empty(); }
  // The whole unified diff: every change's text in order.
  std::string Unified() const;
};

// "added", "removed" or "changed".
const char* ChangeName(FileChange::Kind kind);

// from and to name the two sides in the headers ("--- <from>/<path>", "+++ <to>/<path>").
TreeDiff DiffTrees(const contract::FileMap& from_files, const contract::FileMap& to_files,
                   const std::string& from, const std::string& to);

// The hunks of a unified diff between two texts ("@@ -a,b +c,d @@" and the lines, with libdtl's
// three lines of context), without a
// header; empty when they are the same. A last line without a line break is followed by
// "\ No newline at end of file".
std::string UnifiedHunks(std::string_view from_text, std::string_view to_text);

bool LooksBinary(std::string_view content);

}  // namespace bim::ctl
