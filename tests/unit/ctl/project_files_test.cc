// Real files in a temporary folder: the filesystem is the thing under test here.
#include "ctl/project_files.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/harness.h"

using namespace bim;
using bim::test::ReadFile;
using bim::test::TempDir;
using bim::test::WriteFile;

namespace {
int CountEntries(const std::string& dir) {
  auto r = test::Run({"/bin/sh", "-c", "find '" + dir + "' -mindepth 1 | wc -l"});
  return std::atoi(r.out.c_str());
}
}  // namespace

TEST_CASE("a response with one traversal name writes nothing anywhere") {
  TempDir t;
  std::string target = t / "proj";
  contract::FileMap files{{"main.py", "print(1)\n"}, {"../escape.py", "x"}};
  auto r = ctl::WriteProjectFiles(target, files, false);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("../escape.py") != std::string::npos);
  CHECK(CountEntries(t.path()) == 0);
}

TEST_CASE("a symlink inside the target that leads outside is refused") {
  TempDir t;
  std::string target = t / "proj";
  ::mkdir(target.c_str(), 0755);
  ::mkdir((t / "outside").c_str(), 0755);
  REQUIRE(::symlink((t / "outside").c_str(), (target + "/app").c_str()) == 0);
  auto r = ctl::WriteProjectFiles(target, {{"app/models.py", "x"}}, true);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("symlink") != std::string::npos);
  // The folder's fault, whoever sent the files: a local file problem, and no word of a platform.
  CHECK(r.error().code == bim::ErrorCode::kIo);
  CHECK(r.error().message.find("platform") == std::string::npos);
  CHECK(CountEntries(t / "outside") == 0);
}

TEST_CASE("conflicts: listed and untouched without --force, overwritten with it") {
  TempDir t;
  std::string target = t / "proj";
  WriteFile(target + "/main.py", "edited by me\n");
  WriteFile(target + "/same.txt", "same\n");
  contract::FileMap files{{"main.py", "generated\n"}, {"same.txt", "same\n"}, {"new.py", "n\n"}};
  auto r = ctl::WriteProjectFiles(target, files, false);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kConflict);
  CHECK(r.error().message.find("main.py") != std::string::npos);
  CHECK(r.error().message.find("--force") != std::string::npos);
  CHECK(ReadFile(target + "/main.py") == "edited by me\n");
  CHECK(::access((target + "/new.py").c_str(), F_OK) != 0);

  auto forced = ctl::WriteProjectFiles(target, files, true);
  REQUIRE(forced.ok());
  CHECK(ReadFile(target + "/main.py") == "generated\n");
  CHECK(ReadFile(target + "/new.py") == "n\n");
  CHECK(forced->unchanged == std::vector<std::string>{"same.txt"});
  CHECK(CountEntries(t.path()) == 4);  // proj, and its three files: no staging left behind
}

TEST_CASE(
    "reading a project leaves out VCS, caches, secrets and outside symlinks, in a fixed order") {
  TempDir t;
  std::string p = t / "proj";
  WriteFile(p + "/main.py", "app = 1\n");
  WriteFile(p + "/app/models.py", "m = 1\n");
  WriteFile(p + "/.git/config", "[core]\n");
  WriteFile(p + "/.env", "SECRET=1\n");
  WriteFile(p + "/.env.local", "SECRET=1\n");
  WriteFile(p + "/server.pem", "key\n");
  WriteFile(p + "/tls.key", "key\n");
  WriteFile(p + "/id_rsa", "key\n");
  WriteFile(p + "/__pycache__/x.pyc", "bytecode");
  WriteFile(p + "/app/y.pyc", "bytecode");
  WriteFile(p + "/node_modules/a/index.js", "x");
  WriteFile(p + "/venv/pyvenv.cfg", "home=/usr\n");
  WriteFile(p + "/myenv/pyvenv.cfg", "home=/usr\n");
  WriteFile(t / "secret.txt", "outside\n");
  REQUIRE(::symlink((t / "secret.txt").c_str(), (p + "/leak.txt").c_str()) == 0);
  REQUIRE(::symlink("main.py", (p + "/alias.py").c_str()) == 0);
  auto snap = ctl::ReadProjectFiles(p);
  REQUIRE(snap.ok());
  std::vector<std::string> names;
  for (const auto& [path, content] : snap->files) names.push_back(path);
  CHECK(names == std::vector<std::string>{"alias.py", "app/models.py", "main.py"});
  CHECK(snap->files["alias.py"] == "app = 1\n");
  CHECK(snap->skipped.size() >= 11);
}

TEST_CASE("binary files and limits are clear errors naming the file") {
  TempDir t;
  std::string p = t / "proj";
  WriteFile(p + "/main.py", "x\n");
  WriteFile(p + "/logo.png", std::string("\x89PNG\r\n\x1a\n\0\0", 10));
  auto bin = ctl::ReadProjectFiles(p);
  REQUIRE_FALSE(bin.ok());
  CHECK(bin.error().message.find("logo.png") != std::string::npos);
  ::unlink((p + "/logo.png").c_str());

  WriteFile(p + "/big.txt", std::string(2000, 'a'));
  ctl::ReadLimits small;
  small.max_file_bytes = 1000;
  auto big = ctl::ReadProjectFiles(p, small);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().message.find("big.txt") != std::string::npos);

  ctl::ReadLimits few;
  few.max_files = 1;
  auto many = ctl::ReadProjectFiles(p, few);
  REQUIRE_FALSE(many.ok());
  CHECK(many.error().message.find("more than 1 files") != std::string::npos);

  ctl::ReadLimits total;
  total.max_total_bytes = 1500;
  auto over = ctl::ReadProjectFiles(p, total);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().message.find("in all") != std::string::npos);
}

TEST_CASE("folder names made from prompts are tame") {
  CHECK(ctl::FolderNameForPrompt("REST API for users") == "rest-api-for-users");
  CHECK(ctl::FolderNameForPrompt("../../etc") == "etc");
  CHECK(ctl::FolderNameForPrompt("!!!") == "backend");
}

TEST_CASE("a folder whose name holds a NUL is refused before anything is touched") {
  // The kernel reads a path up to its first NUL: "n2\0x" would be the folder n2.
  TempDir t;
  const std::string dir = t / std::string("n2\0x", 4);
  auto w = ctl::WriteProjectFiles(dir, {{"main.py", "print(1)\n"}}, false);
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().code == ErrorCode::kInvalidArgument);
  CHECK(w.error().message.find("NUL") != std::string::npos);
  auto meta = ctl::SaveProjectMeta(dir, {"proj-1"});
  REQUIRE_FALSE(meta.ok());
  CHECK(meta.error().code == ErrorCode::kInvalidArgument);
  CHECK(CountEntries(t.path()) == 0);

  // Reading: n2 exists and holds a project, and still the name with the NUL is not it.
  ::mkdir((t / "n2").c_str(), 0755);
  WriteFile(t / "n2/main.py", "print(1)\n");
  REQUIRE(ctl::SaveProjectMeta(t / "n2", {"proj-1"}).ok());
  auto r = ctl::ReadProjectFiles(dir);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("NUL") != std::string::npos);
  CHECK_FALSE(ctl::LoadProjectMeta(dir).has_value());
}
