// Local files through the real ctl and agent: what generate may write, what deploy uploads.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>

#include "common/commit_hash.h"
#include "tests/integration/agent_fixture.h"
#include "tests/integration/hostile_platform.h"

using namespace bim::test;

namespace {

// Every path below root, for "nothing was written anywhere" checks.
std::string Tree(const std::string& root) {
  return Run({"/bin/sh", "-c",
              "cd '" + root + "' && find . | grep -v '^./state' | grep -v '^./run' | sort"})
      .out;
}

}  // namespace

TEST_CASE("a generate response carrying unsafe names writes nothing anywhere") {
  // One platform, user and agent for every name (starting each anew took a third of a second);
  // the generate answer is the name under test.
  std::mutex body_mu;
  std::string body;
  HostilePlatform platform;
  platform.Set("POST /api/generate", [&](const bim::ws::HttpRequest&) {
    std::lock_guard lock(body_mu);
    return bim::ws::HttpResponse{200, "application/json", {}, body};
  });
  platform.Start();
  AgentFixture f({}, /*start_mock=*/false);
  f.env()["BACKEND_IM_API_URL"] = platform.url();
  f.LoginWithToken("any");
  for (const char* evil : {"../escape.py", "/tmp/abs.py", "a/../../b.py", "app\\\\..\\\\x.py",
                           ".git/hooks/post-checkout", ""}) {
    {
      std::lock_guard lock(body_mu);
      body = std::string(R"({"files":{"main.py":"print(1)\n",")") + evil + R"(":"import os\n"}})";
    }
    std::string before = Tree(f.home().path());
    auto r = f.Ctl({"generate", "REST API", "-o", f.home() / "out/proj"});
    CHECK_MESSAGE(r.exit_code == 5, (std::string(evil) + ": " + r.out + r.err));
    CHECK(r.err.find("nothing was written") != std::string::npos);
    CHECK(Tree(f.home().path()) == before);
  }
}

TEST_CASE(
    "a generate that would overwrite an edited file lists it and changes nothing, unless --force") {
  AgentFixture f;
  f.LoginWithToken();
  std::string dir = f.home() / "api";
  REQUIRE(f.Ctl({"generate", "REST API for books", "-o", dir}).exit_code == 0);
  WriteFile(dir + "/main.py", "# my edits\n");
  std::string before = Tree(dir);
  auto again = f.Ctl({"generate", "REST API for books", "-o", dir});
  CHECK(again.exit_code == 6);
  CHECK(again.err.find("main.py") != std::string::npos);
  CHECK(again.err.find("--force") != std::string::npos);
  CHECK(ReadFile(dir + "/main.py") == "# my edits\n");
  CHECK(Tree(dir) == before);
  auto forced = f.Ctl({"generate", "REST API for books", "-o", dir, "--force"});
  CHECK(forced.exit_code == 0);
  CHECK(ReadFile(dir + "/main.py") != "# my edits\n");
}

TEST_CASE("deploy of a real-looking tree uploads exactly the project files") {
  AgentFixture f;
  f.LoginWithToken();
  std::string p = f.home() / "proj";
  bim::contract::FileMap expected{
      {"main.py", "from fastapi import FastAPI\napp = FastAPI()\n"},
      {"app/models.py", "x = 1\n"},
      {"app/routers/user.py", "y = 2\n"},
      {"requirements.txt", "fastapi\n"},
      {".env.example", "DATABASE_URL=\n"},  // re-included by .backendimignore
  };
  for (const auto& [path, content] : expected) WriteFile(p + "/" + path, content);
  WriteFile(p + "/.backendimignore", "docs/\n*.tmp\n!.env.example\n");
  WriteFile(p + "/.env", "SECRET=hunter2\n");
  WriteFile(p + "/.env.production", "SECRET=hunter2\n");
  WriteFile(p + "/deploy.pem", "-----BEGIN PRIVATE KEY-----\n");
  WriteFile(p + "/id_ed25519", "key\n");
  WriteFile(p + "/.git/config", "[core]\n");
  WriteFile(p + "/.git/hooks/pre-commit", "#!/bin/sh\n");
  WriteFile(p + "/__pycache__/main.cpython-311.pyc", "bytecode");
  WriteFile(p + "/app/helpers.pyc", "bytecode");
  WriteFile(p + "/node_modules/left-pad/index.js", "x");
  WriteFile(p + "/.venv/pyvenv.cfg", "home = /usr\n");
  WriteFile(p + "/venv2/pyvenv.cfg", "home = /usr\n");
  WriteFile(p + "/venv2/lib/site.py", "x");
  WriteFile(p + "/docs/guide.md", "# guide\n");
  WriteFile(p + "/scratch.tmp", "tmp");
  WriteFile(p + "/.idea/workspace.xml", "<x/>");
  WriteFile(f.home() / "outside.txt", "outside secret\n");
  REQUIRE(::symlink((f.home() / "outside.txt").c_str(), (p + "/link-out.txt").c_str()) == 0);
  REQUIRE(::symlink("/etc", (p + "/etc-link").c_str()) == 0);

  std::string log_before = f.mock().Log();
  auto dry = f.Ctl({"deploy", "-d", p, "--dry-run", "--json"});
  REQUIRE_MESSAGE(dry.exit_code == 0, dry.err);
  auto listed = nlohmann::json::parse(dry.out);
  std::set<std::string> paths;
  for (const auto& file : listed["files"]) paths.insert(file["path"].get<std::string>());
  std::set<std::string> want;
  for (const auto& [path, content] : expected) want.insert(path);
  CHECK(paths == want);
  CHECK(f.mock().Log() == log_before);  // --dry-run contacted nobody

  auto d = f.Deploy(p);
  CHECK(d["commitHash"] == bim::CommitHash(expected));
  // The mock's hash is over what it received: equal hashes mean equal bytes.
  auto all = HttpRequest("GET", f.mock().http_url() + "/mock/deployments", "",
                         {"Authorization: Bearer dev-token"});
  REQUIRE(all.status == 200);
  CHECK(nlohmann::json::parse(all.body)[0]["commitHash"] == bim::CommitHash(expected));
}

TEST_CASE("the same tree always gives the same upload and commit hash") {
  AgentFixture f;
  f.LoginWithToken();
  std::string p = f.MakeProject("p");
  auto a = f.Deploy(p);
  auto b = f.Deploy(p);
  CHECK(a["commitHash"] == b["commitHash"]);
  CHECK(a["deploymentId"] != b["deploymentId"]);
}

TEST_CASE("generate -e opens the folder in the named editor, and a missing editor only warns") {
  AgentFixture f;
  f.LoginWithToken();
  std::string editor = f.home() / "fake-editor";
  WriteFile(editor, "#!/bin/sh\necho \"$@\" > '" + (f.home() / "editor-args") + "'\n");
  ::chmod(editor.c_str(), 0755);
  std::string dir = f.home() / "e1";
  auto r = f.Ctl({"generate", "todo API", "-o", dir, "-e", editor});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  for (int i = 0; i < 100 && ReadFile(f.home() / "editor-args").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(ReadFile(f.home() / "editor-args") == dir + "\n");

  f.env()["EDITOR"] = editor;  // -e without a name: $VISUAL, then $EDITOR
  auto o = f.Options();
  o.unset_env.erase(std::find(o.unset_env.begin(), o.unset_env.end(), "EDITOR"));
  ::unlink((f.home() / "editor-args").c_str());
  auto r2 = Run({CtlBinary(), "generate", "todo API", "-o", f.home() / "e2", "-e"}, o);
  REQUIRE_MESSAGE(r2.exit_code == 0, r2.err);
  for (int i = 0; i < 100 && ReadFile(f.home() / "editor-args").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(ReadFile(f.home() / "editor-args") == f.home() / "e2\n");

  auto missing = f.Ctl({"generate", "todo API", "-o", f.home() / "e3", "-e", "no-such-editor-xyz"});
  CHECK(missing.exit_code == 0);
  CHECK(missing.err.find("no-such-editor-xyz") != std::string::npos);
  CHECK(::access((f.home() / "e3/main.py").c_str(), F_OK) == 0);
}

TEST_CASE("a prompt that is not UTF-8 is a usage error, said plainly, and nothing is sent") {
  AgentFixture f;
  f.LoginWithToken();
  auto r = f.Ctl({"generate", "REST API \xff\xfe for users", "-o", f.home() / "out"});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(r.err.find("not valid UTF-8") != std::string::npos, r.err);
  CHECK(r.err.find("libprotobuf") == std::string::npos);
  CHECK(::access((f.home() / "out").c_str(), F_OK) != 0);
}

TEST_CASE("generate will not write into the root, a system folder or the home folder itself") {
  std::atomic<int> generates{0};
  HostilePlatform platform;
  platform.Set("POST /api/generate", [&](const bim::ws::HttpRequest&) {
    ++generates;
    // Were anything written, it would be this harmless file.
    return bim::ws::HttpResponse{
        200, "application/json", {}, R"({"files":{"backend-im-test-refused.txt":"x\n"}})"};
  });
  platform.Start();
  AgentFixture f({}, /*start_mock=*/false);
  f.env()["BACKEND_IM_API_URL"] = platform.url();
  f.LoginWithToken("any");
  std::string unique = "backend-im-test-" + std::to_string(::getpid());
  ::symlink("/etc", (f.home() / "etc-link").c_str());
  for (const std::string& dir :
       {std::string("/"), std::string("/etc"), std::string("/usr/share/") + unique,
        f.home() / "etc-link",
        f.home() / "sub/../../" + f.home().path().substr(f.home().path().rfind('/') + 1),
        f.home().path(), std::string("/var/lib/") + unique + "/deep"}) {
    CAPTURE(dir);
    auto r = f.Ctl({"generate", "REST API", "-o", dir});
    CHECK_MESSAGE(r.exit_code == 2, (r.out + r.err));
    CHECK_MESSAGE(r.err.find("will not write a generated project into") != std::string::npos,
                  r.err);
    CHECK(r.err.find("-o ./my-api") != std::string::npos);
    struct stat st {};
    CHECK(::stat(("/usr/share/" + unique).c_str(), &st) != 0);
    CHECK(::stat(("/var/lib/" + unique).c_str(), &st) != 0);
  }
  CHECK(generates == 0);  // refused before the platform was asked
  ::rmdir(("/usr/share/" + unique).c_str());
  // A folder of its own is fine, even as a new folder beside the system ones' parents.
  auto ok = f.Ctl({"generate", "REST API", "-o", f.home() / "mine"});
  CHECK_MESSAGE(ok.exit_code == 0, (ok.out + ok.err));
  CHECK(generates == 1);
}

TEST_CASE("Ctrl-C while generated files are written waits for them, and leaves no staging") {
  // About 20 MB in 160 files: long enough to be interrupted while they are written.
  std::string body = R"({"projectId":"proj-big","files":{)";
  const std::string content(128 * 1024, 'x');
  for (int i = 0; i < 160; ++i) {
    body += (i ? "," : "") + fmt::format(R"("app/module_{:03}.py":"{}")", i, content);
  }
  body += "}}";
  HostilePlatform platform;
  platform.Set("POST /api/generate", [&](const bim::ws::HttpRequest&) {
    return bim::ws::HttpResponse{200, "application/json", {}, body};
  });
  platform.Start();
  AgentFixture f({}, /*start_mock=*/false);
  f.env()["BACKEND_IM_API_URL"] = platform.url();
  f.LoginWithToken("any");
  std::string parent = f.home() / "work";
  REQUIRE(::mkdir(parent.c_str(), 0755) == 0);
  auto staging_present = [&] {
    for (const auto& e : std::filesystem::directory_iterator(parent)) {
      if (e.path().filename().string().find(".staging-") != std::string::npos) return true;
    }
    return false;
  };
  Process g = f.StartCtl({"generate", "big API", "-o", parent + "/big"});
  // Interrupt as soon as the staging folder appears, that is while files are being written.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool seen = false;
  while (std::chrono::steady_clock::now() < deadline && !(seen = staging_present())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE_MESSAGE(seen, g.Stderr());
  g.Signal(SIGINT);
  auto code = g.Wait(std::chrono::seconds(30));
  REQUIRE(code.has_value());
  CHECK(*code == 130);
  CHECK_FALSE(staging_present());
  // The whole project, its metadata included, or nothing: here the whole project.
  auto app = std::filesystem::directory_iterator(parent + "/big/app");
  CHECK(std::distance(begin(app), end(app)) == 160);
  CHECK(ReadFile(parent + "/big/.backend-im/project.json").find("proj-big") != std::string::npos);
}
