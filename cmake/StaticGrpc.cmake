# bim_link_grpc_statically(TARGET): when Debian's static archives are installed, links gRPC,
# protobuf and abseil into TARGET instead of loading some 50 shared libraries at every start
# (docs/PERFORMANCE.md). The unsecure gRPC flavour: the ctl and the agent talk over a Unix
# socket, which needs no TLS (the agent's HTTPS to the platform goes through libcurl). With
# --as-needed the shared copies that gRPC's CMake targets name drop out of the NEEDED list.
# Not under sanitizers or for fuzzing, whose builds want the shared libraries. Sets the target's
# property BIM_STATIC_GRPC when it did.
option(BACKEND_IM_STATIC_GRPC "Link gRPC, protobuf and abseil statically into backend-im and backend-imd" ON)

function(bim_link_grpc_statically target)
  if(NOT BACKEND_IM_STATIC_GRPC OR BACKEND_IM_SANITIZE OR BACKEND_IM_FUZZ)
    return()
  endif()
  # protobuf-lite: our messages are generated for the lite runtime, and gRPC's archives need none.
  pkg_check_modules(BIM_STATIC_GRPC QUIET grpc++_unsecure protobuf-lite)
  set(ok ${BIM_STATIC_GRPC_FOUND})
  set(static "")
  set(dynamic "")
  # grpc_unsecure.pc leaves out the libraries gRPC core itself needs; name them too.
  foreach(lib IN LISTS BIM_STATIC_GRPC_STATIC_LIBRARIES ITEMS upb re2 cares address_sorting)
    if(lib MATCHES "^(grpc|gpr|absl|protobuf|upb|re2|cares|address_sorting)")
      find_library(bim_static_${lib} NAMES lib${lib}.a)
      if(NOT bim_static_${lib})
        set(ok FALSE)
      endif()
      list(APPEND static ${bim_static_${lib}})
    else()
      list(APPEND dynamic ${lib})
    endif()
  endforeach()
  if(ok)
    # Our proto and common libraries come again first, so their gRPC and protobuf references are
    # resolved from the archives that follow them, before the shared libraries are reached.
    target_link_libraries(${target} PRIVATE bim::proto_grpc bim::proto bim::common
      "-Wl,--start-group" ${static} "-Wl,--end-group" ${dynamic})
    target_link_options(${target} PRIVATE "LINKER:--as-needed")
    set_target_properties(${target} PROPERTIES BIM_STATIC_GRPC TRUE)
    message(STATUS "${target}: gRPC, protobuf and abseil linked statically")
  else()
    message(STATUS "${target}: static gRPC/protobuf/abseil archives not found; linking them dynamically")
  endif()
endfunction()
