# Tests of `backend-im mcp` (issue #6): raw JSON-RPC over pipes against the real ctl, agent and
# mock, and the official MCP TypeScript SDK's client as an interoperability check. Label "grpc":
# they run the agent (see agent_tests.cmake).
bim_add_test(mcp_integration_tests
  SOURCES integration/mcp_protocol_test.cc integration/mcp_tools_test.cc
  LIBS bim::common bim_test_support nlohmann_json::nlohmann_json
  LABELS integration grpc)
add_dependencies(mcp_integration_tests backend-im backend-imd backend-im-mock)

# Its own main: exit 77 (skipped) without node or the SDK, unless CI=true (then it fails).
add_executable(mcp_interop_tests integration/mcp_interop_test.cc)
target_link_libraries(mcp_interop_tests PRIVATE doctest::doctest bim::build_flags bim::common
                                                bim_test_support nlohmann_json::nlohmann_json)
target_compile_definitions(mcp_interop_tests PRIVATE BIM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
set_target_properties(mcp_interop_tests PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_dependencies(mcp_interop_tests backend-im backend-imd backend-im-mock)
add_test(NAME mcp_interop_sdk_client COMMAND mcp_interop_tests)
set_tests_properties(mcp_interop_sdk_client PROPERTIES LABELS "integration;grpc" SKIP_RETURN_CODE 77
                                                       TIMEOUT 120)
