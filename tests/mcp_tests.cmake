# Tests of `backend-im mcp`: raw JSON-RPC over pipes against the real ctl, agent and
# mock, and the official MCP TypeScript SDK's client as an interoperability check. Label "grpc":
# they run the agent (see agent_tests.cmake).
bim_add_test(mcp_integration_tests
  SOURCES integration/mcp_protocol_test.cc integration/mcp_tools_test.cc
          integration/mcp_login_test.cc
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
add_test(NAME mcp_interop_sdk_client COMMAND mcp_interop_tests
                                              --test-case-exclude=*task*,*2026-07-28*,*login*page*,*Inspector*)
# SDK 1.32 driving 2025-11-25 tasks, the 2.x client speaking 2026-07-28, and both clients
# answering the login's URL elicitation.
add_test(NAME mcp_interop_sdk_tasks COMMAND mcp_interop_tests --test-case=*task*
                                              --test-case-exclude=*Inspector*)
add_test(NAME mcp_interop_client_2026 COMMAND mcp_interop_tests --test-case=*2026-07-28*
                                                --test-case-exclude=*Inspector*)
add_test(NAME mcp_interop_login COMMAND mcp_interop_tests --test-case=*login*page*)
# The inspector's CLI deploying as a 2026-07-28 task (it needs the node 22 below, or fails in CI).
add_test(NAME mcp_interop_inspector_task COMMAND mcp_interop_tests --test-case=*Inspector*)
set_tests_properties(mcp_interop_sdk_client mcp_interop_sdk_tasks mcp_interop_client_2026
                     mcp_interop_login mcp_interop_inspector_task
                     PROPERTIES LABELS "integration;grpc" SKIP_RETURN_CODE 77 TIMEOUT 120)

# The MCP Inspector's CLI lists the tools in both eras (tests/mcp-inspector/run.sh). It needs node
# >= 22.19, which scripts/test.sh fetches from the npm registry; exit 77 (skipped) without it.
add_test(NAME mcp_interop_inspector
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/mcp-inspector/run.sh $<TARGET_FILE:backend-im>)
set_tests_properties(mcp_interop_inspector PROPERTIES LABELS "integration" SKIP_RETURN_CODE 77
                                                      TIMEOUT 120)

# The MCP server's parts in-process: a fake McpToolProvider, output kept in memory, simulated time.
bim_add_test(mcp_unit_tests
  SOURCES unit/ctl/mcp/jsonrpc_test.cc unit/ctl/mcp/session_test.cc unit/ctl/mcp/tasks_test.cc
          unit/ctl/mcp/elicitation_test.cc
  LIBS bim::ctl
  LABELS unit)
