#pragma once
// Local project files: where generate writes and what deploy reads. The ctl does this, not the
// agent, so the agent never needs write access outside its own folders.
//
// Writing (generate) treats the platform's answer as untrusted: every name must pass
// CheckRelativePath, no existing folder on the way may be a symlink that leads outside the
// target, and an existing file with other content is a conflict unless `force`. Nothing is
// written unless everything can be: files go to a staging folder beside the target first and
// are moved into place only once all of them are written.
//
// Reading (deploy) walks the folder in byte-wise name order, so the same tree always gives the
// same upload and the same commit hash.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/contract.h"
#include "common/limits.h"
#include "common/result.h"

namespace bim::ctl {

struct WriteReport {
  std::vector<std::string> written;    // new or changed
  std::vector<std::string> unchanged;  // already there with the same content
};

// A folder generate may write into; kPermissionDenied for one that belongs to the system or
// holds everything else: "/", an existing folder right below it (/etc, /home, /tmp...), anything
// under /usr, /etc, /boot, /proc and the like, and the home folder itself. Symlinks and ".." are
// resolved first, and a folder that does not exist yet is judged by where it would be.
Status CheckOutputFolder(const std::string& dir);

// On conflicts without force the Error lists every conflicting path (kConflict). Refuses what
// CheckOutputFolder refuses.
Result<WriteReport> WriteProjectFiles(const std::string& dir, const contract::FileMap& files,
                                      bool force);

// The agent's generate answers are bounded to match (common/limits.h).
struct ReadLimits {
  uint64_t max_file_bytes = limits::kMaxProjectFileBytes;
  uint64_t max_total_bytes = limits::kMaxProjectBytes;
  size_t max_files = limits::kMaxProjectFiles;
};

struct SkippedFile {
  std::string path;
  std::string reason;
};

struct ProjectSnapshot {
  contract::FileMap files;
  std::vector<SkippedFile> skipped;
  uint64_t total_bytes = 0;
};

Result<ProjectSnapshot> ReadProjectFiles(const std::string& dir, const ReadLimits& limits = {});

// Whether deploy, reading dir, would upload a file at rel (a path inside dir, "/"-separated,
// that need not exist yet): the same rules as ReadProjectFiles, .backendimignore over the
// defaults, applied to each folder on the way and to the file. `env pull` refuses such a path.
bool WouldUpload(const std::string& dir, const std::string& rel);

// A file only its owner may read or write (a pulled .env): written under a hidden temporary name
// beside path, created 0600, then moved into place, so no one ever sees a wider mode or half of
// it. Over an existing file only when replace; else kConflict, and nothing is written.
Status WritePrivateFile(const std::string& path, const std::string& content, bool replace);
// A whole local file; kInvalidArgument when it is over max_bytes.
Result<std::string> ReadLocalFile(const std::string& path, uint64_t max_bytes);

// DIR/.backend-im/project.json: which platform project this folder deploys to.
struct ProjectMeta {
  std::string project_id;
};
std::optional<ProjectMeta> LoadProjectMeta(const std::string& dir);
Status SaveProjectMeta(const std::string& dir, const ProjectMeta& meta);

// A folder name made from a prompt: "REST API for users" -> "rest-api-for-users".
std::string FolderNameForPrompt(const std::string& prompt);

}  // namespace bim::ctl
