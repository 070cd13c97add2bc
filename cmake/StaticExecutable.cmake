# bim_link_cxx_runtime_statically(TARGET): links libstdc++ and libgcc into the executable TARGET.
# Loading libstdc++.so, libm and libgcc_s and relocating against them costs a process about
# 0.6x /bin/true on the project's machine (a C++ no-op: 1.64x dynamic, 1.04x static), a large
# share of the ctl's budget (issue 17, docs/PERFORMANCE.md).
#
# Only for a target that loads no C++ shared library: one would bring libstdc++.so back and the
# process would hold two C++ runtimes. A check after each link fails the build when the binary
# still needs libstdc++.so. Not under sanitizers or for fuzzing, whose runtimes want the shared
# one.
function(bim_link_cxx_runtime_statically target)
  if(BACKEND_IM_SANITIZE OR BACKEND_IM_FUZZ)
    return()
  endif()
  target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc)
  if(CMAKE_READELF)
    add_custom_command(TARGET ${target} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -DREADELF=${CMAKE_READELF} -DBINARY=$<TARGET_FILE:${target}>
              -P ${PROJECT_SOURCE_DIR}/cmake/CheckNoSharedCxxRuntime.cmake
      VERBATIM)
  endif()
endfunction()
