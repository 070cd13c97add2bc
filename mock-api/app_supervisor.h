#pragma once
// AppSupervisor: the embedded platform's app runner (backend-im-mock --run-apps). It does the
// real work behind the deployment stages on this machine:
//   Keep        (committing)    writes the uploaded tree into the deployment's own folder;
//   KeepFrom    (deploying,     copies the tree another deployment kept, as it was uploaded,
//                promoted)      into the deployment's own folder: nothing is built again;
//   Build       (building)      checks it without running it: the Python compiles and
//                               requirements.txt is met by the runtime (common/app_runtime.h);
//   Start       (deploying)     starts it with uvicorn on a Unix socket in its folder, as a
//                               ContainedProcess: own PID and network namespaces, limits;
//   CheckHealth (health_check)  asks it GET /health (else /) over that socket within a deadline;
//   Serve       (complete)      points the project's address at it and stops the one before.
// Each project's environment has one address for the supervisor's life, http://127.0.0.1:PORT,
// a proxy on loopback that forwards to its current app; a deployment that fails leaves the
// previous one serving. Discard stops a deployment that will not serve. What each app prints is
// reported as it is read (AppSupervisorOptions::on_output), with its start and its end.
// Each deployment's tree is also kept as it was uploaded, apart from the folder its app runs in
// (where the app may write), for a later KeepFrom; that copy outlives the app once it served.
//
// Threading: one thread of its own runs every step, the proxies and the output readers; the
// public methods may be called from any thread and return at once; each Done runs on the
// supervisor's thread, so a caller with a thread of its own posts from it. Apps are started
// from that thread, which lives as long as the supervisor: they die with it (PR_SET_PDEATHSIG),
// also when the whole process is killed. The destructor stops every app (SIGTERM, then SIGKILL
// after stop_grace) and removes the folders it made.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/contained_process.h"
#include "common/contract.h"

namespace bim::mock {

// What an app printed, and when it started and ended, for its deployment's runtime logs
// (docs/API_CONTRACTS.md §6.2). For one app: kStarted, then kLines as its output is read, then
// kEnded once it ended and all it printed was reported.
struct AppOutput {
  enum class Kind { kStarted, kLines, kEnded };
  Kind kind = Kind::kLines;
  std::string deployment;
  std::vector<std::string> lines;  // kLines: whole lines without their newlines, in order
  std::string text;                // kStarted, kEnded: a line of the platform's about it
  std::string reason;              // kEnded: why it ended ("replaced by deployment X", ...)
  bool stopped = false;            // kEnded: the platform stopped it (else it ended by itself)
  size_t bytes = 0;                // kLines: their size, to give back to OutputTaken
};

struct AppSupervisorOptions {
  std::string python = "/usr/bin/python3";  // the runtime: Debian's Python and FastAPI stack
  std::string root;                         // the apps' folders; empty: a new temporary folder
  ProcessLimits limits{2048ull << 20, 600, 256ull << 20, 1024};
  std::chrono::milliseconds build_timeout{60000};
  std::chrono::milliseconds health_timeout{20000};
  std::chrono::milliseconds stop_grace{3000};
  // Gets every AppOutput, on the supervisor's thread, as it happens (unset: none is reported).
  // Its receiver calls OutputTaken(bytes) once it has dealt with one: while more than a few MiB
  // are not taken, the apps' output is not read (they wait on their full pipes).
  std::function<void(AppOutput)> on_output;
};

// What a step did: ok, and the lines it adds to the deployment's logs (on failure: why, and the
// app's own last output, e.g. its Python traceback). Serve sets url.
struct AppStep {
  bool ok = false;
  std::vector<std::string> logs;
  std::string url;
};

// What the supervisor runs now, for GET /mock/apps and the tests.
struct AppInfo {
  std::string deployment_id;
  std::string project_id;
  std::string environment;
  int pid = 0;           // as this machine sees it; 0 once it ended
  bool serving = false;  // the project's address forwards to it
  std::string url;       // the project's address, once it has one
};

class AppSupervisor {
 public:
  using Done = std::function<void(AppStep)>;

  explicit AppSupervisor(AppSupervisorOptions options);
  ~AppSupervisor();
  AppSupervisor(const AppSupervisor&) = delete;
  AppSupervisor& operator=(const AppSupervisor&) = delete;

  // environment: where it will serve (each project's environments have addresses of their
  // own); variables: that environment's, which its app gets in its process environment.
  void Keep(const std::string& deployment, const std::string& project,
            const std::string& environment, std::map<std::string, std::string> variables,
            const contract::FileMap& files, Done done);
  // Keep's work with the tree source kept (a deployment that served, or still does), for a
  // deployment promoted from it.
  void KeepFrom(const std::string& deployment, const std::string& source,
                const std::string& project, const std::string& environment,
                std::map<std::string, std::string> variables, Done done);
  void Build(const std::string& deployment, Done done);
  void Start(const std::string& deployment, Done done);
  void CheckHealth(const std::string& deployment, Done done);
  void Serve(const std::string& deployment, Done done);
  // Stops the app of a deployment that will not serve; reason says why, in its logs (e.g. "its
  // deployment failed at health_check").
  void Discard(const std::string& deployment, const std::string& reason);

  // Waits for the supervisor's thread to answer.
  std::vector<AppInfo> Apps();

  // The receiver of on_output has dealt with reports of this many bytes. Any thread.
  void OutputTaken(size_t bytes);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bim::mock
