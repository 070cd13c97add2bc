// backend-imd: the per-user agent. Flags only; everything else is in daemon_main.cc.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/version.h"
#include "daemon/daemon_main.h"

int main(int argc, char** argv) {
  bim::daemon::WipeFreedMemory(argv);
  CLI::App app{
      "backend-imd: the Backend.im agent. Keeps your login, your deployment history and the "
      "deployment streams you watch; the backend-im command talks to it over a Unix socket.\n"
      "Usually started by systemd (`systemctl --user start backend-imd`) or on demand by "
      "backend-im.",
      "backend-imd"};
  bim::daemon::DaemonOptions options;
  bool version = false;
  app.add_flag("--version", version, "Print the version and exit");
  app.add_option("--socket", options.socket_path,
                 "Unix socket to listen on (env BACKEND_IM_SOCKET; default "
                 "$XDG_RUNTIME_DIR/backend-im/agent.sock)");
  app.add_option("--state-dir", options.state_dir,
                 "Folder for the database and lock (default $XDG_STATE_HOME/backend-im)");
  app.add_option("--api-url", options.api_url,
                 "Platform URL (env BACKEND_IM_API_URL, then api_url in the config file)");
  app.add_option("--log-level", options.log_level,
                 "debug, info, warn or error (env BACKEND_IM_LOG_LEVEL; default info)");
  app.add_option("--log-max-mb", options.log_max_mb,
                 "Rotate agent.log in the state folder (the log of an agent a ctl started) "
                 "when it would pass this many MiB, keeping one older file, agent.log.1 "
                 "(1-1024; env BACKEND_IM_LOG_MAX_MB; default 10)");
  app.add_option("--snapshot-keep", options.snapshot_keep,
                 "Keep the files of the newest N deployments of each project, for rollback, "
                 "restore and diff (0-1000; env BACKEND_IM_SNAPSHOT_KEEP; default 20)");
  app.add_option("--snapshot-max-mb", options.snapshot_max_mb,
                 "Keep at most this many MiB of deployed files in all (env "
                 "BACKEND_IM_SNAPSHOT_MAX_MB; default 200)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (version) {
    std::printf("backend-imd %s\n", bim::kVersion);
    return 0;
  }
  try {
    return bim::daemon::RunDaemon(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "backend-imd: fatal: %s\n", e.what());
    return 1;
  }
}
