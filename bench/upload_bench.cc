// (5) Deploy upload: a 2 000-file, 20 MB project through `backend-im deploy` (ctl -> agent ->
// platform) against curl posting the same JSON body to the same mock, interleaved. The mock's
// stages never advance (an hour apart), so the deployments cost nothing afterwards.

#include <fmt/format.h>

#include <fstream>

#include "bench/bench_user.h"
#include "bench/benchmarks.h"
#include "common/contract.h"

namespace bim::bench {

void RunUploadBench(const BenchOptions& o, Report& r) {
  BenchUser u(3600000);
  std::string dir = u.MakeProject("big");
  contract::DeployRequest body;
  body.files["main.py"] = test::ReadFile(dir + "/main.py");
  body.files["requirements.txt"] = test::ReadFile(dir + "/requirements.txt");
  constexpr int kFiles = 2000;
  constexpr size_t kBytes = 20u * 1000 * 1000;
  uint64_t x = 88172645463325252ull;  // xorshift: text that does not compress away
  for (int i = 0; body.files.size() < kFiles; ++i) {
    std::string content;
    while (content.size() < kBytes / kFiles) {
      std::string line = "# ";
      for (int c = 0; c < 76; ++c) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        line += static_cast<char>('a' + x % 26);
      }
      content += line + "\n";
    }
    std::string rel = fmt::format("app/pkg{:02d}/module_{:04d}.py", i % 20, i);
    test::WriteFile(dir + "/" + rel, content);
    body.files[rel] = std::move(content);
  }
  size_t total = 0;
  for (const auto& [p, c] : body.files) total += c.size();
  std::string body_path = u.home() + "/body.json";
  {
    std::ofstream out(body_path, std::ios::binary);
    out << contract::ToJson(body);
  }

  std::string url = u.mock().http_url() + "/api/deploy";
  std::vector<std::string> deploy = {test::CtlBinary(), "deploy", "-d", dir, "--json"};
  int runs = o.quick ? 4 : 12;
  std::vector<double> t_ctl, t_curl;
  for (int i = 0; i < runs + 1; ++i) {
    std::vector<std::string> curl = {"/usr/bin/curl",
                                     "-sS",
                                     "-f",
                                     "-o",
                                     "/dev/null",
                                     "-H",
                                     std::string("Authorization: Bearer ") + BenchUser::kToken,
                                     "-H",
                                     "Content-Type: application/json",
                                     "-H",
                                     "Expect:",
                                     "-H",
                                     fmt::format("Idempotency-Key: bench-{}", i),
                                     "--data-binary",
                                     "@" + body_path,
                                     url};
    double c = u.TimeCommand(curl);
    double d = u.TimeCommand(deploy);
    if (i == 0) continue;  // warm-up
    t_curl.push_back(c);
    t_ctl.push_back(d);
  }
  Summary c = Summarize(t_curl), d = Summarize(t_ctl);
  r.Add({"upload",
         fmt::format("curl --data-binary ({} files, {:.1f} MB)", body.files.size(),
                     static_cast<double>(total) / 1e6),
         "ms", c});
  double ratio = d.median / c.median;
  r.Add({"upload", "backend-im deploy (same files)", "ms", d, 0, ratio, "curl median", "<= 1.5x",
         ratio <= 1.5});
}

}  // namespace bim::bench
