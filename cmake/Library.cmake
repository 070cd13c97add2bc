# bim_add_library(NAME SOURCE...): the static library bim_NAME with its alias bim::NAME, whose
# users include its headers by their path in the repository ("conformance/check.h").
function(bim_add_library name)
  add_library(bim_${name} STATIC ${ARGN})
  add_library(bim::${name} ALIAS bim_${name})
  target_include_directories(bim_${name} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()
