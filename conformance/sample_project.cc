#include "conformance/sample_project.h"

namespace bim::conformance {

contract::FileMap SampleProject(const std::string& label) {
  return {
      {"README.md", "# " + label +
                        "\n\nCreated by backend-im-contract-test, a conformance run "
                        "of the Backend.im API contract. Safe to delete.\n"},
      {"app-notes.md", "The app has one endpoint, GET /health.\n"},
      {"app/__init__.py", "# conformance run " + label + "\n"},
      {"main.py", "from fastapi import FastAPI\n\napp = FastAPI(title=\"" + label +
                      "\")\n\n\n@app.get(\"/health\")\ndef health():\n    return {\"ok\": True}\n"},
      {"requirements.txt", "fastapi==0.104.1\nuvicorn==0.24.0\n"},
  };
}

contract::FileMap ChangedSampleProject(const std::string& label) {
  auto files = SampleProject(label);
  files["app-notes.md"] += "A second request under the same Idempotency-Key.\n";
  return files;
}

std::string SamplePrompt(const std::string& label) {
  return "A small REST API for notes with title and body (" + label +
         ", a conformance run of backend-im-contract-test)";
}

}  // namespace bim::conformance
