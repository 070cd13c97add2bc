#pragma once
// How a generated FastAPI project is run, the same for the embedded platform (which builds,
// starts and health-checks each deployment) and for `backend-im dev` (which runs it locally):
// the entry point, the uvicorn command line, the environment, the build check and the health
// check. Text and parsing only; the callers start the processes.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace bim::app_runtime {

// uvicorn imports this: `app` in main.py at the project's root.
inline constexpr std::string_view kEntryPoint = "main:app";

// The health check asks these in order: the first that answers 2xx passes; a 404 from one moves
// on to the next. A project without /health passes on its root.
inline const std::vector<std::string>& HealthPaths() {
  static const std::vector<std::string> kPaths = {"/health", "/"};
  return kPaths;
}

// Where uvicorn listens: a Unix socket (the platform's apps) or a loopback port (dev).
struct Listen {
  std::string unix_socket;
  int port = 0;
};

// python -m uvicorn main:app ... (with --reload for dev: restarts on a saved .py change).
std::vector<std::string> UvicornArgv(const std::string& python, const Listen& listen, bool reload);

// The environment an app gets: a PATH, a HOME (its own folder), UTF-8, unbuffered output, and
// nothing of ours (no tokens, no proxy settings).
std::vector<std::string> AppEnvironment(const std::string& home);

// A Python program that checks a project folder (its working folder) without running it: every
// .py file compiles, and every line of requirements.txt is met by the Python that runs it.
// Run as `python -c <script>`; it prints one JSON object (ParseBuildCheck reads it).
const char* BuildCheckScript();

struct Requirement {
  std::string line;       // as written in requirements.txt
  std::string name;       // the distribution
  std::string installed;  // its version in the runtime; empty: not installed
  bool met = false;
};

struct BuildCheck {
  std::string python_version;
  std::string uvicorn_version;  // empty: the runtime has no uvicorn
  int python_files = 0;
  std::vector<std::string> syntax_errors;  // each with its file, line and message
  std::vector<Requirement> requirements;
  std::vector<std::string> unreadable;  // requirements.txt lines it could not read

  bool ok() const;
  // One line per problem, saying what is wrong (empty when ok()).
  std::vector<std::string> Problems() const;
  // What was checked, for a build log: "Compiled 9 Python files", "fastapi 0.92.0 (>=0.92,<1)".
  std::vector<std::string> Summary() const;
};

// Reads the build check's output. kProtocol when it is not the check's JSON (e.g. the python
// that ran it is too old, or not Python at all).
Result<BuildCheck> ParseBuildCheck(std::string_view output);

// The request a health check sends, and the status of the answer's first line.
std::string HealthRequest(const std::string& path);
std::optional<int> HttpStatusOf(std::string_view response);

}  // namespace bim::app_runtime
