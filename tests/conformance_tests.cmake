# The conformance suite (conformance/, backend-im-contract-test): units of its shape checker,
# report and checks over fakes, and the real binary run against backend-im-mock in every mode
# (all extensions, --seed-only, --read-only, --device-login, injected 503/429, and each --break
# mode, which must fail naming the check). `ctest -L conformance` runs both.
bim_add_test(conformance_unit_tests
  SOURCES unit/conformance/shape_test.cc unit/conformance/report_test.cc
          unit/conformance/suite_test.cc unit/conformance/environment_checks_test.cc
          unit/conformance/domain_checks_test.cc
          unit/conformance/log_checks_test.cc
  LIBS bim::conformance
  LABELS unit conformance)

bim_add_test(conformance_integration_tests
  SOURCES integration/conformance_suite_test.cc
  LIBS bim::common bim_test_support nlohmann_json::nlohmann_json
  LABELS integration conformance)
target_compile_definitions(conformance_integration_tests PRIVATE
  BIM_BIN_DIR="${CMAKE_RUNTIME_OUTPUT_DIRECTORY}")
add_dependencies(conformance_integration_tests backend-im-contract-test backend-im-mock)
