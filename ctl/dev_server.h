#pragma once
// `backend-im dev`: runs a project on this machine with uvicorn's reload, the way the platform
// runs it (the entry point, the build check and the health check of common/app_runtime.h), and
// stops it whole on Ctrl-C. No agent and no platform are involved.
//
// The Python: the project's .venv when it has one (the project's own choice), else the first of
// `python3` on PATH and /usr/bin/python3 that has uvicorn. Before starting, that Python checks
// the project (app_runtime's build check): uvicorn or a requirement that is not installed stops
// here, with what to install; a version that does not meet requirements.txt, a line it cannot
// read and a syntax error are warnings (uvicorn shows the traceback, and the reload picks up the
// fix). The server runs as a ContainedProcess (its own PID namespace when the kernel allows):
// Ctrl-C stops uvicorn, its reloader's worker and whatever the app started.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/app_runtime.h"
#include "common/result.h"

namespace bim::ctl {

struct DevOptions {
  std::string dir = ".";
  int port = 8000;
  // `dev --env`: an environment's variables, given to the server's process only.
  std::map<std::string, std::string> variables;
};

// The environment the dev server gets: ours without the ctl's own token, unbuffered, with
// variables over ours of the same name. ours: this process's (environ).
std::vector<std::string> DevEnvironment(char** ours,
                                        const std::map<std::string, std::string>& variables);

// The Pythons to try, in order, that exist: dir/.venv/bin/python, python3 on $PATH,
// /usr/bin/python3 (each once).
std::vector<std::string> DevPythonCandidates(const std::string& dir, const std::string& path_env);

// The Debian package that ships a Python distribution: python3-<name>, lower case, '_' and '.'
// as '-' (python3-fastapi, python3-sqlalchemy).
std::string DebianPackageFor(const std::string& distribution);

// What stops `dev` before it starts (each line says what and how to get it), and what it only
// warns about. python: the one chosen; venv: whether it is the project's .venv.
struct DevCheckVerdict {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};
DevCheckVerdict JudgeDevCheck(const app_runtime::BuildCheck& check, const std::string& python,
                              bool venv);

// Runs the dev server until Ctrl-C (exit 0), or until it cannot start or ends by itself (1).
// Prints the URL once the health check passes; forwards the server's output to stderr.
int RunDevServer(const DevOptions& options);

}  // namespace bim::ctl
