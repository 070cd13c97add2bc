// The embedded platform's reading of its apps' output (mock-api/log_classifier.h): uvicorn's
// access and level lines, Python tracebacks, and what is none of these.
#include "mock-api/log_classifier.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace bim::mock {
namespace {

using contract::LogLevel;

struct Classified {
  LogLevel level;
  std::string source;
};

// Classifies lines in order, as the platform reads one app's output.
std::vector<Classified> ClassifyAll(const std::vector<std::string>& lines) {
  std::vector<Classified> out;
  bool in_traceback = false;
  for (const auto& line : lines) {
    LineClass c = ClassifyLine(line, in_traceback);
    in_traceback = c.in_traceback;
    out.push_back({c.level, std::string(c.source)});
  }
  return out;
}

}  // namespace

TEST_CASE("uvicorn's access lines are source access, their level from the status") {
  struct Case {
    const char* line;
    LogLevel level;
  };
  const Case cases[] = {
      // Over a Unix socket the client part is empty.
      {R"(INFO:      - "GET /health HTTP/1.1" 200 OK)", LogLevel::kInfo},
      {R"(INFO:     127.0.0.1:51234 - "POST /users/ HTTP/1.1" 201 Created)", LogLevel::kInfo},
      {R"(INFO:     [::1]:80 - "GET /x?q=a%20b HTTP/1.1" 301 Moved Permanently)", LogLevel::kInfo},
      {R"(INFO:      - "GET /missing HTTP/1.1" 404 Not Found)", LogLevel::kWarning},
      {R"(INFO:      - "PUT /users/1 HTTP/1.1" 422 Unprocessable Entity)", LogLevel::kWarning},
      {R"(INFO:      - "GET /boom HTTP/1.1" 500 Internal Server Error)", LogLevel::kError},
      {R"(INFO:      - "GET / HTTP/1.0" 503)", LogLevel::kError},
  };
  for (const auto& c : cases) {
    INFO(c.line);
    LineClass got = ClassifyLine(c.line, false);
    CHECK(got.source == "access");
    CHECK(got.level == c.level);
    CHECK_FALSE(got.in_traceback);
  }
}

TEST_CASE("lines that only look like access lines are the app's") {
  for (const char* line : {
           R"(INFO:     Started server process [1])",
           R"(INFO:     "GET / HTTP/1.1" 200 OK)",        // no "- " before the request
           R"(INFO:      - "get / HTTP/1.1" 200 OK)",     // not a method
           R"(INFO:      - "GET / HTTP/1.1" 20 OK)",      // not a status
           R"(INFO:      - "GET / HTTP/1.1" 2000)",       // nor this
           R"(INFO:      - "GET /" 200 OK)",              // no version
           R"(INFO:     a b - "GET / HTTP/1.1" 200 OK)",  // a client with a space
           R"(user said - "GET / HTTP/1.1" 200 OK)",      // no uvicorn prefix
       }) {
    INFO(line);
    CHECK(ClassifyLine(line, false).source == "app");
  }
  CHECK_FALSE(AccessStatus(""));
  CHECK(AccessStatus(R"(- "GET / HTTP/1.1" 204 No Content)") == 204);
}

TEST_CASE("uvicorn's prefixes give the level, and other lines are info") {
  struct Case {
    const char* line;
    LogLevel level;
  };
  const Case cases[] = {
      {"DEBUG:    a debug line", LogLevel::kDebug},
      {"INFO:     Application startup complete.", LogLevel::kInfo},
      {"WARNING:  StatReload detected file change", LogLevel::kWarning},
      {"ERROR:    Exception in ASGI application", LogLevel::kError},
      {"CRITICAL: it is all on fire", LogLevel::kError},
      {"ERROR:", LogLevel::kError},
      {"print('hello')", LogLevel::kInfo},
      {"ERRORS: 3 (not a prefix)", LogLevel::kInfo},
      {"INFO:not uvicorn's", LogLevel::kInfo},
      {"", LogLevel::kInfo},
      {"  an indented line", LogLevel::kInfo},
  };
  for (const auto& c : cases) {
    INFO(c.line);
    LineClass got = ClassifyLine(c.line, false);
    CHECK(got.source == "app");
    CHECK(got.level == c.level);
    CHECK_FALSE(got.in_traceback);
  }
}

TEST_CASE("a Python traceback is error from its first line through its exception") {
  auto got = ClassifyAll({
      "INFO:     Started server process [7]",
      "Traceback (most recent call last):",
      "  File \"/srv/main.py\", line 2, in <module>",
      "    raise RuntimeError('boom')",
      "    ^^^^^^^^^^^^^^^^^^^^^^^^^^",
      "RuntimeError: boom",
      "the next line",
  });
  REQUIRE(got.size() == 7);
  CHECK(got[0].level == LogLevel::kInfo);
  for (size_t i = 1; i <= 5; ++i) {
    INFO("line " << i);
    CHECK(got[i].level == LogLevel::kError);
    CHECK(got[i].source == "app");
  }
  CHECK(got[6].level == LogLevel::kInfo);
}

TEST_CASE("chained tracebacks are error, and so are the lines between them") {
  auto got = ClassifyAll({
      "Traceback (most recent call last):",
      "  File \"a.py\", line 1, in <module>",
      "KeyError: 'x'",
      "",
      "During handling of the above exception, another exception occurred:",
      "",
      "Traceback (most recent call last):",
      "  File \"a.py\", line 3, in <module>",
      "ValueError: y",
      "INFO:      - \"GET / HTTP/1.1\" 200 OK",
  });
  REQUIRE(got.size() == 10);
  for (size_t i : {0, 1, 2, 4, 6, 7, 8}) {
    INFO("line " << i);
    CHECK(got[i].level == LogLevel::kError);
  }
  CHECK(got[3].level == LogLevel::kInfo);  // the blank lines around the chaining line
  CHECK(got[5].level == LogLevel::kInfo);
  CHECK(got[9].source == "access");
  CHECK(got[9].level == LogLevel::kInfo);
}

TEST_CASE("a traceback uvicorn logs after its ERROR line ends with its exception") {
  auto got = ClassifyAll({
      "ERROR:    Exception in ASGI application",
      "Traceback (most recent call last):",
      "  File \"/usr/lib/python3/dist-packages/uvicorn/protocols/http/h11_impl.py\", line 373",
      "    result = await app(self.scope, self.receive, self.send)",
      "ZeroDivisionError: division by zero",
      "INFO:      - \"GET /boom HTTP/1.1\" 500 Internal Server Error",
  });
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("line " << i);
    CHECK(got[i].level == LogLevel::kError);
  }
  CHECK(got[5].source == "access");
}

}  // namespace bim::mock
