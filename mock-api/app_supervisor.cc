#include "mock-api/app_supervisor.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio.hpp>
#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <thread>

#include "common/app_runtime.h"
#include "common/log.h"
#include "common/path_policy.h"
#include "mock-api/app_proxy.h"

namespace bim::mock {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The app's last lines of output that a failure shows, and that it keeps.
constexpr size_t kKeptLines = 200;
constexpr size_t kShownLines = 40;
constexpr size_t kLineBytes = 2000;
// The build check's output is read whole up to this.
constexpr size_t kCheckOutputBytes = 1 << 20;
constexpr auto kHealthRetry = std::chrono::milliseconds(200);
// After an app ended, how long its output may take to reach EOF (something it started may hold
// the pipe open) before its logs end without the rest.
constexpr auto kDrainWait = std::chrono::milliseconds(1000);
// Output reported and not yet taken (OutputTaken) past which the apps' output is read no further
// until it is: the apps then wait on their full pipes instead of the platform's memory growing.
constexpr int64_t kMaxUntakenOutput = 4 << 20;
constexpr auto kUntakenWait = std::chrono::milliseconds(10);

std::string Plural(size_t n, const char* one) {
  return fmt::format("{} {}{}", n, one, n == 1 ? "" : "s");
}

}  // namespace

class AppSupervisor::Impl {
 public:
  explicit Impl(AppSupervisorOptions options) : options_(std::move(options)) {
    if (options_.root.empty()) {
      std::string templ = (fs::temp_directory_path() / "backend-im-apps-XXXXXX").string();
      if (!::mkdtemp(templ.data())) throw std::runtime_error("cannot make a folder for the apps");
      root_ = templ;
      owns_root_ = true;
    } else {
      root_ = fs::absolute(options_.root).lexically_normal().string();
      fs::create_directories(root_);
    }
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Impl() {
    std::promise<void> stopped;
    auto all_stopped = stopped.get_future();
    asio::post(io_, [this, &stopped] {
      proxies_.clear();
      for (auto& [id, app] : apps_) {
        if (app->stop_reason.empty()) app->stop_reason = "the platform stopped";
      }
      StopAll([&stopped] { stopped.set_value(); });
    });
    all_stopped.wait();
    work_.reset();
    io_.stop();
    thread_.join();
    std::error_code ignored;
    for (const auto& [id, app] : apps_) fs::remove_all(app->dir, ignored);
    for (const auto& [id, tree] : trees_) fs::remove_all(tree, ignored);
    apps_.clear();
    if (owns_root_) fs::remove_all(root_, ignored);
  }

  void Keep(const std::string& deployment, const std::string& project,
            const std::string& environment, std::map<std::string, std::string> variables,
            const contract::FileMap& files, Done done) {
    asio::post(io_, [this, deployment, project, environment, variables = std::move(variables),
                     files, done = std::move(done)]() mutable {
      done(DoKeep(deployment, project, environment, std::move(variables), files));
    });
  }

  void KeepFrom(const std::string& deployment, const std::string& source,
                const std::string& project, const std::string& environment,
                std::map<std::string, std::string> variables, Done done) {
    asio::post(io_, [this, deployment, source, project, environment,
                     variables = std::move(variables), done = std::move(done)]() mutable {
      done(DoKeepFrom(deployment, source, project, environment, std::move(variables)));
    });
  }

  void Build(const std::string& deployment, Done done) {
    asio::post(io_, [this, deployment, done = std::move(done)]() mutable {
      App* app = Find(deployment);
      if (!app) return done(Missing(deployment));
      DoBuild(*app, std::move(done));
    });
  }

  void Start(const std::string& deployment, Done done) {
    asio::post(io_, [this, deployment, done = std::move(done)] {
      App* app = Find(deployment);
      done(app ? DoStart(*app) : Missing(deployment));
    });
  }

  void CheckHealth(const std::string& deployment, Done done) {
    asio::post(io_, [this, deployment, done = std::move(done)]() mutable {
      App* app = Find(deployment);
      if (!app) return done(Missing(deployment));
      auto check = std::make_shared<HealthCheck>(io_);
      check->deadline = Clock::now() + options_.health_timeout;
      check->done = std::move(done);
      TryHealth(*app, check);
    });
  }

  void Serve(const std::string& deployment, Done done) {
    asio::post(io_, [this, deployment, done = std::move(done)] {
      App* app = Find(deployment);
      done(app ? DoServe(*app) : Missing(deployment));
    });
  }

  void Discard(const std::string& deployment, const std::string& reason) {
    asio::post(io_, [this, deployment, reason] {
      if (App* app = Find(deployment); app && !app->serving) Retire(*app, reason);
    });
  }

  std::vector<AppInfo> Apps() {
    std::promise<std::vector<AppInfo>> answer;
    auto apps = answer.get_future();
    asio::post(io_, [this, &answer] {
      std::vector<AppInfo> out;
      for (const auto& [id, app] : apps_) {
        AppInfo info;
        info.deployment_id = id;
        info.project_id = app->project;
        info.environment = app->environment;
        info.pid = app->proc && !app->ended ? app->proc->pid() : 0;
        info.serving = app->serving;
        if (auto p = proxies_.find(Address(*app)); p != proxies_.end()) info.url = p->second->url();
        out.push_back(std::move(info));
      }
      answer.set_value(std::move(out));
    });
    return apps.get();
  }

  void OutputTaken(size_t bytes) { untaken_ -= static_cast<int64_t>(bytes); }

 private:
  struct App {
    std::string deployment;
    std::string project;
    std::string environment;
    std::map<std::string, std::string> variables;  // its environment's, as they were at the deploy
    std::string dir;                               // root/<n>: the app's own folder (its HOME)
    std::string src;     // dir/src: the project's files, the app's working folder
    std::string socket;  // dir/app.sock: where uvicorn listens
    std::string tree;    // root/<n>.tree: the files as uploaded, which src starts as
    std::optional<ContainedProcess> proc;
    std::unique_ptr<asio::posix::stream_descriptor> output;
    std::unique_ptr<asio::posix::stream_descriptor> exit;
    std::unique_ptr<asio::steady_timer> poll_timer;   // without a pidfd: looks for its end
    std::unique_ptr<asio::steady_timer> drain_timer;  // bounds the wait for its output's EOF
    std::unique_ptr<asio::steady_timer> read_timer;   // waits for its reports to be taken
    std::array<char, 4096> buf{};
    std::deque<std::string> lines;  // its last lines of output
    std::string partial;            // a line not yet ended
    bool ended = false;
    bool output_done = false;  // its output reached EOF: all it printed is in lines
    std::string end_text;      // how it ended
    bool finished = false;     // ended, and its output read (or given up on): kEnded reported
    std::string stop_reason;   // why the platform stopped it; empty: it was not stopped
    bool serving = false;
    bool served = false;   // it was the project's app once: its tree outlives it
    bool retired = false;  // stopping for good: its folder goes once it ended
    std::vector<std::function<void()>> on_end;
  };

  struct HealthCheck {
    explicit HealthCheck(asio::io_context& io) : socket(io), timer(io) {}
    asio::local::stream_protocol::socket socket;
    asio::steady_timer timer;
    Clock::time_point deadline;
    size_t path = 0;      // index into HealthPaths()
    int drain_waits = 0;  // after its end, waits for the rest of its output
    std::string response;
    std::array<char, 4096> buf{};
    Done done;
  };

  static AppStep Missing(const std::string& deployment) {
    return {false, {"The platform lost the files of deployment " + deployment}, ""};
  }

  App* Find(const std::string& deployment) {
    auto it = apps_.find(deployment);
    return it == apps_.end() ? nullptr : it->second.get();
  }

  // The key of the proxy that serves app's project and environment.
  static std::string Address(const App& app) { return app.project + '\n' + app.environment; }

  // A new app, its folders not made yet.
  std::unique_ptr<App> NewApp(const std::string& deployment, const std::string& project,
                              const std::string& environment,
                              std::map<std::string, std::string> variables) {
    auto app = std::make_unique<App>();
    app->deployment = deployment;
    app->project = project;
    app->environment = environment;
    app->variables = std::move(variables);
    // A short name of its own, so that the socket's path stays under the 107 bytes a Unix
    // socket's path may have.
    app->dir = fmt::format("{}/{}", root_, ++made_);
    app->src = app->dir + "/src";
    app->socket = app->dir + "/app.sock";
    app->tree = app->dir + ".tree";
    return app;
  }

  // Makes app's folders; a failed step says why it could not.
  static std::optional<AppStep> MakeFolders(const App& app, const std::string& root) {
    if (app.socket.size() > 100) {
      return AppStep{
          false,
          {fmt::format("The apps' folder {} is too long a path for a Unix socket", root)},
          ""};
    }
    for (const std::string& folder : {app.src, app.tree}) {
      std::error_code ec;
      fs::create_directories(folder, ec);
      if (ec) {
        return AppStep{
            false, {fmt::format("Cannot make the folder {}: {}", folder, ec.message())}, ""};
      }
    }
    return std::nullopt;
  }

  // Copies the folder from into to, which exists; counts what it copied when asked.
  static std::optional<AppStep> CopyTree(const std::string& from, const std::string& to,
                                         size_t* files = nullptr, size_t* bytes = nullptr) {
    std::error_code ec;
    fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
    if (ec) {
      return AppStep{false, {fmt::format("Cannot copy {} to {}: {}", from, to, ec.message())}, ""};
    }
    if (files) {
      for (auto it = fs::recursive_directory_iterator(from, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file()) continue;
        ++*files;
        *bytes += it->file_size();
      }
    }
    return std::nullopt;
  }

  // A keep that failed half-way leaves nothing behind.
  static AppStep Abandon(const App& app, AppStep failed) {
    std::error_code ignored;
    fs::remove_all(app.dir, ignored);
    fs::remove_all(app.tree, ignored);
    return failed;
  }

  void Adopt(std::unique_ptr<App> app) {
    trees_[app->deployment] = app->tree;
    tree_order_.push_back(app->deployment);
    apps_[app->deployment] = std::move(app);
    // The disk a long-running platform uses for promotes stays bounded: the oldest trees whose
    // apps are gone go first.
    for (auto it = tree_order_.begin(); trees_.size() > kMaxKeptTrees && it != tree_order_.end();) {
      auto tree = trees_.find(*it);
      if (tree != trees_.end() && apps_.count(*it)) {
        ++it;
        continue;
      }
      if (tree != trees_.end()) {
        std::error_code ignored;
        fs::remove_all(tree->second, ignored);
        trees_.erase(tree);
      }
      it = tree_order_.erase(it);
    }
  }

  AppStep DoKeep(const std::string& deployment, const std::string& project,
                 const std::string& environment, std::map<std::string, std::string> variables,
                 const contract::FileMap& files) {
    auto app = NewApp(deployment, project, environment, std::move(variables));
    if (auto failed = MakeFolders(*app, root_)) return Abandon(*app, std::move(*failed));
    size_t bytes = 0;
    for (const auto& [path, content] : files) {
      if (auto bad = CheckRelativePath(path); !bad.ok()) {
        return Abandon(
            *app,
            {false, {fmt::format("Refused the file \"{}\": {}", path, bad.error().message)}, ""});
      }
      fs::path target = fs::path(app->tree) / path;
      std::error_code ec;
      fs::create_directories(target.parent_path(), ec);
      std::ofstream out(target, std::ios::binary | std::ios::trunc);
      out.write(content.data(), static_cast<std::streamsize>(content.size()));
      if (!out.flush()) {
        return Abandon(*app, {false, {fmt::format("Cannot write {}", target.string())}, ""});
      }
      bytes += content.size();
    }
    if (auto failed = CopyTree(app->tree, app->src)) return Abandon(*app, std::move(*failed));
    AppStep step{
        true,
        {fmt::format("Kept {} ({} bytes) in {}", Plural(files.size(), "file"), bytes, app->src)},
        ""};
    Adopt(std::move(app));
    return step;
  }

  AppStep DoKeepFrom(const std::string& deployment, const std::string& source,
                     const std::string& project, const std::string& environment,
                     std::map<std::string, std::string> variables) {
    auto tree = trees_.find(source);
    if (tree == trees_.end()) {
      return {false, {"The platform no longer has the files of deployment " + source}, ""};
    }
    auto app = NewApp(deployment, project, environment, std::move(variables));
    if (auto failed = MakeFolders(*app, root_)) return Abandon(*app, std::move(*failed));
    size_t files = 0, bytes = 0;
    if (auto failed = CopyTree(tree->second, app->tree, &files, &bytes)) {
      return Abandon(*app, std::move(*failed));
    }
    if (auto failed = CopyTree(app->tree, app->src)) return Abandon(*app, std::move(*failed));
    AppStep step{true,
                 {fmt::format("Kept {} ({} bytes) of deployment {} in {}, as it was built then",
                              Plural(files, "file"), bytes, source, app->src)},
                 ""};
    Adopt(std::move(app));
    return step;
  }

  // with_variables: the app itself, which gets its environment's variables (over ours of the
  // same name); the build check runs without them.
  ContainedSpec SpecFor(const App& app, std::vector<std::string> argv,
                        bool with_variables = false) const {
    ContainedSpec spec;
    spec.argv = std::move(argv);
    for (auto& entry : app_runtime::AppEnvironment(app.dir)) {
      if (!with_variables || !app.variables.count(entry.substr(0, entry.find('=')))) {
        spec.env.push_back(std::move(entry));
      }
    }
    if (with_variables) {
      for (const auto& [key, value] : app.variables) spec.env.push_back(key + "=" + value);
    }
    spec.dir = app.src;
    spec.limits = options_.limits;
    spec.own_network = true;
    return spec;
  }

  // Runs the build check to its end (or its timeout) and reads all it printed.
  void DoBuild(App& app, Done done) {
    auto started = ContainedProcess::Start(
        SpecFor(app, {options_.python, "-c", app_runtime::BuildCheckScript()}));
    if (!started.ok()) {
      return done({false, {"Cannot run the build check: " + started.error().message}, ""});
    }
    struct Run {
      explicit Run(asio::io_context& io) : output(io), timer(io) {}
      std::optional<ContainedProcess> proc;
      asio::posix::stream_descriptor output;
      asio::steady_timer timer;
      std::array<char, 8192> buf{};
      std::string text;
      bool timed_out = false;
      Done done;
    };
    auto run = std::make_shared<Run>(io_);
    run->proc.emplace(std::move(*started));
    run->output.assign(::dup(run->proc->output_fd()));
    run->done = std::move(done);
    run->timer.expires_after(options_.build_timeout);
    run->timer.async_wait([run](const asio::error_code& ec) {
      if (ec) return;
      run->timed_out = true;
      run->proc->Kill();
    });
    std::string python = options_.python;
    auto read = std::make_shared<std::function<void()>>();
    *read = [this, run, read, python] {
      run->output.async_read_some(
          asio::buffer(run->buf), [this, run, read, python](const asio::error_code& ec, size_t n) {
            if (!ec) {
              if (run->text.size() < kCheckOutputBytes) run->text.append(run->buf.data(), n);
              return (*read)();
            }
            // EOF: the check and all it started are gone.
            run->timer.cancel();
            std::string status = run->proc->Wait();
            *read = nullptr;
            run->done(BuildOutcome(python, run->text, status, run->timed_out));
          });
    };
    (*read)();
  }

  AppStep BuildOutcome(const std::string& python, const std::string& output,
                       const std::string& status, bool timed_out) const {
    if (timed_out) {
      return {false,
              {fmt::format("Build failed: the check did not end within {} s",
                           options_.build_timeout.count() / 1000)},
              ""};
    }
    auto check = app_runtime::ParseBuildCheck(output);
    if (!check.ok()) {
      AppStep step{false,
                   {fmt::format("Build failed: {} could not check the project ({}): {}", python,
                                status, check.error().message)},
                   ""};
      return step;
    }
    if (!check->ok()) {
      AppStep step{false, {"Build failed:"}, ""};
      for (auto& p : check->Problems()) step.logs.push_back("  " + p);
      return step;
    }
    return {true, check->Summary(), ""};
  }

  AppStep DoStart(App& app) {
    if (app.proc)
      return {false, {"The app of deployment " + app.deployment + " was already started"}, ""};
    auto argv = app_runtime::UvicornArgv(options_.python, {app.socket, 0}, false);
    // Its logs show each line as it is printed, and each request it answered: Python does not
    // buffer (whatever the app's variables say) and uvicorn's access log is on.
    argv.insert(argv.begin() + 1, "-u");
    argv.push_back("--access-log");
    auto started = ContainedProcess::Start(SpecFor(app, argv, /*with_variables=*/true));
    if (!started.ok()) return {false, {"Cannot start the app: " + started.error().message}, ""};
    app.proc.emplace(std::move(*started));
    app.output =
        std::make_unique<asio::posix::stream_descriptor>(io_, ::dup(app.proc->output_fd()));
    std::string started_line =
        fmt::format("Started uvicorn {} (pid {}){}", app_runtime::kEntryPoint, app.proc->pid(),
                    app.proc->namespaced() ? " in its own PID and network namespaces"
                                           : " in its own process group");
    AppOutput out;
    out.kind = AppOutput::Kind::kStarted;
    out.deployment = app.deployment;
    out.text = started_line;
    Report(std::move(out));
    ReadOutput(app);
    WatchExit(app);
    return {true, {std::move(started_line)}, ""};
  }

  void Report(AppOutput out) {
    if (!options_.on_output) return;
    out.bytes = 0;
    for (const auto& line : out.lines) out.bytes += line.size() + 1;
    untaken_ += static_cast<int64_t>(out.bytes);
    options_.on_output(std::move(out));
  }

  void ReadOutput(App& app) {
    App* a = &app;
    a->output->async_read_some(
        asio::buffer(a->buf), [this, a](const asio::error_code& ec, size_t n) {
          if (ec) {  // EOF: it and all it started are gone; or it was removed
            if (ec == asio::error::operation_aborted) return;
            a->output_done = true;
            if (a->ended) Finished(*a);
            return;
          }
          AppOutput out;
          out.deployment = a->deployment;
          for (size_t i = 0; i < n; ++i) {
            char c = a->buf[i];
            if (c == '\n') {
              out.lines.push_back(a->partial);
              KeepLine(*a, std::move(a->partial));
              a->partial.clear();
            } else if (c != '\r' && a->partial.size() < kLineBytes) {
              a->partial += c;
            }
          }
          if (!out.lines.empty() && !a->finished) Report(std::move(out));
          if (untaken_.load() <= kMaxUntakenOutput) return ReadOutput(*a);
          WaitForRoom(*a);
        });
  }

  static void KeepLine(App& app, std::string line) {
    app.lines.push_back(std::move(line));
    if (app.lines.size() > kKeptLines) app.lines.pop_front();
  }

  // Reads the app's output again once the reports before have been taken.
  void WaitForRoom(App& app) {
    App* a = &app;
    if (!a->read_timer) a->read_timer = std::make_unique<asio::steady_timer>(io_);
    a->read_timer->expires_after(kUntakenWait);
    a->read_timer->async_wait([this, a](const asio::error_code& ec) {
      if (ec) return;
      if (untaken_.load() <= kMaxUntakenOutput) return ReadOutput(*a);
      WaitForRoom(*a);
    });
  }

  void WatchExit(App& app) {
    App* a = &app;
    if (a->proc->exit_fd() < 0) {
      // No pidfd: look every 100 ms.
      a->poll_timer = std::make_unique<asio::steady_timer>(io_);
      PollExit(*a);
      return;
    }
    a->exit = std::make_unique<asio::posix::stream_descriptor>(io_, ::dup(a->proc->exit_fd()));
    a->exit->async_wait(asio::posix::stream_descriptor::wait_read,
                        [this, a](const asio::error_code& ec) {
                          if (!ec) Ended(*a);
                        });
  }

  void PollExit(App& app) {
    App* a = &app;
    a->poll_timer->expires_after(std::chrono::milliseconds(100));
    a->poll_timer->async_wait([this, a](const asio::error_code& ec) {
      if (ec) return;
      if (a->proc->Poll()) return Ended(*a);
      PollExit(*a);
    });
  }

  void Ended(App& app) {
    app.ended = true;
    app.end_text = app.proc->Wait();
    if (app.poll_timer) app.poll_timer->cancel();
    log::Info("app of deployment {} {}", app.deployment, app.end_text);
    auto callbacks = std::move(app.on_end);
    for (auto& f : callbacks) f();
    if (app.output_done) return Finished(app);
    App* a = &app;
    a->drain_timer = std::make_unique<asio::steady_timer>(io_, kDrainWait);
    a->drain_timer->async_wait([this, a](const asio::error_code& ec) {
      if (!ec) Finished(*a);
    });
  }

  // The app ended and all it printed was read (or its output was given up on): the end of its
  // logs. A retired app's folder goes now, not before, so no output is lost.
  void Finished(App& app) {
    if (app.finished) return;
    app.finished = true;
    if (app.drain_timer) app.drain_timer->cancel();
    if (!app.partial.empty()) {
      AppOutput out;
      out.deployment = app.deployment;
      out.lines.push_back(app.partial);
      Report(std::move(out));
      KeepLine(app, std::move(app.partial));
    }
    app.partial.clear();
    AppOutput out;
    out.kind = AppOutput::Kind::kEnded;
    out.deployment = app.deployment;
    out.stopped = !app.stop_reason.empty();
    out.reason = out.stopped ? app.stop_reason : app.end_text;
    out.text = out.stopped
                   ? fmt::format("Stopped the app ({}): it {}", app.stop_reason, app.end_text)
                   : fmt::format("The app {}", app.end_text);
    Report(std::move(out));
    if (app.retired) Remove(app.deployment);
  }

  // Its last lines of output, for a failure's logs: from its last Python traceback when it
  // printed one, else its last kShownLines.
  static void AddOutput(const App& app, std::vector<std::string>& logs) {
    if (app.lines.empty()) {
      logs.push_back("The app printed nothing.");
      return;
    }
    size_t from = app.lines.size() > kShownLines ? app.lines.size() - kShownLines : 0;
    for (size_t i = app.lines.size(); i-- > 0;) {
      if (app.lines[i].rfind("Traceback (most recent call last)", 0) == 0) {
        from = i;
        break;
      }
    }
    // A traceback longer than that loses its first frames, never the exception at its end.
    const size_t most = 2 * kShownLines;
    if (app.lines.size() - from > most) from = app.lines.size() - most;
    logs.push_back(from == 0 ? "The app's output:" : "The app's last output:");
    for (size_t i = from; i < app.lines.size(); ++i) logs.push_back("  " + app.lines[i]);
  }

  void TryHealth(App& app, const std::shared_ptr<HealthCheck>& check) {
    App* a = &app;
    if (a->ended && !a->finished && check->drain_waits++ < 60) {
      // Its last output may still be in the pipe: read it before quoting it.
      return RetryHealth(*a, check, std::chrono::milliseconds(20));
    }
    if (a->ended) {
      AppStep step{false,
                   {fmt::format("Health check failed: the app {} before answering", a->end_text)},
                   ""};
      AddOutput(*a, step.logs);
      return check->done(std::move(step));
    }
    if (Clock::now() >= check->deadline) {
      AppStep step{false,
                   {fmt::format("Health check failed: the app did not answer within {} s",
                                options_.health_timeout.count() / 1000)},
                   ""};
      AddOutput(*a, step.logs);
      return check->done(std::move(step));
    }
    check->response.clear();
    asio::error_code ignored;
    check->socket.close(ignored);
    check->socket = asio::local::stream_protocol::socket(io_);
    // The whole attempt is bounded by the deadline: a connection the app accepts but never
    // answers is closed then.
    check->timer.expires_at(check->deadline);
    check->timer.async_wait([check](const asio::error_code& ec) {
      if (ec) return;
      asio::error_code ignore;
      check->socket.close(ignore);
    });
    check->socket.async_connect(
        asio::local::stream_protocol::endpoint(a->socket),
        [this, a, check](const asio::error_code& ec) {
          if (ec) return RetryHealth(*a, check);
          auto request = std::make_shared<std::string>(
              app_runtime::HealthRequest(app_runtime::HealthPaths()[check->path]));
          asio::async_write(check->socket, asio::buffer(*request),
                            [this, a, check, request](const asio::error_code& wec, size_t) {
                              if (wec) return RetryHealth(*a, check);
                              ReadHealth(*a, check);
                            });
        });
  }

  void RetryHealth(App& app, const std::shared_ptr<HealthCheck>& check,
                   std::chrono::milliseconds after = kHealthRetry) {
    App* a = &app;
    check->timer.cancel();
    check->timer.expires_after(after);
    check->timer.async_wait([this, a, check](const asio::error_code& ec) {
      if (ec) return;
      TryHealth(*a, check);
    });
  }

  void ReadHealth(App& app, const std::shared_ptr<HealthCheck>& check) {
    App* a = &app;
    check->socket.async_read_some(
        asio::buffer(check->buf), [this, a, check](const asio::error_code& ec, size_t n) {
          if (!ec) {
            if (check->response.size() < 65536) check->response.append(check->buf.data(), n);
            return ReadHealth(*a, check);
          }
          check->timer.cancel();
          const std::string& path = app_runtime::HealthPaths()[check->path];
          auto status = app_runtime::HttpStatusOf(check->response);
          if (!status) return RetryHealth(*a, check);  // closed before answering: still starting
          if (*status >= 200 && *status < 300) {
            return check->done({true, {fmt::format("GET {} answered {}", path, *status)}, ""});
          }
          if (*status == 404 && check->path + 1 < app_runtime::HealthPaths().size()) {
            ++check->path;
            return TryHealth(*a, check);
          }
          AppStep step{
              false, {fmt::format("Health check failed: GET {} answered {}", path, *status)}, ""};
          AddOutput(*a, step.logs);
          check->done(std::move(step));
        });
  }

  AppStep DoServe(App& app) {
    if (!app.proc || app.ended) {
      AppStep step{false, {fmt::format("The app {} before it could serve", app.end_text)}, ""};
      AddOutput(app, step.logs);
      return step;
    }
    auto& proxy = proxies_[Address(app)];
    if (!proxy) proxy = std::make_unique<AppProxy>(io_, app.project + " (" + app.environment + ")");
    proxy->SetUpstream(app.socket);
    AppStep step{true, {}, proxy->url()};
    for (auto& [id, other] : apps_) {
      if (other.get() == &app || Address(*other) != Address(app) || !other->serving) continue;
      other->serving = false;
      step.logs.push_back(fmt::format("Stopped deployment {}, which served before", id));
      Retire(*other, "replaced by deployment " + app.deployment);
      break;
    }
    app.serving = true;
    app.served = true;
    step.logs.push_back(fmt::format("Serving at {}", proxy->url()));
    return step;
  }

  // Stops an app for good (SIGTERM, SIGKILL after stop_grace) and removes its folder.
  void Retire(App& app, const std::string& reason) {
    app.retired = true;
    app.serving = false;
    if (!app.proc || app.finished) return Remove(app.deployment);
    if (app.ended) return;  // Finished removes it
    app.stop_reason = reason;
    Stop(app);
  }

  void Stop(App& app) {
    if (!app.proc || app.ended) return;
    app.proc->Terminate();
    App* a = &app;
    auto timer = std::make_shared<asio::steady_timer>(io_, options_.stop_grace);
    timer->async_wait([a, timer](const asio::error_code& ec) {
      if (!ec && !a->ended) a->proc->Kill();
    });
    app.on_end.push_back([timer] { timer->cancel(); });
  }

  void Remove(const std::string& deployment) {
    auto it = apps_.find(deployment);
    if (it == apps_.end()) return;
    std::error_code ignored;
    fs::remove_all(it->second->dir, ignored);
    if (!it->second->served) {
      fs::remove_all(it->second->tree, ignored);
      trees_.erase(deployment);
    }
    // Handlers may still name it: let them run out first.
    asio::post(io_, [this, deployment] { apps_.erase(deployment); });
  }

  // Stops every app; `stopped` runs once all have ended.
  void StopAll(std::function<void()> stopped) {
    auto left = std::make_shared<size_t>(0);
    auto finish = std::make_shared<std::function<void()>>(std::move(stopped));
    for (auto& [id, app] : apps_) {
      if (!app->proc || app->ended) continue;
      ++*left;
      app->on_end.push_back([left, finish] {
        if (--*left == 0) (*finish)();
      });
      Stop(*app);
    }
    if (*left == 0) (*finish)();
  }

  AppSupervisorOptions options_;
  std::string root_;
  bool owns_root_ = false;
  int made_ = 0;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(io_)};
  std::map<std::string, std::unique_ptr<App>> apps_;          // by deployment id
  std::map<std::string, std::unique_ptr<AppProxy>> proxies_;  // by Address
  // The trees KeepFrom can copy, by deployment id: of every app kept and not removed, and of
  // every app that served.
  std::map<std::string, std::string> trees_;
  std::deque<std::string> tree_order_;  // trees_' keys, oldest first
  // At most this many trees are kept for promotes once their apps are gone.
  static constexpr size_t kMaxKeptTrees = 100;
  std::atomic<int64_t> untaken_{0};  // bytes of lines reported and not yet taken
  std::thread thread_;
};

AppSupervisor::AppSupervisor(AppSupervisorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
AppSupervisor::~AppSupervisor() = default;

void AppSupervisor::Keep(const std::string& deployment, const std::string& project,
                         const std::string& environment,
                         std::map<std::string, std::string> variables,
                         const contract::FileMap& files, Done done) {
  impl_->Keep(deployment, project, environment, std::move(variables), files, std::move(done));
}
void AppSupervisor::KeepFrom(const std::string& deployment, const std::string& source,
                             const std::string& project, const std::string& environment,
                             std::map<std::string, std::string> variables, Done done) {
  impl_->KeepFrom(deployment, source, project, environment, std::move(variables), std::move(done));
}
void AppSupervisor::Build(const std::string& deployment, Done done) {
  impl_->Build(deployment, std::move(done));
}
void AppSupervisor::Start(const std::string& deployment, Done done) {
  impl_->Start(deployment, std::move(done));
}
void AppSupervisor::CheckHealth(const std::string& deployment, Done done) {
  impl_->CheckHealth(deployment, std::move(done));
}
void AppSupervisor::Serve(const std::string& deployment, Done done) {
  impl_->Serve(deployment, std::move(done));
}
void AppSupervisor::OutputTaken(size_t bytes) { impl_->OutputTaken(bytes); }
void AppSupervisor::Discard(const std::string& deployment, const std::string& reason) {
  impl_->Discard(deployment, reason);
}
std::vector<AppInfo> AppSupervisor::Apps() { return impl_->Apps(); }

}  // namespace bim::mock
