#pragma once
// What the run uploads and asks for: a minimal FastAPI app whose paths also test the commit
// hash's byte-wise order ("README.md" < "app-notes.md" < "app/__init__.py" < "main.py", which a
// case-insensitive or per-segment sort would order differently), and a prompt for generate.
// Both carry the run's label, so each run's commit differs and a person reading the platform
// can tell a conformance run from real work. Pure functions.

#include <string>

#include "common/contract.h"

namespace bim::conformance {

contract::FileMap SampleProject(const std::string& label);
// The same project with one file changed: another request under the same Idempotency-Key.
contract::FileMap ChangedSampleProject(const std::string& label);
std::string SamplePrompt(const std::string& label);

}  // namespace bim::conformance
