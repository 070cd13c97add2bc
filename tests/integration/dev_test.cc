// backend-im dev as a person runs it: the real ctl on a generated project, with Debian's Python
// and uvicorn; edits while it runs; Ctrl-C.
#include <dirent.h>
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "mock-api/fastapi_generator.h"
#include "tests/integration/loopback.h"
#include "tests/support/harness.h"

namespace bim::test {
namespace {

using namespace std::chrono_literals;

// A free TCP port on loopback, and the socket that holds it (closed by the caller to free it).
std::pair<int, int> HoldPort() {
  int port = 0;
  int fd = ListenOnLoopback(&port);
  return {fd, port};
}

// The processes whose working folder is dir (all that `dev` started there).
int ProcessesIn(const std::string& dir) {
  int n = 0;
  DIR* proc = ::opendir("/proc");
  while (dirent* e = proc ? ::readdir(proc) : nullptr) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char buf[4096];
    std::string link = std::string("/proc/") + e->d_name + "/cwd";
    ssize_t len = ::readlink(link.c_str(), buf, sizeof buf);
    if (len > 0 && std::string(buf, static_cast<size_t>(len)) == dir) ++n;
  }
  if (proc) ::closedir(proc);
  return n;
}

std::string WriteProject(const TempDir& home, const std::string& name) {
  const std::string dir = home / name;
  for (const auto& [path, content] : mock::FastApiGenerator::Generate("REST API for users")) {
    WriteFile(dir + "/" + path, content);
  }
  return dir;
}

ProcessOptions DevEnv(const TempDir& home) {
  ProcessOptions o;
  o.env = {{"HOME", home.path()}, {"PATH", "/usr/bin:/bin"}, {"NO_COLOR", "1"}};
  return o;
}

}  // namespace

TEST_CASE("dev serves the project, reloads it after an edit, and leaves nothing after Ctrl-C") {
  TempDir home;
  const std::string dir = WriteProject(home, "shop");
  // The project's own environment wins over the system's Python.
  WriteFile(dir + "/.venv/bin/python", "#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n");
  ::chmod((dir + "/.venv/bin/python").c_str(), 0755);
  auto [holder, port] = HoldPort();
  ::close(holder);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);

  Process dev({CtlBinary(), "dev", "-d", dir, "--port", std::to_string(port)}, DevEnv(home));
  REQUIRE_MESSAGE(dev.WaitForOutput("✓ Serving " + url + " (GET /health answered 200)", 30s),
                  (dev.Stdout() + dev.Stderr()));
  CHECK(dev.Stdout().find("with " + dir + "/.venv/bin/python (uvicorn ") != std::string::npos);
  auto created = HttpRequest("POST", url + "/users/", R"({"name": "Ada", "email": "a@b.c"})",
                             {"Content-Type: application/json"});
  CHECK(created.status == 201);
  CHECK(HttpRequest("GET", url + "/added").status == 404);

  // An edit: the new route answers within 3 s.
  WriteFile(dir + "/main.py",
            ReadFile(dir + "/main.py") +
                "\n\n@app.get('/added')\ndef added():\n    return {'added': True}\n");
  auto edited = std::chrono::steady_clock::now();
  CHECK(WaitUntil([&] { return HttpRequest("GET", url + "/added", "", {}, 1s).status == 200; }, 3s,
                  50ms));
  MESSAGE("reloaded in " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - edited)
                                .count()
                         << " ms");
  CHECK(dev.Stderr().find("Reloading") != std::string::npos);
  CHECK(ProcessesIn(dir) >= 2);  // the reloader and its server

  dev.Signal(SIGINT);
  CHECK(dev.Wait(10s) == std::optional<int>(0));
  CHECK(dev.Stderr().find("Stopped.") != std::string::npos);
  CHECK(ProcessesIn(dir) == 0);
  CHECK(HttpRequest("GET", url + "/health", "", {}, 2s).status == 0);
}

TEST_CASE("dev says what is missing and how to get it, before starting anything") {
  TempDir home;
  const std::string dir = WriteProject(home, "api");
  WriteFile(dir + "/requirements.txt", "fastapi>=0.1\nno-such-dist-bim>=1\n");
  auto r = Run({CtlBinary(), "dev", "-d", dir}, DevEnv(home));
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("no-such-dist-bim is not installed for /usr/bin/python3") != std::string::npos);
  CHECK(r.err.find("sudo apt install python3-no-such-dist-bim") != std::string::npos);
  CHECK(r.err.find("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt") !=
        std::string::npos);

  // A version that does not meet requirements.txt is only a warning; a port in use stops it.
  WriteFile(dir + "/requirements.txt", "fastapi>=999\n");
  auto [holder, port] = HoldPort();
  auto busy = Run({CtlBinary(), "dev", "-d", dir, "--port", std::to_string(port)}, DevEnv(home));
  ::close(holder);
  INFO(busy.err);
  CHECK(busy.exit_code == 1);
  CHECK(busy.err.find("which does not meet requirements.txt's fastapi>=999") != std::string::npos);
  CHECK(busy.err.find("port " + std::to_string(port) + " on 127.0.0.1 is in use") !=
        std::string::npos);

  auto no_main = Run({CtlBinary(), "dev", "-d", home.path()}, DevEnv(home));
  CHECK(no_main.exit_code == 2);
  CHECK(no_main.err.find("has no main.py") != std::string::npos);
}

}  // namespace bim::test
