// The embedded platform's app runner (mock-api/app_supervisor.h) with real apps: small ASGI apps
// run by Debian's Python and uvicorn, reached over HTTP through the project's address.
#include "mock-api/app_supervisor.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "tests/integration/loopback.h"
#include "tests/support/harness.h"

namespace bim::mock {
namespace {

using test::HttpRequest;
using namespace std::chrono_literals;

// An ASGI app without a framework (quick to start): answers every path with {"name": NAME},
// except those in MISSING (404) and HANG (never answers).
std::string App(const std::string& name, const std::string& missing = "",
                const std::string& hang = "", const std::string& at_import = "") {
  return "import asyncio, json\n" + at_import +
         "\nasync def app(scope, receive, send):\n"
         "    if scope['type'] != 'http':\n"
         "        return\n"
         "    path = scope['path']\n"
         "    if path in '" +
         hang +
         "'.split():\n"
         "        await asyncio.sleep(3600)\n"
         "    status = 404 if path in '" +
         missing +
         "'.split() else 200\n"
         "    await send({'type': 'http.response.start', 'status': status,\n"
         "                'headers': [(b'content-type', b'application/json')]})\n"
         "    await send({'type': 'http.response.body', 'body': json.dumps({'name': '" +
         name + "'}).encode()})\n";
}

AppStep Await(const std::function<void(AppSupervisor::Done)>& step) {
  auto done = std::make_shared<std::promise<AppStep>>();
  auto answer = done->get_future();
  step([done](AppStep s) { done->set_value(std::move(s)); });
  REQUIRE(answer.wait_for(60s) == std::future_status::ready);
  return answer.get();
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Keep, Build, Start and CheckHealth, as the platform calls them; stops at the first failure.
// Returns the last step, with every step's logs.
AppStep Deploy(AppSupervisor& apps, const std::string& id, const std::string& project,
               const contract::FileMap& files) {
  std::vector<std::string> logs;
  AppStep last;
  const std::vector<std::function<void(AppSupervisor::Done)>> steps = {
      [&](auto d) { apps.Keep(id, project, "production", {}, files, d); },
      [&](auto d) { apps.Build(id, d); },
      [&](auto d) { apps.Start(id, d); },
      [&](auto d) { apps.CheckHealth(id, d); },
  };
  for (const auto& step : steps) {
    last = Await(step);
    logs.insert(logs.end(), last.logs.begin(), last.logs.end());
    if (!last.ok) break;
  }
  last.logs = logs;
  return last;
}

AppSupervisorOptions Options(const test::TempDir& dir) {
  AppSupervisorOptions o;
  o.root = dir / "apps";
  o.health_timeout = 10s;
  o.stop_grace = 1s;  // the app that hangs does not stop on SIGTERM
  return o;
}

std::string NameAt(const std::string& url) {
  auto r = HttpRequest("GET", url + "/", "", {}, 10s);
  if (r.status != 200) return "status " + std::to_string(r.status) + ": " + r.body;
  return nlohmann::json::parse(r.body).value("name", "");
}

int PidOf(AppSupervisor& apps, const std::string& id) {
  for (const auto& a : apps.Apps()) {
    if (a.deployment_id == id) return a.pid;
  }
  return 0;
}

}  // namespace

TEST_CASE(
    "the build checks that the Python compiles and requirements.txt is met, running nothing") {
  test::TempDir dir;
  AppSupervisor apps(Options(dir));
  auto bad = Deploy(apps, "d1", "p",
                    {{"main.py", App("A", "", "", "open('ran-at-import', 'w').close()")},
                     {"app/broken.py", "x = 1\ndef f(:\n"},
                     {"requirements.txt",
                      "# a comment\nuvicorn>=0.1\nno-such-dist-bim>=1\nuvicorn>=999 ; "
                      "python_version >= '3'\n"}});
  std::string logs = Joined(bad.logs);
  INFO(logs);
  CHECK_FALSE(bad.ok);
  CHECK(logs.find("Build failed:") != std::string::npos);
  CHECK(logs.find("SyntaxError in app/broken.py:2") != std::string::npos);
  CHECK(logs.find("no-such-dist-bim is not installed (requirements.txt: no-such-dist-bim>=1)") !=
        std::string::npos);
  CHECK(logs.find("which does not meet requirements.txt's uvicorn>=999") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "apps/1/src/ran-at-import"));

  auto good = Deploy(apps, "d2", "p", {{"main.py", App("A")}, {"requirements.txt", "uvicorn\n"}});
  INFO(Joined(good.logs));
  CHECK(good.ok);
  CHECK(Joined(good.logs).find("Compiled 1 Python file with Python 3") != std::string::npos);
}

TEST_CASE(
    "a project's address serves its newest healthy deployment, and a broken one changes nothing") {
  test::TempDir dir;
  AppSupervisor apps(Options(dir));
  REQUIRE(Deploy(apps, "a", "shop", {{"main.py", App("A")}}).ok);
  auto served = Await([&](auto d) { apps.Serve("a", d); });
  REQUIRE(served.ok);
  const std::string url = served.url;
  CHECK(url.rfind("http://127.0.0.1:", 0) == 0);
  CHECK(NameAt(url) == "A");

  // Raises at import: the health check fails with its traceback; A goes on serving.
  auto broken = Deploy(apps, "b", "shop",
                       {{"main.py", App("B", "", "", "raise RuntimeError('boom-B at import')")}});
  std::string logs = Joined(broken.logs);
  INFO(logs);
  CHECK_FALSE(broken.ok);
  CHECK(logs.find("Health check failed: the app exited with status 1 before answering") !=
        std::string::npos);
  CHECK(logs.find("Traceback (most recent call last)") != std::string::npos);
  CHECK(logs.find("main.py\", line 2, in <module>") != std::string::npos);
  CHECK(logs.find("RuntimeError: boom-B at import") != std::string::npos);
  apps.Discard("b", "it failed");
  CHECK(NameAt(url) == "A");

  // A healthy one takes over the same address; A is stopped and its folder removed.
  const int a_pid = PidOf(apps, "a");
  REQUIRE(a_pid > 0);
  REQUIRE(Deploy(apps, "c", "shop", {{"main.py", App("C")}}).ok);
  auto replaced = Await([&](auto d) { apps.Serve("c", d); });
  CHECK(replaced.url == url);
  CHECK(Joined(replaced.logs).find("Stopped deployment a, which served before") !=
        std::string::npos);
  CHECK(NameAt(url) == "C");
  CHECK(test::WaitUntil([&] { return !test::Alive(a_pid); }, 10s));
  CHECK(test::WaitUntil([&] { return !std::filesystem::exists(dir / "apps/1"); }, 10s));

  // Another project gets an address of its own.
  REQUIRE(Deploy(apps, "d", "blog", {{"main.py", App("D")}}).ok);
  auto other = Await([&](auto d) { apps.Serve("d", d); });
  CHECK(other.url != url);
  CHECK(NameAt(other.url) == "D");
  CHECK(NameAt(url) == "C");
}

TEST_CASE("a deployment kept from another runs that one's files as uploaded, also once replaced") {
  test::TempDir dir;
  AppSupervisor apps(Options(dir));
  // A writes into its folder; B then replaces it: A is stopped and its folder removed.
  REQUIRE(Deploy(apps, "a", "shop", {{"main.py", App("A", "", "", "open('written', 'w').close()")}})
              .ok);
  REQUIRE(Await([&](auto d) { apps.Serve("a", d); }).ok);
  REQUIRE(std::filesystem::exists(dir / "apps/1/src/written"));
  REQUIRE(Deploy(apps, "b", "shop", {{"main.py", App("B")}}).ok);
  auto production = Await([&](auto d) { apps.Serve("b", d); });
  REQUIRE(production.ok);
  CHECK(test::WaitUntil([&] { return !std::filesystem::exists(dir / "apps/1"); }, 10s));

  // A's files, not what A wrote, start a deployment of its own in staging; nothing is built.
  auto kept = Await([&](auto d) { apps.KeepFrom("p", "a", "shop", "staging", {}, d); });
  INFO(Joined(kept.logs));
  REQUIRE(kept.ok);
  CHECK(Joined(kept.logs).find("Kept 1 file (") != std::string::npos);
  CHECK(Joined(kept.logs).find("of deployment a in " + (dir / "apps/3/src")) != std::string::npos);
  CHECK(std::filesystem::exists(dir / "apps/3/src/main.py"));
  CHECK_FALSE(std::filesystem::exists(dir / "apps/3/src/written"));
  REQUIRE(Await([&](auto d) { apps.Start("p", d); }).ok);
  REQUIRE(Await([&](auto d) { apps.CheckHealth("p", d); }).ok);
  auto staging = Await([&](auto d) { apps.Serve("p", d); });
  REQUIRE(staging.ok);
  CHECK(staging.url != production.url);
  CHECK(NameAt(staging.url) == "A");
  CHECK(NameAt(production.url) == "B");

  // A deployment that never served leaves no files behind: there is nothing to keep from it.
  REQUIRE_FALSE(Deploy(apps, "x", "shop", {{"main.py", "raise RuntimeError('x')\n"}}).ok);
  apps.Discard("x", "it failed");
  CHECK(test::WaitUntil([&] { return !std::filesystem::exists(dir / "apps/4.tree"); }, 10s));
  auto none = Await([&](auto d) { apps.KeepFrom("q", "x", "shop", "staging", {}, d); });
  CHECK_FALSE(none.ok);
  CHECK(Joined(none.logs) == "The platform no longer has the files of deployment x\n");
}

TEST_CASE("the health check asks / when /health is missing, and gives up on an app that hangs") {
  test::TempDir dir;
  auto options = Options(dir);
  options.health_timeout = 1s;
  AppSupervisor apps(options);
  auto root_only = Deploy(apps, "r", "p", {{"main.py", App("R", "/health")}});
  INFO(Joined(root_only.logs));
  CHECK(root_only.ok);
  CHECK(root_only.logs.back() == "GET / answered 200");

  auto hangs = Deploy(apps, "h", "p", {{"main.py", App("H", "", "/health /")}});
  INFO(Joined(hangs.logs));
  CHECK_FALSE(hangs.ok);
  CHECK(Joined(hangs.logs).find("Health check failed: the app did not answer within 1 s") !=
        std::string::npos);
  CHECK(Joined(hangs.logs).find("Uvicorn running on unix socket") != std::string::npos);

  auto answers_500 = Deploy(apps, "e", "p",
                            {{"main.py",
                              "async def app(scope, receive, send):\n"
                              "    raise ValueError('no')\n"}});
  CHECK_FALSE(answers_500.ok);
  CHECK(Joined(answers_500.logs).find("GET /health answered 500") != std::string::npos);
}

TEST_CASE("an app is contained: its own PID and network namespaces, limits, its environment") {
  // A TCP port on this machine's loopback that the app tries to reach.
  int port_number = 0;
  int listener = test::ListenOnLoopback(&port_number);
  const std::string port = std::to_string(port_number);

  test::TempDir dir;
  auto options = Options(dir);
  options.limits = {1024ull << 20, 100, 8ull << 20, 256};
  AppSupervisor apps(options);
  std::string probe =
      "import json, os, resource, socket\n"
      "async def app(scope, receive, send):\n"
      "    if scope['type'] != 'http':\n"
      "        return\n"
      "    try:\n"
      "        socket.create_connection(('127.0.0.1', " +
      port +
      "), timeout=2).close()\n"
      "        net = 'reached'\n"
      "    except OSError as e:\n"
      "        net = 'unreachable'\n"
      "    info = {'pid': os.getpid(), 'net': net, 'cwd': os.getcwd(), 'env': dict(os.environ),\n"
      "            'as': resource.getrlimit(resource.RLIMIT_AS)[0],\n"
      "            'fsize': resource.getrlimit(resource.RLIMIT_FSIZE)[0],\n"
      "            'cpu': resource.getrlimit(resource.RLIMIT_CPU)[0],\n"
      "            'nofile': resource.getrlimit(resource.RLIMIT_NOFILE)[0]}\n"
      "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
      "    await send({'type': 'http.response.body', 'body': json.dumps(info).encode()})\n";
  REQUIRE(Deploy(apps, "x", "p", {{"main.py", probe}}).ok);
  auto url = Await([&](auto d) { apps.Serve("x", d); }).url;
  auto r = HttpRequest("GET", url + "/", "", {}, 10s);
  REQUIRE(r.status == 200);
  auto info = nlohmann::json::parse(r.body);
  INFO(r.body);
  CHECK(info["net"] == "unreachable");
  CHECK(info["pid"] == 1);  // uvicorn is PID 1 of its namespace
  CHECK(info["as"] == 1024ll << 20);
  CHECK(info["fsize"] == 8ll << 20);
  CHECK(info["cpu"] == 100);
  CHECK(info["nofile"] == 256);
  CHECK(info["cwd"] == dir / "apps/1/src");
  CHECK(info["env"]["HOME"] == dir / "apps/1");
  CHECK_FALSE(info["env"].contains("XDG_RUNTIME_DIR"));
  CHECK_FALSE(info["env"].contains("BACKEND_IM_TOKEN"));
  ::close(listener);
}

TEST_CASE("the supervisor's end stops every app and all it started, and removes the folders") {
  std::random_device rd;
  const std::string secs = std::to_string(800000 + rd() % 90000);
  test::TempDir dir;
  std::vector<int> pids;
  {
    AppSupervisor apps(Options(dir));
    // The app leaves a child that ignores SIGTERM and sits in a session of its own.
    std::string spawner =
        App("S", "", "",
            "import subprocess\nsubprocess.Popen(['setsid', 'sh', '-c', \"trap '' TERM; exec "
            "sleep " +
                secs + "\"])");
    REQUIRE(Deploy(apps, "s1", "p", {{"main.py", spawner}}).ok);
    REQUIRE(Deploy(apps, "s2", "q", {{"main.py", App("T")}}).ok);
    pids = {PidOf(apps, "s1"), PidOf(apps, "s2")};
    CHECK(test::WaitUntil(
        [&] {
          return test::Run({"pgrep", "-fx", "sleep " + secs}).exit_code == 0;
        },
        5s));
  }
  for (int pid : pids) {
    CHECK(pid > 0);
    CHECK_FALSE(test::Alive(pid));
  }
  CHECK(test::WaitUntil(
      [&] {
        return test::Run({"pgrep", "-fx", "sleep " + secs}).exit_code == 1;
      },
      5s));
  CHECK_FALSE(std::filesystem::exists(dir / "apps/1"));
  CHECK_FALSE(std::filesystem::exists(dir / "apps/2"));
}

}  // namespace bim::mock
