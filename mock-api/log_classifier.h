#pragma once
// How the embedded platform reads a line its app printed (docs/API_CONTRACTS.md §6.2): its
// source ("access" for uvicorn's access log, else "app") and its level. Pure functions of the
// text and of whether a Python traceback is open, so the rules are tested line by line:
//   - an access line, `INFO:     CLIENT - "GET /x HTTP/1.1" 200 OK` (CLIENT is empty over a
//     Unix socket), is "access": error for a 5xx status, warning for a 4xx one, else info;
//   - uvicorn's prefixes DEBUG:, INFO:, WARNING:, ERROR:, CRITICAL: give the level;
//   - a Python traceback, from "Traceback (most recent call last):" through its exception line
//     (the first line after it that is not indented), is error; so are the lines that chain
//     two tracebacks ("During handling of the above exception, ...");
//   - anything else is info.

#include <optional>
#include <string_view>

#include "common/contract.h"

namespace bim::mock {

struct LineClass {
  contract::LogLevel level = contract::LogLevel::kInfo;
  std::string_view source = "app";  // "app" or "access"
  bool in_traceback = false;        // a traceback is open after this line
};

// Classifies one line (without its newline); in_traceback: a traceback was open before it.
LineClass ClassifyLine(std::string_view text, bool in_traceback);

// The HTTP status of a uvicorn access line's message (what follows the level prefix), or
// nullopt when it is not one.
std::optional<int> AccessStatus(std::string_view message);

}  // namespace bim::mock
