// What `backend-im dev` tells before it starts (ctl/dev_server.h).
#include "ctl/dev_server.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "tests/support/harness.h"

namespace bim::ctl {

TEST_CASE("dev stops on what is not installed, saying how to get it, and warns about the rest") {
  app_runtime::BuildCheck c;
  c.uvicorn_version = "";
  c.requirements = {{"fastapi>=0.92", "fastapi", "", false},
                    {"pydantic>=2", "pydantic", "1.10.4", false},
                    {"Flask_Login", "Flask_Login", "", false}};
  c.syntax_errors = {"main.py:3: invalid syntax"};
  auto v = JudgeDevCheck(c, "/usr/bin/python3", /*venv=*/false);
  CHECK(v.errors == std::vector<std::string>{
                        "uvicorn, fastapi, Flask_Login are not installed for /usr/bin/python3",
                        "Install Debian's packages: sudo apt install python3-uvicorn "
                        "python3-fastapi python3-flask-login",
                        "or the project's own environment: python3 -m venv .venv && "
                        ".venv/bin/pip install -r requirements.txt"});
  CHECK(v.warnings ==
        std::vector<std::string>{
            "pydantic 1.10.4 is installed, which does not meet requirements.txt's pydantic>=2",
            "SyntaxError in main.py:3: invalid syntax"});

  auto in_venv = JudgeDevCheck(c, ".venv/bin/python", /*venv=*/true);
  CHECK(in_venv.errors.at(1) ==
        "Install them into the project's environment: .venv/bin/pip install -r requirements.txt "
        "uvicorn");

  c.uvicorn_version = "0.17.6";
  c.requirements.clear();
  CHECK(JudgeDevCheck(c, "py", false).errors.empty());
}

TEST_CASE("dev's Pythons: the project's .venv first, then python3 on PATH, then the system's") {
  test::TempDir d;
  test::WriteFile(d / "proj/.venv/bin/python", "#!/bin/sh\n");
  test::WriteFile(d / "bin/python3", "#!/bin/sh\n");
  test::WriteFile(d / "nox/python3", "not executable");
  for (auto p : {"proj/.venv/bin/python", "bin/python3"}) ::chmod((d / p).c_str(), 0755);
  auto found =
      DevPythonCandidates(d / "proj", "relative:" + (d / "nox") + ":" + (d / "bin") + ":/usr/bin");
  CHECK(found == std::vector<std::string>{d / "proj/.venv/bin/python", d / "bin/python3",
                                          "/usr/bin/python3"});
  // Each Python once, however it is reached.
  CHECK(DevPythonCandidates(d / "none", "/usr/bin:/bin") ==
        std::vector<std::string>{"/usr/bin/python3"});
  CHECK(DebianPackageFor("SQLAlchemy") == "python3-sqlalchemy");
  CHECK(DebianPackageFor("ruamel.yaml") == "python3-ruamel-yaml");
}

TEST_CASE("dev --env's variables reach the server's environment over ours, the token never") {
  std::string ours[] = {"PATH=/usr/bin", "BACKEND_IM_TOKEN=tok", "API_KEY=local",
                        "PYTHONUNBUFFERED=0"};
  char* environ_like[] = {ours[0].data(), ours[1].data(), ours[2].data(), ours[3].data(), nullptr};
  CHECK(DevEnvironment(environ_like, {}) ==
        std::vector<std::string>{"PATH=/usr/bin", "API_KEY=local", "PYTHONUNBUFFERED=1"});
  CHECK(DevEnvironment(environ_like, {{"API_KEY", "staging's"}, {"DEBUG", "1"}}) ==
        std::vector<std::string>{"PATH=/usr/bin", "API_KEY=staging's", "DEBUG=1",
                                 "PYTHONUNBUFFERED=1"});
}

}  // namespace bim::ctl
