# cmake -DREADELF=... -DBINARY=... -P CheckFullyStatic.cmake: fails unless BINARY, linked by
# bim_link_fully_static (StaticExecutable.cmake), is a static PIE: position-independent, with no
# interpreter and no shared library to load.
execute_process(COMMAND ${READELF} -d -l -h ${BINARY} OUTPUT_VARIABLE elf RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${READELF} ${BINARY} failed")
endif()
string(REGEX MATCHALL "Shared library: \\[[^]]*\\]" needed "${elf}")
if(needed)
  message(FATAL_ERROR "${BINARY} should link no shared library but needs: ${needed}. A library "
                      "linked through its shared target must use bim_unless_fully_static "
                      "(cmake/StaticGrpc.cmake) and come as a static archive.")
endif()
if(elf MATCHES "INTERP")
  message(FATAL_ERROR "${BINARY} should be a static PIE but names an interpreter")
endif()
if(NOT elf MATCHES "Type:[ ]+DYN")
  message(FATAL_ERROR "${BINARY} should be a static PIE (ELF type DYN), for address randomisation")
endif()
