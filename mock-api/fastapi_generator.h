#pragma once
// What the mock answers on POST /api/generate, standing in for the platform's LLM: a small
// FastAPI + SQLAlchemy project whose resources come from the words of the prompt.
//
// Deterministic: the same prompt always gives the same files, byte for byte, so tests and
// the agent's caches can rely on it. Every generated .py file compiles with Python 3.
// Stateless; safe from any thread.

#include <string>
#include <vector>

#include "common/contract.h"

namespace bim::mock {

class FastApiGenerator {
 public:
  // Resource names (singular Python identifiers, e.g. "user", "order") for a prompt: its
  // words minus stop words, singularized; "item" when nothing is left. At most five.
  static std::vector<std::string> ResourceNames(const std::string& prompt);

  // main.py, app/__init__.py, app/database.py, app/models.py, app/schemas.py,
  // app/compat.py, app/routers/__init__.py, app/routers/<resource>.py, requirements.txt,
  // schema.sql, README.md.
  static contract::FileMap Generate(const std::string& prompt);

  // "proj-" and the first 8 hex digits of SHA-256 of the prompt.
  static std::string ProjectId(const std::string& prompt);
};

}  // namespace bim::mock
