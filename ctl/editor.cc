#include "ctl/editor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <vector>

namespace bim::ctl {
namespace {

std::string FindOnPath(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    return ::access(program.c_str(), X_OK) == 0 ? program : "";
  }
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

bool IsTerminalEditor(const std::string& program) {
  std::string base = program.substr(program.find_last_of('/') + 1);
  for (const char* t :
       {"vi", "vim", "nvim", "nano", "emacs", "micro", "hx", "helix", "ed", "joe"}) {
    if (base == t) return true;
  }
  return false;
}

}  // namespace

Result<std::string> OpenEditor(const std::string& name, const std::string& dir) {
  std::string command = name;
  if (command.empty()) {
    const char* visual = std::getenv("VISUAL");
    const char* editor = std::getenv("EDITOR");
    command = visual && *visual ? visual : (editor && *editor ? editor : "");
  }
  if (command.empty()) {
    return Error(
        ErrorCode::kNotFound,
        "no editor named and neither $VISUAL nor $EDITOR is set; open " + dir + " yourself");
  }
  if (command == "vscode") command = "code";
  std::vector<std::string> words;
  std::stringstream ss(command);
  for (std::string w; ss >> w;) words.push_back(w);
  std::string program = FindOnPath(words.at(0));
  if (program.empty()) {
    return Error(
        ErrorCode::kNotFound,
        fmt::format("editor \"{}\" was not found on PATH; open {} yourself", words[0], dir));
  }
  words.push_back(dir);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);

  bool foreground = IsTerminalEditor(program) && ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  pid_t child = ::fork();
  if (child < 0) return Error(ErrorCode::kInternal, "fork failed");
  if (child == 0) {
    if (!foreground) {
      ::setsid();
      if (::fork() != 0) ::_exit(0);
      int null = ::open("/dev/null", O_RDWR);
      if (null >= 0) {
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
      }
    }
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  if (foreground) return fmt::format("{} exited", words[0]);
  return fmt::format("opened {} in {}", dir, words[0]);
}

}  // namespace bim::ctl
