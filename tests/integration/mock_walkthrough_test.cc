// docs/API_CONTRACTS.md's walkthrough, run as written: the server block's flags start the
// mock, and the client blocks run in bash against it (with its real port for 8080).

#include <doctest/doctest.h>

#include <regex>
#include <sstream>

#include "tests/integration/mock_test_util.h"

namespace bim::test {
namespace {

// The bodies of every fenced block whose info string is exactly "sh <tag>".
std::vector<std::string> Blocks(const std::string& doc, const std::string& tag) {
  std::vector<std::string> out;
  const std::string open = "```sh " + tag + "\n";
  size_t pos = 0;
  while ((pos = doc.find(open, pos)) != std::string::npos) {
    size_t start = pos + open.size();
    size_t end = doc.find("\n```", start);
    REQUIRE(end != std::string::npos);
    out.push_back(doc.substr(start, end - start + 1));
    pos = end;
  }
  return out;
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

TEST_CASE("the walkthrough in docs/API_CONTRACTS.md works as written") {
  std::string doc = ReadFile(std::string(BIM_SOURCE_DIR) + "/docs/API_CONTRACTS.md");
  REQUIRE_FALSE(doc.empty());
  auto server = Blocks(doc, "walkthrough-server");
  REQUIRE(server.size() == 1);
  std::istringstream words(server[0]);
  std::vector<std::string> argv{std::istream_iterator<std::string>(words), {}};
  REQUIRE(argv.size() >= 3);
  REQUIRE(argv[0] == "backend-im-mock");
  // The harness picks the port; every other flag is the document's.
  std::vector<std::string> flags;
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == "--port") {
      REQUIRE(argv.at(i + 1) == "8080");
      ++i;
      continue;
    }
    flags.push_back(argv[i]);
  }
  MockPlatform mock(flags);

  auto client = Blocks(doc, "walkthrough");
  REQUIRE_FALSE(client.empty());
  std::string script = "set -euo pipefail\n";
  for (const auto& b : client) script += b;
  script = ReplaceAll(script, "127.0.0.1:8080", "127.0.0.1:" + std::to_string(mock.port()));
  REQUIRE(script.find("8080") == std::string::npos);

  TempDir work;
  ProcessOptions opts;
  opts.cwd = work.path();
  opts.env["PATH"] = std::string(BIM_BIN_DIR) + ":" +
                     (std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin");
  auto r = Run({"bash", "-c", script}, opts, std::chrono::seconds(60));
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err << "\nmock:\n" << mock.Log());
  REQUIRE(r.exit_code == 0);

  // verify, twice (dev-token, then the device-flow token)
  std::regex valid(R"(\{"email":"dev@example.com","userId":"user-123","valid":true\})");
  CHECK(std::distance(std::sregex_iterator(r.out.begin(), r.out.end(), valid),
                      std::sregex_iterator()) == 2);
  CHECK(r.out.find("app/routers/order.py") != std::string::npos);
  // the watch: eight stage messages ending at complete
  std::regex stage_line(R"re(^\{"commitHash":.*"seq":([0-9]+),"status":"([a-z_]+)".*\}$)re");
  std::vector<std::string> statuses;
  std::vector<int> seqs;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, stage_line)) {
      seqs.push_back(std::stoi(m[1]));
      statuses.push_back(m[2]);
    }
  }
  std::vector<int> expected_seqs = {1, 2, 3, 4, 5, 6, 7, 8, 7, 8};
  CHECK(seqs == expected_seqs);
  CHECK(statuses.at(7) == "complete");
  CHECK(std::regex_search(
      r.out,
      std::regex(
          R"("status": "complete",\s*"url": "https://[0-9a-f]{12}\.backend\.im",\s*"seq": 8)")));
  CHECK(r.out.find("\"expires_in\": 3600") != std::string::npos);
  // the raw frames through curl
  CHECK(r.out.find("\"status\":\"queued\"\n\"status\":\"committing\"") != std::string::npos);
  // The sample output in the document shows the real (deterministic) commit hash.
  std::smatch sample;
  REQUIRE(std::regex_search(doc, sample, std::regex("Created commit ([0-9a-f]{12})")));
  CHECK(r.out.find("Created commit " + sample[1].str()) != std::string::npos);
  auto list = ParseJson(HttpRequest("GET", mock.http_url() + "/mock/deployments").body);
  CHECK(list.size() == 1);
}

}  // namespace
}  // namespace bim::test
