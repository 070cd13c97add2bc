# bim_link_grpc_statically(TARGET): when Debian's static archives are installed, links gRPC,
# protobuf (lite) and abseil into TARGET instead of loading some 50 shared libraries at every
# start (docs/PERFORMANCE.md). The unsecure gRPC flavour: the ctl and the agent talk over a Unix
# socket, which needs no TLS (the agent's HTTPS to the platform goes through libcurl). With
# --as-needed the shared copies that gRPC's CMake targets name drop out of the NEEDED list.
#
# bim_link_protobuf_statically(TARGET): the same for protobuf (lite) and nghttp2, for the ctl,
# which speaks gRPC's wire protocol itself (ctl/grpc_wire.h) and links no gRPC.
#
# Not under sanitizers or for fuzzing, whose builds want the shared libraries. Both set the
# target's property BIM_STATIC_LINKED when they did.
option(BACKEND_IM_STATIC_GRPC
  "Link gRPC, protobuf and abseil statically into backend-imd, and protobuf and nghttp2 into backend-im" ON)

# first: the project's static libraries whose gRPC and protobuf references must be resolved from
# the archives; they come again just before them on the link line, before the shared libraries.
function(_bim_link_statically target prefix modules extra first)
  if(NOT BACKEND_IM_STATIC_GRPC OR BACKEND_IM_SANITIZE OR BACKEND_IM_FUZZ)
    return()
  endif()
  pkg_check_modules(${prefix} QUIET ${modules})
  set(ok ${${prefix}_FOUND})
  set(static "")
  set(dynamic "")
  foreach(lib IN LISTS ${prefix}_STATIC_LIBRARIES extra)
    if(lib MATCHES "^(grpc|gpr|absl|protobuf|upb|re2|cares|address_sorting|nghttp2)")
      find_library(bim_static_${lib} NAMES lib${lib}.a)
      if(NOT bim_static_${lib})
        set(ok FALSE)
      endif()
      list(APPEND static ${bim_static_${lib}})
    else()
      list(APPEND dynamic ${lib})
    endif()
  endforeach()
  list(JOIN modules ", " names)
  if(ok)
    target_link_libraries(${target} PRIVATE ${first}
      "-Wl,--start-group" ${static} "-Wl,--end-group" ${dynamic})
    target_link_options(${target} PRIVATE "LINKER:--as-needed")
    set_target_properties(${target} PROPERTIES BIM_STATIC_LINKED TRUE)
    message(STATUS "${target}: ${names} linked statically")
  else()
    message(STATUS "${target}: static archives of ${names} not found; linking them dynamically")
  endif()
endfunction()

# Our messages are generated for the lite runtime, and gRPC's archives need no more of protobuf.
function(bim_link_grpc_statically target)
  # grpc_unsecure.pc leaves out the libraries gRPC core itself needs; name them too.
  _bim_link_statically(${target} BIM_STATIC_GRPC "grpc++_unsecure;protobuf-lite"
    "upb;re2;cares;address_sorting" "bim::proto_grpc;bim::proto;bim::common")
endfunction()

function(bim_link_protobuf_statically target)
  _bim_link_statically(${target} BIM_STATIC_PROTOBUF "protobuf-lite;libnghttp2" ""
    "bim::ctl;bim::grpc_wire;bim::proto_convert;bim::proto;bim::common")
endfunction()

# bim_unless_fully_static(VAR ITEM): VAR becomes a link item for ITEM, the target of a shared
# library, that drops out of an executable linked fully static (bim_link_fully_static in
# cmake/StaticExecutable.cmake): a static link cannot take a shared library, and that executable
# takes the library's archive from bim_link_protobuf_statically instead. Every other target links
# ITEM as before. (In a link, $<TARGET_PROPERTY:prop> reads the target being linked.)
function(bim_unless_fully_static var item)
  set(${var} "$<$<NOT:$<BOOL:$<TARGET_PROPERTY:BIM_FULLY_STATIC>>>:${item}>" PARENT_SCOPE)
endfunction()
