# cmake -DREADELF=... -DBINARY=... -P CheckNoSharedCxxRuntime.cmake: fails when BINARY, linked
# with the C++ runtime statically (StaticCxxRuntime.cmake), still needs libstdc++.so.
execute_process(COMMAND ${READELF} -d ${BINARY} OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${READELF} -d ${BINARY} failed")
endif()
if(dynamic MATCHES "libstdc\\+\\+\\.so")
  message(FATAL_ERROR "${BINARY} links the C++ runtime statically but a shared library it loads "
                      "needs libstdc++.so too: two C++ runtimes in one process. Link that library "
                      "statically, or drop bim_link_cxx_runtime_statically for this target.")
endif()
