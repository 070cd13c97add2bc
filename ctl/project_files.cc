#include "ctl/project_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/ignore_rules.h"
#include "common/path_policy.h"

namespace bim::ctl {
namespace {

std::string Errno(const std::string& what, const std::string& path) {
  return fmt::format("{} {}: {}", what, path, std::strerror(errno));
}

std::optional<std::string> RealPath(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) return std::nullopt;
  return std::string(buf);
}

bool Within(const std::string& root, const std::string& p) {
  return p == root ||
         (p.size() > root.size() && p.compare(0, root.size(), root) == 0 && p[root.size()] == '/');
}

Status MakeDirs(const std::string& dir, mode_t mode) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return Error(ErrorCode::kIo, Errno("cannot create", prefix));
    }
  }
  return OkStatus();
}

Result<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kIo, Errno("cannot read", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes content to fd (path names it in errors) and closes it.
Status WriteAndClose(int fd, const std::string& path, const std::string& content) {
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e(ErrorCode::kIo, Errno("cannot write", path));
      ::close(fd);
      return e;
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Error(ErrorCode::kIo, Errno("cannot write", path));
  return OkStatus();
}

Status WriteWhole(const std::string& path, const std::string& content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Error(ErrorCode::kIo, Errno("cannot write", path));
  return WriteAndClose(fd, path, content);
}

void RemoveTree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    if (DIR* d = ::opendir(path.c_str())) {
      while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        RemoveTree(path + "/" + name);
      }
      ::closedir(d);
    }
    ::rmdir(path.c_str());
  } else {
    ::unlink(path.c_str());
  }
}

// Checks the folders on the way to root/rel: each must be a folder (or absent), and a symlink
// among them must resolve inside root.
Status CheckParents(const std::string& root_real, const std::string& root, const std::string& rel) {
  size_t pos = 0;
  while (true) {
    size_t slash = rel.find('/', pos);
    if (slash == std::string::npos) return OkStatus();
    std::string prefix = root + "/" + rel.substr(0, slash);
    struct stat st {};
    if (::lstat(prefix.c_str(), &st) != 0) return OkStatus();  // absent: created later
    if (S_ISLNK(st.st_mode)) {
      auto real = RealPath(prefix);
      if (!real || !Within(root_real, *real)) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("unsafe path \"{}\": {} is a symlink that leads outside {}", rel,
                                 rel.substr(0, slash), root));
      }
    } else if (!S_ISDIR(st.st_mode)) {
      return Error(ErrorCode::kConflict, fmt::format("{} is a file, but {} needs it to be a folder",
                                                     rel.substr(0, slash), rel));
    }
    pos = slash + 1;
  }
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Why deploy leaves a name out by default, or empty to keep it. A .backendimignore rule can
// re-include any of these but .git and .backend-im.
std::string DefaultSkipReason(const std::string& name, bool is_dir) {
  if (name.rfind(".env", 0) == 0)
    return "secret (.env); re-include with !" + name + " in .backendimignore";
  if (!name.empty() && name[0] == '.') return "hidden";
  if (is_dir) {
    if (name == "node_modules") return "dependencies";
    if (name == "__pycache__") return "cache";
    return "";
  }
  if (EndsWith(name, ".pyc") || EndsWith(name, ".pyo")) return "compiled Python";
  if (EndsWith(name, ".pem") || EndsWith(name, ".key") || name.rfind("id_", 0) == 0) {
    return "secret (key); re-include with !" + name + " in .backendimignore";
  }
  return "";
}

// Why deploy leaves rel (named name, at abs) out, or empty to upload it. The user's rules come
// after the defaults, so any of them that matches decides (gitignore's "last match wins").
std::string Exclusion(const IgnoreRules& user_rules, const std::string& rel,
                      const std::string& name, bool is_dir, const std::string& abs) {
  if (name == ".git") return "version control";
  if (name == ".backend-im") return "backend-im's own metadata";
  int user = user_rules.Decide(rel, is_dir);
  if (user > 0) return "excluded by .backendimignore";
  if (user < 0) return "";
  std::string why = DefaultSkipReason(name, is_dir);
  if (why.empty() && is_dir && ::access((abs + "/pyvenv.cfg").c_str(), F_OK) == 0)
    why = "virtualenv";
  return why;
}

// The project's .backendimignore, or no rules.
IgnoreRules UserRules(const std::string& dir) {
  IgnoreRules rules;
  if (auto text = ReadWhole(dir + "/.backendimignore"); text.ok()) rules.Add(*text);
  return rules;
}

struct Walker {
  const std::string& root;
  const std::string& root_real;
  const ReadLimits& limits;
  const IgnoreRules& user_rules;
  ProjectSnapshot& snap;

  Status Walk(const std::string& rel_dir) {
    std::string abs_dir = rel_dir.empty() ? root : root + "/" + rel_dir;
    DIR* d = ::opendir(abs_dir.c_str());
    if (!d) return Error(ErrorCode::kIo, Errno("cannot read folder", abs_dir));
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
      std::string abs = root + "/" + rel;
      struct stat lst {};
      if (::lstat(abs.c_str(), &lst) != 0) return Error(ErrorCode::kIo, Errno("cannot stat", abs));
      struct stat st = lst;
      if (S_ISLNK(lst.st_mode)) {
        auto real = RealPath(abs);
        if (!real || !Within(root_real, *real)) {
          snap.skipped.push_back({rel, "symlink leading outside the project"});
          continue;
        }
        if (::stat(abs.c_str(), &st) != 0) return Error(ErrorCode::kIo, Errno("cannot stat", abs));
        if (S_ISDIR(st.st_mode)) {
          snap.skipped.push_back(
              {rel, "symlink to a folder (its files are uploaded where they are)"});
          continue;
        }
      }
      if (S_ISDIR(st.st_mode)) {
        std::string why = Exclusion(user_rules, rel, name, true, abs);
        if (!why.empty()) {
          snap.skipped.push_back({rel + "/", why});
          continue;
        }
        if (auto s = Walk(rel); !s.ok()) return s;
        continue;
      }
      if (!S_ISREG(st.st_mode)) {
        snap.skipped.push_back({rel, "not a regular file"});
        continue;
      }
      if (std::string why = Exclusion(user_rules, rel, name, false, abs); !why.empty()) {
        snap.skipped.push_back({rel, why});
        continue;
      }
      if (auto s = CheckRelativePath(rel); !s.ok()) return s;
      uint64_t size = static_cast<uint64_t>(st.st_size);
      if (size > limits.max_file_bytes) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("{} is {} bytes; the limit for one file is {} bytes", rel, size,
                                 limits.max_file_bytes));
      }
      if (snap.files.size() + 1 > limits.max_files) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("the project has more than {} files (at {}); add what should "
                                 "not be uploaded to .backendimignore",
                                 limits.max_files, rel));
      }
      if (snap.total_bytes + size > limits.max_total_bytes) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("the project is over {} bytes in all (at {})",
                                 limits.max_total_bytes, rel));
      }
      auto content = ReadWhole(abs);
      if (!content.ok()) return content.error();
      if (!IsValidUtf8(*content) || content->find('\0') != std::string::npos) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("{} is not UTF-8 text; the platform takes text files only. Add it "
                                 "to .backendimignore to leave it out",
                                 rel));
      }
      snap.total_bytes += content->size();
      snap.files.emplace(rel, std::move(*content));
    }
    return OkStatus();
  }
};

// The kernel reads a path up to its first NUL, so "n2\0x" would quietly be the folder n2. Every
// entry point refuses such a folder name before it touches anything.
Status CheckFolderName(const std::string& dir) {
  if (dir.find('\0') == std::string::npos) return OkStatus();
  std::string shown;
  for (char c : dir.substr(0, 200)) shown += c == '\0' ? std::string("\\0") : std::string(1, c);
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("the folder name \"{}\" contains a NUL character", shown));
}

// Where dir is or would be: the real path of its deepest existing folder, then the rest of it
// with "." and ".." applied by name (mkdir would create exactly that).
Result<std::string> ResolveFolder(const std::string& dir) {
  std::string abs = dir;
  if (abs.empty() || abs[0] != '/') {
    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd)) return Error(ErrorCode::kIo, Errno("cannot resolve", dir));
    abs = std::string(cwd) + "/" + dir;
  }
  std::vector<std::string> parts;
  for (size_t pos = 0; pos < abs.size();) {
    size_t next = abs.find('/', pos);
    if (next == std::string::npos) next = abs.size();
    if (next > pos) parts.push_back(abs.substr(pos, next - pos));
    pos = next + 1;
  }
  // The longest prefix that exists decides through its real path.
  std::string real = "/";
  size_t used = 0;
  for (size_t n = parts.size(); n > 0; --n) {
    std::string prefix;
    for (size_t i = 0; i < n; ++i) prefix += "/" + parts[i];
    if (auto r = RealPath(prefix)) {
      real = *r;
      used = n;
      break;
    }
  }
  for (size_t i = used; i < parts.size(); ++i) {
    if (parts[i] == ".") continue;
    if (parts[i] == "..") {
      real = real.substr(0, std::max<size_t>(1, real.find_last_of('/')));
      continue;
    }
    real += (real == "/" ? "" : "/") + parts[i];
  }
  return real;
}

Result<WriteReport> WriteInto(const std::string& dir, const contract::FileMap& files, bool force);

}  // namespace

Status CheckOutputFolder(const std::string& dir) {
  if (auto s = CheckFolderName(dir); !s.ok()) return s;
  auto real = ResolveFolder(dir);
  if (!real.ok()) return real.error();
  auto refuse = [&](const std::string& why) {
    return Error(ErrorCode::kPermissionDenied,
                 fmt::format("will not write a generated project into {} ({}); choose a folder "
                             "of its own, e.g. -o ./my-api",
                             *real, why));
  };
  if (*real == "/") return refuse("the root folder");
  struct stat st {};
  bool exists = ::stat(real->c_str(), &st) == 0;
  if (exists && real->find('/', 1) == std::string::npos) return refuse("a system folder");
  for (const char* system : {"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32",
                             "/proc", "/run", "/sbin", "/sys", "/usr", "/var/backups", "/var/cache",
                             "/var/lib", "/var/log", "/var/mail", "/var/spool"}) {
    if (Within(system, *real)) return refuse(fmt::format("inside the system folder {}", system));
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    if (auto home_real = RealPath(home); home_real && *home_real == *real) {
      return refuse("the home folder itself");
    }
  }
  return OkStatus();
}

Result<WriteReport> WriteProjectFiles(const std::string& dir, const contract::FileMap& files,
                                      bool force) {
  if (auto s = CheckFolderName(dir); !s.ok()) return s.error();
  // 1. Every name first: one bad name rejects the whole answer, before anything is touched.
  for (const auto& [path, content] : files) {
    if (auto s = CheckRelativePath(path); !s.ok()) {
      return Error(
          ErrorCode::kInvalidArgument,
          "the platform's answer was rejected and nothing was written: " + s.error().message);
    }
  }
  if (auto s = CheckOutputFolder(dir); !s.ok()) return s.error();
  // A folder made here and left empty by a failure is removed again (rmdir keeps a full one).
  struct stat before {};
  bool made = ::lstat(dir.c_str(), &before) != 0;
  if (auto s = MakeDirs(dir, 0755); !s.ok()) return s.error();
  auto result = WriteInto(dir, files, force);
  if (!result.ok() && made) ::rmdir(dir.c_str());
  return result;
}

namespace {

Result<WriteReport> WriteInto(const std::string& dir, const contract::FileMap& files, bool force) {
  auto root_real = RealPath(dir);
  if (!root_real) return Error(ErrorCode::kIo, Errno("cannot resolve", dir));

  // 2. Where each file would land, and what is there now.
  WriteReport report;
  std::vector<std::string> conflicts;
  for (const auto& [path, content] : files) {
    if (auto s = CheckParents(*root_real, dir, path); !s.ok()) {
      if (s.error().code == ErrorCode::kConflict) {
        conflicts.push_back(path);
        continue;
      }
      // The folder's fault, not the files': whoever sent them (the platform, a kept snapshot)
      // is not named, and it is a local file problem.
      return Error(ErrorCode::kIo, "nothing was written: " + s.error().message);
    }
    std::string target = dir + "/" + path;
    struct stat st {};
    if (::lstat(target.c_str(), &st) != 0) {
      report.written.push_back(path);
      continue;
    }
    if (S_ISREG(st.st_mode)) {
      auto existing = ReadWhole(target);
      if (existing.ok() && *existing == content) {
        report.unchanged.push_back(path);
        continue;
      }
    }
    if (S_ISDIR(st.st_mode) || !force) {
      conflicts.push_back(path);
      continue;
    }
    report.written.push_back(path);
  }
  if (!conflicts.empty()) {
    std::string list;
    for (const auto& c : conflicts) list += "\n  " + c;
    return Error(ErrorCode::kConflict,
                 fmt::format("{} file(s) in {} differ from what was generated; nothing was "
                             "written. Use --force to overwrite them:{}",
                             conflicts.size(), dir, list));
  }

  // 3. Stage everything beside the target, then move into place.
  std::string parent =
      dir.find('/') == std::string::npos ? "." : dir.substr(0, dir.find_last_of('/'));
  if (parent.empty()) parent = "/";
  std::string base = dir.substr(dir.find_last_of('/') + 1);
  std::string tmpl = parent + "/." + base + ".staging-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    return Error(ErrorCode::kIo, Errno("cannot create a staging folder in", parent));
  std::string staging = buf.data();
  for (const auto& path : report.written) {
    std::string staged = staging + "/" + path;
    Status s = MakeDirs(staged.substr(0, staged.find_last_of('/')), 0755);
    if (s.ok()) s = WriteWhole(staged, files.at(path), 0644);
    if (!s.ok()) {
      RemoveTree(staging);
      return Error(s.error().code, s.error().message + " (nothing was written to " + dir + ")");
    }
  }
  for (const auto& path : report.written) {
    std::string target = dir + "/" + path;
    Status s = MakeDirs(target.substr(0, target.find_last_of('/')), 0755);
    if (s.ok() && ::rename((staging + "/" + path).c_str(), target.c_str()) != 0) {
      s = Error(ErrorCode::kIo, Errno("cannot move into place", target));
    }
    if (!s.ok()) {
      RemoveTree(staging);
      return s.error();
    }
  }
  RemoveTree(staging);
  return report;
}

}  // namespace

Result<ProjectSnapshot> ReadProjectFiles(const std::string& dir, const ReadLimits& limits) {
  if (auto s = CheckFolderName(dir); !s.ok()) return s.error();
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("{} is not a folder", dir));
  }
  auto root_real = RealPath(dir);
  if (!root_real) return Error(ErrorCode::kIo, Errno("cannot resolve", dir));
  IgnoreRules user_rules = UserRules(dir);
  ProjectSnapshot snap;
  Walker w{dir, *root_real, limits, user_rules, snap};
  if (auto s = w.Walk(""); !s.ok()) return s.error();
  return snap;
}

Status WritePrivateFile(const std::string& path, const std::string& content, bool replace) {
  if (auto s = CheckFolderName(path); !s.ok()) return s;
  const size_t slash = path.find_last_of('/');
  const std::string folder =
      slash == std::string::npos ? "." : path.substr(0, std::max<size_t>(slash, 1));
  const std::string name = path.substr(slash == std::string::npos ? 0 : slash + 1);
  std::string tmpl = folder + "/." + name + ".backend-im-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  int fd = ::mkostemp(buf.data(), O_CLOEXEC);  // 0600 whatever the umask
  if (fd < 0) return Error(ErrorCode::kIo, Errno("cannot write a file in", folder));
  const std::string tmp = buf.data();
  Status s = WriteAndClose(fd, tmp, content);
  if (s.ok() && replace && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Error(ErrorCode::kIo, Errno("cannot write", path));
  }
  // Without replace, link(2) puts it in place only if nothing is there, in one step.
  if (s.ok() && !replace && ::link(tmp.c_str(), path.c_str()) != 0) {
    s = errno == EEXIST ? Error(ErrorCode::kConflict, path + " exists; nothing was written")
                        : Error(ErrorCode::kIo, Errno("cannot write", path));
  }
  if (!s.ok() || !replace) ::unlink(tmp.c_str());
  return s;
}

Result<std::string> ReadLocalFile(const std::string& path, uint64_t max_bytes) {
  if (auto s = CheckFolderName(path); !s.ok()) return s.error();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error(ErrorCode::kIo, Errno("cannot read", path));
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e(ErrorCode::kIo, Errno("cannot read", path));
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("{} is over {} bytes, more than is read", path, max_bytes));
    }
  }
  ::close(fd);
  return text;
}

bool WouldUpload(const std::string& dir, const std::string& rel) {
  const IgnoreRules user_rules = UserRules(dir);
  std::string so_far;
  for (size_t start = 0; start <= rel.size();) {
    size_t slash = rel.find('/', start);
    const bool last = slash == std::string::npos;
    const std::string name = rel.substr(start, last ? std::string::npos : slash - start);
    if (!name.empty() && name != ".") {
      so_far += (so_far.empty() ? "" : "/") + name;
      if (!Exclusion(user_rules, so_far, name, !last, dir + "/" + so_far).empty()) return false;
    }
    if (last) break;
    start = slash + 1;
  }
  return !so_far.empty();
}

std::optional<ProjectMeta> LoadProjectMeta(const std::string& dir) {
  if (!CheckFolderName(dir).ok()) return std::nullopt;
  auto text = ReadWhole(dir + "/.backend-im/project.json");
  if (!text.ok()) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("projectId");
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return ProjectMeta{it->get<std::string>()};
}

Status SaveProjectMeta(const std::string& dir, const ProjectMeta& meta) {
  if (auto s = CheckFolderName(dir); !s.ok()) return s;
  std::string folder = dir + "/.backend-im";
  if (auto s = MakeDirs(folder, 0755); !s.ok()) return s;
  std::string body = nlohmann::json{{"projectId", meta.project_id}}.dump(2) + "\n";
  std::string tmp = folder + "/project.json.tmp";
  if (auto s = WriteWhole(tmp, body, 0644); !s.ok()) return s;
  if (::rename(tmp.c_str(), (folder + "/project.json").c_str()) != 0) {
    return Error(ErrorCode::kIo, Errno("cannot write", folder + "/project.json"));
  }
  return OkStatus();
}

std::string FolderNameForPrompt(const std::string& prompt) {
  std::string out;
  for (unsigned char c : prompt) {
    if (std::isalnum(c)) {
      out += static_cast<char>(std::tolower(c));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
    if (out.size() >= 40) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "backend" : out;
}

}  // namespace bim::ctl
