// How a project is run (common/app_runtime.h): the build check's result as read and told.
#include "common/app_runtime.h"

#include <doctest/doctest.h>

namespace bim::app_runtime {

TEST_CASE("the build check's JSON is read from its last line, and its problems told one a line") {
  auto c = ParseBuildCheck(
      "a warning the interpreter printed first\n"
      R"({"python": "3.11.2", "uvicorn": "0.17.6", "files": 3, "syntax": ["app/x.py:2: invalid syntax"],)"
      R"( "requirements": [{"line": "fastapi>=0.92,<1", "name": "fastapi", "installed": "0.92.0", "met": true},)"
      R"( {"line": "pydantic>=2", "name": "pydantic", "installed": "1.10.4", "met": false},)"
      R"( {"line": "nope", "name": "nope", "installed": "", "met": false}], "unreadable": ["-r other.txt"]})"
      "\n");
  REQUIRE(c.ok());
  CHECK_FALSE(c->ok());
  CHECK(c->Problems() ==
        std::vector<std::string>{
            "SyntaxError in app/x.py:2: invalid syntax",
            "pydantic 1.10.4 is installed, which does not meet requirements.txt's pydantic>=2",
            "nope is not installed (requirements.txt: nope)",
            "requirements.txt: cannot check the line \"-r other.txt\""});
  CHECK(c->Summary() ==
        std::vector<std::string>{"Compiled 3 Python files with Python 3.11.2",
                                 "Requirements met: fastapi 0.92.0 (fastapi>=0.92,<1)"});
}

TEST_CASE(
    "a runtime without uvicorn fails the check, and output that is not the check's is an error") {
  auto c = ParseBuildCheck(R"({"python": "3.11.2", "uvicorn": "", "files": 1})");
  REQUIRE(c.ok());
  CHECK(c->Problems() ==
        std::vector<std::string>{"uvicorn is not installed in the Python that runs the app"});
  CHECK_FALSE(ParseBuildCheck("").ok());
  CHECK_FALSE(ParseBuildCheck("Traceback (most recent call last):\n  SyntaxError\n").ok());
  CHECK_FALSE(ParseBuildCheck(R"({"files": "many"})").ok());
}

TEST_CASE("uvicorn's command line, and the status of an HTTP answer") {
  CHECK(UvicornArgv("/usr/bin/python3", {"/run/a.sock", 0}, false) ==
        std::vector<std::string>{"/usr/bin/python3", "-m", "uvicorn", "main:app", "--uds",
                                 "/run/a.sock"});
  CHECK(UvicornArgv("py", {"", 8000}, true) ==
        std::vector<std::string>{"py", "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port",
                                 "8000", "--reload", "--reload-dir", "."});
  CHECK(HttpStatusOf("HTTP/1.1 204 No Content\r\n") == 204);
  CHECK(HttpStatusOf("HTTP/1.1 2") == std::nullopt);
  CHECK(HttpStatusOf("SSH-2.0") == std::nullopt);
  CHECK(HttpStatusOf("HTTP/1.1 20x OK") == std::nullopt);
}

}  // namespace bim::app_runtime
