#pragma once
// The one rule for relative paths that cross a trust boundary: names in a generate response
// (from the network) before they are written, and names read from a project before they are
// uploaded. Pure string checks, no I/O; the symlink half of the policy needs the filesystem and
// lives with the code that writes (ctl/project_files.h).
//
// A safe relative path is non-empty valid UTF-8 of at most kMaxPathBytes, without NUL, control
// characters or backslashes, not absolute, with no empty, "." or ".." segment, no segment over
// kMaxSegmentBytes, and no segment naming a folder that tools treat as their own (.git,
// .backend-im): a platform must never be able to plant a git hook.

#include <cstddef>
#include <string_view>

#include "common/result.h"

namespace bim {

inline constexpr size_t kMaxPathBytes = 1024;
inline constexpr size_t kMaxSegmentBytes = 255;

Status CheckRelativePath(std::string_view path);

bool IsValidUtf8(std::string_view s);

}  // namespace bim
