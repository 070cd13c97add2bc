# Tests of the agent and the ctl: units over real SQLite and real files, and integration tests
# that run the real mock, agent and ctl as processes.
bim_add_test(agent_unit_tests
  SOURCES unit/common/path_policy_test.cc unit/common/ignore_rules_test.cc
          unit/ctl/project_files_test.cc unit/ctl/readiness_listener_test.cc
          unit/ctl/output_test.cc unit/ctl/client_settings_test.cc unit/ctl/tree_diff_test.cc
          unit/ctl/agent_methods_test.cc unit/ctl/interrupt_test.cc
          unit/daemon/deployment_store_test.cc unit/daemon/auth_manager_test.cc
          unit/daemon/instance_lock_test.cc unit/daemon/platform_client_test.cc
          unit/daemon/subscription_test.cc unit/daemon/agent_scenarios_test.cc
          unit/daemon/agent_settings_test.cc unit/daemon/snapshot_store_test.cc
          unit/daemon/domain_store_test.cc unit/daemon/agent_domains_test.cc
          unit/daemon/log_hub_test.cc
  LIBS bim::daemon bim::ctl bim_test_support bim_fake_platform PkgConfig::SYSTEMD
  LABELS unit)
add_dependencies(agent_unit_tests backend-im-mock)
target_compile_definitions(agent_unit_tests PRIVATE BIM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# Started once per test case: gRPC linked statically spares each start loading ~50 shared
# libraries (the agent_unit_tests start went from ~100 to ~70 ms, measured interleaved).
bim_link_grpc_statically(agent_unit_tests)

# The gRPC service over the real core, in process. Label "grpc" as the integration tests below:
# a call's objects go between our threads and gRPC's (a worker's Finish and the completion
# queue's thread that runs the finish tag; a reactor made in a handler and its OnDone on gRPC's
# executor) through Debian's uninstrumented libgrpc, whose synchronisation TSan cannot see.
# Under TSan these tests reported 113 races, every one with a gRPC thread on one side, on gRPC's
# call objects or on a reactor at such a hand-off, and none between two threads of ours; the
# core they drive runs under TSan in the tests labelled concurrency. docs/SECURITY.md says more.
bim_add_test(agent_service_tests
  SOURCES unit/daemon/agent_service_test.cc
  LIBS bim::daemon bim_test_support bim_fake_platform
  LABELS unit grpc)
bim_link_grpc_statically(agent_service_tests)

# In-process tests of the agent core and its WatchHub from many threads (fan-out, reconnect,
# shutdown, listeners that call back into the hub), without gRPC, so that TSan can judge them: `scripts/sanitize.sh thread` runs label concurrency.
bim_add_test(agent_concurrency_tests
  SOURCES unit/daemon/agent_concurrency_test.cc unit/daemon/watch_hub_test.cc
  LIBS bim::daemon bim_test_support
  LABELS unit concurrency)
add_dependencies(agent_concurrency_tests backend-im-mock)

# Label "grpc": these run the agent and the ctl, which talk gRPC. Debian's gRPC is not built
# with TSan, so under TSan they report its internal hand-offs; sanitize.sh thread skips them.
bim_add_test(agent_integration_tests
  SOURCES integration/agent_auth_test.cc integration/agent_deploy_test.cc
          integration/agent_daemon_test.cc integration/agent_files_test.cc
          integration/agent_faults_test.cc integration/agent_tls_test.cc
          integration/agent_hardening_test.cc integration/agent_hostile_text_test.cc
          integration/agent_limits_test.cc integration/agent_notify_test.cc
          integration/agent_snapshots_test.cc integration/agent_floods_test.cc
          integration/agent_run_apps_test.cc integration/agent_environments_test.cc
          integration/agent_logs_test.cc integration/agent_domains_test.cc
  LIBS bim::common bim::ws bim_test_support nlohmann_json::nlohmann_json ZLIB::ZLIB
       PkgConfig::SYSTEMD OpenSSL::Crypto
  LABELS integration grpc)
add_dependencies(agent_integration_tests backend-im backend-imd backend-im-mock)

# The tests whose path through the agent differs on a platform that implements only the seed's
# part (no seq/since, no Idempotency-Key, no device flow, no projectId in generate), against such
# a mock. Fan-out to many watchers happens downstream of the store, the same on any platform, so
# it runs once; the watcher's seed-only paths also run in simulated time
# (agent_scenarios_test.cc, FakePlatform::Options::seed_only).
doctest_discover_tests(agent_integration_tests
  TEST_LIST agent_integration_seed_only_TESTS
  TEST_PREFIX "seed-only: "
  TEST_SPEC "deploy without*,a deployment the platform fails*,a late watcher*,a dropped platform stream*,an agent killed mid-deployment*,unknown and malformed*,the same tree always*,deploy of a real-looking*"
  PROPERTIES ENVIRONMENT BACKEND_IM_TEST_SEED_ONLY=1)
bim_label_discovered_tests(agent_integration_seed_only_TESTS integration grpc seed-only)

add_test(NAME test_names_survive_ctest COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/check_test_names.sh)
set_tests_properties(test_names_survive_ctest PROPERTIES LABELS unit)
add_test(NAME systemd_unit_verifies_clean
         COMMAND ${CMAKE_COMMAND} -E env BACKEND_IMD=$<TARGET_FILE:backend-imd>
                 ${PROJECT_SOURCE_DIR}/scripts/check-unit.sh ${PROJECT_SOURCE_DIR}/systemd/backend-imd.service --man=no)
set_tests_properties(systemd_unit_verifies_clean PROPERTIES LABELS unit)
