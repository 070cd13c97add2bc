#include "common/app_runtime.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace bim::app_runtime {

std::vector<std::string> UvicornArgv(const std::string& python, const Listen& listen, bool reload) {
  std::vector<std::string> argv = {python, "-m", "uvicorn", std::string(kEntryPoint)};
  if (!listen.unix_socket.empty()) {
    argv.insert(argv.end(), {"--uds", listen.unix_socket});
  } else {
    argv.insert(argv.end(), {"--host", "127.0.0.1", "--port", std::to_string(listen.port)});
  }
  if (reload) argv.insert(argv.end(), {"--reload", "--reload-dir", "."});
  return argv;
}

std::vector<std::string> AppEnvironment(const std::string& home) {
  return {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8", "PYTHONUNBUFFERED=1",
          "PYTHONDONTWRITEBYTECODE=1"};
}

const char* BuildCheckScript() {
  return R"PY(
import json, os, sys
out = {"python": sys.version.split()[0], "uvicorn": "", "files": 0, "syntax": [],
       "requirements": [], "unreadable": []}
for root, dirs, files in os.walk("."):
    dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules"))
    for name in sorted(files):
        if not name.endswith(".py"):
            continue
        path = os.path.join(root, name)[2:]
        out["files"] += 1
        try:
            with open(path, "rb") as f:
                compile(f.read(), path, "exec")
        except (SyntaxError, ValueError) as e:
            where = "%s:%s" % (path, getattr(e, "lineno", None) or "?")
            out["syntax"].append("%s: %s" % (where, getattr(e, "msg", None) or e))
from importlib import metadata
def installed(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""
out["uvicorn"] = installed("uvicorn")
try:
    from packaging.requirements import Requirement, InvalidRequirement
except ImportError:
    try:  # a virtual environment has pip's copy of packaging
        from pip._vendor.packaging.requirements import Requirement, InvalidRequirement
    except ImportError:
        Requirement = None
if os.path.exists("requirements.txt"):
    with open("requirements.txt", encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-") or Requirement is None:
            out["unreadable"].append(line)
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            out["unreadable"].append(line)
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue
        version = installed(req.name)
        met = bool(version) and (not req.specifier or req.specifier.contains(version, prereleases=True))
        out["requirements"].append({"line": line, "name": req.name, "installed": version, "met": met})
print(json.dumps(out))
)PY";
}

bool BuildCheck::ok() const { return Problems().empty(); }

std::vector<std::string> BuildCheck::Problems() const {
  std::vector<std::string> out;
  for (const auto& e : syntax_errors) out.push_back("SyntaxError in " + e);
  if (uvicorn_version.empty())
    out.push_back("uvicorn is not installed in the Python that runs the app");
  for (const auto& r : requirements) {
    if (r.met) continue;
    if (r.installed.empty()) {
      out.push_back(fmt::format("{} is not installed (requirements.txt: {})", r.name, r.line));
    } else {
      out.push_back(fmt::format("{} {} is installed, which does not meet requirements.txt's {}",
                                r.name, r.installed, r.line));
    }
  }
  for (const auto& u : unreadable) {
    out.push_back(fmt::format("requirements.txt: cannot check the line \"{}\"", u));
  }
  return out;
}

std::vector<std::string> BuildCheck::Summary() const {
  std::vector<std::string> out;
  out.push_back(fmt::format("Compiled {} Python file{} with Python {}", python_files,
                            python_files == 1 ? "" : "s", python_version));
  std::string met;
  for (const auto& r : requirements) {
    if (!r.met) continue;
    met += fmt::format("{}{} {} ({})", met.empty() ? "" : ", ", r.name, r.installed, r.line);
  }
  if (!met.empty()) out.push_back("Requirements met: " + met);
  return out;
}

Result<BuildCheck> ParseBuildCheck(std::string_view output) {
  // The JSON is the last line: anything the interpreter printed before it is not ours.
  auto end = output.find_last_not_of("\r\n");
  if (end == std::string_view::npos)
    return Error(ErrorCode::kProtocol, "the build check printed nothing");
  auto start = output.rfind('\n', end);
  std::string_view last =
      output.substr(start == std::string_view::npos ? 0 : start + 1,
                    end - (start == std::string_view::npos ? 0 : start + 1) + 1);
  auto j = nlohmann::json::parse(last, nullptr, false);
  if (!j.is_object() || !j.contains("files")) {
    return Error(ErrorCode::kProtocol, fmt::format("the build check printed no result: {}",
                                                   std::string(last.substr(0, 300))));
  }
  try {
    BuildCheck c;
    c.python_version = j.value("python", "");
    c.uvicorn_version = j.value("uvicorn", "");
    c.python_files = j.value("files", 0);
    c.syntax_errors = j.value("syntax", std::vector<std::string>{});
    c.unreadable = j.value("unreadable", std::vector<std::string>{});
    for (const auto& r : j.value("requirements", nlohmann::json::array())) {
      c.requirements.push_back({r.value("line", ""), r.value("name", ""), r.value("installed", ""),
                                r.value("met", false)});
    }
    return c;
  } catch (const nlohmann::json::exception& e) {
    return Error(ErrorCode::kProtocol,
                 std::string("the build check's result is malformed: ") + e.what());
  }
}

std::string HealthRequest(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
}

std::optional<int> HttpStatusOf(std::string_view response) {
  // "HTTP/1.1 200 OK"
  if (response.substr(0, 5) != "HTTP/") return std::nullopt;
  auto space = response.find(' ');
  if (space == std::string_view::npos || response.size() < space + 4) return std::nullopt;
  int status = 0;
  for (size_t i = space + 1; i < space + 4; ++i) {
    char c = response[i];
    if (c < '0' || c > '9') return std::nullopt;
    status = status * 10 + (c - '0');
  }
  return status;
}

}  // namespace bim::app_runtime
