# bim_link_fully_static(TARGET): links the executable TARGET with no shared library at all, as a
# static PIE (-static-pie: still loaded at a random address). For the ctl, whose quick commands
# should cost about as much as starting a process: loading the C library and the
# dynamic loader's work (mapping, relocating and binding against libc.so) cost it ~1.2 ms, half
# of /bin/true, on the project's machine (docs/PERFORMANCE.md).
#
# Only for a target that bim_link_protobuf_statically linked (cmake/StaticGrpc.cmake): every
# library it uses must come as a static archive. Shared libraries named through
# bim_unless_fully_static drop out of its link. The linker's warnings are errors for it: glibc
# warns when a static program calls a function that would load shared libraries at run time
# (getpwnam and the rest of NSS, iconv, dlopen), which would break the point of the link. A check
# after each link fails the build when the binary still names a shared library or an
# interpreter. Not under sanitizers or for fuzzing, whose runtimes need a dynamic executable.
function(bim_link_fully_static target)
  if(BACKEND_IM_SANITIZE OR BACKEND_IM_FUZZ)
    return()
  endif()
  get_target_property(static_linked ${target} BIM_STATIC_LINKED)
  if(NOT static_linked)
    message(STATUS "${target}: linked dynamically (its libraries' static archives are missing)")
    return()
  endif()
  set_target_properties(${target} PROPERTIES BIM_FULLY_STATIC TRUE)
  # Not with -static-libstdc++: the driver wraps libstdc++ in -Bstatic/-Bdynamic, and the
  # -Bdynamic after it turns the rest of a -static-pie link dynamic (a crash at start).
  target_link_options(${target} PRIVATE -static-pie "LINKER:--fatal-warnings")
  if(CMAKE_READELF)
    add_custom_command(TARGET ${target} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -DREADELF=${CMAKE_READELF} -DBINARY=$<TARGET_FILE:${target}>
              -P ${PROJECT_SOURCE_DIR}/cmake/CheckFullyStatic.cmake
      VERBATIM)
  endif()
  message(STATUS "${target}: linked fully static (static PIE)")
endfunction()
