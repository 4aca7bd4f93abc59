# Installs dagrad from DAGRAD_BINARY_DIR into a scratch prefix, then configures, builds and runs
# a separate consumer project that finds it with find_package(dagrad CONFIG REQUIRED).
file(REMOVE_RECURSE "${SCRATCH_DIR}")
set(prefix "${SCRATCH_DIR}/prefix")
function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: ${what} failed (${rc})\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()
run_step("install" ${CMAKE_COMMAND} --install "${DAGRAD_BINARY_DIR}" --prefix "${prefix}")
set(consumer_flags "")
if(CONSUMER_SANITIZE)
  set(consumer_flags "-DCMAKE_CXX_FLAGS=-fsanitize=${CONSUMER_SANITIZE}"
                     "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${CONSUMER_SANITIZE}")
endif()
run_step("configure consumer" ${CMAKE_COMMAND} -S "${CONSUMER_SOURCE_DIR}" -B "${SCRATCH_DIR}/build"
         -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release
         -DCMAKE_CXX_COMPILER=${CONSUMER_CXX_COMPILER} ${consumer_flags})
run_step("build consumer" ${CMAKE_COMMAND} --build "${SCRATCH_DIR}/build")
execute_process(COMMAND "${SCRATCH_DIR}/build/consumer" WORKING_DIRECTORY "${SCRATCH_DIR}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE step_output ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install test: consumer failed (${rc})\n${step_output}\n${err}")
endif()
message(STATUS "consumer printed:\n${step_output}")
# [1 2] [1 -1; 2 .5] = [5, 0], + [.5 -3] = [5.5, -3] -> relu [5.5, 0]; [3 4] -> [11.5, -4] -> [11.5, 0]
if(NOT step_output MATCHES "y = float32 \\(2, 2\\) \\[\\[5.5, 0\\], \\[11.5, 0\\]\\]")
  message(FATAL_ERROR "install test: unexpected consumer output:\n${step_output}")
endif()
file(READ "${SCRATCH_DIR}/dense.dot" dot)
if(NOT dot MATCHES "cluster_dense" OR NOT dot MATCHES "float32 \\(\\?, 2\\)")
  message(FATAL_ERROR "install test: the consumer's DOT file lacks the dense cluster or shapes:\n${dot}")
endif()
# The installed program finds its library through a RUNPATH relative to itself, from any prefix
# and without LD_LIBRARY_PATH (as for a user who installs into $HOME/.local).
execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH "${prefix}/bin/dagrad" ops matmul
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "matmul\\(a, b; transpose_a: bool = false")
  message(FATAL_ERROR "install test: installed bin/dagrad ops matmul failed (${rc}):\n${out}\n${err}")
endif()
find_program(READELF readelf)
if(READELF)
  execute_process(COMMAND ${READELF} -d "${prefix}/bin/dagrad" OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT dynamic MATCHES "\\(RUNPATH\\) +Library runpath: \\[\\$ORIGIN/\\.\\./lib[^]:]*\\]")
    message(FATAL_ERROR "install test: bin/dagrad lacks the RUNPATH $ORIGIN/../lib:\n${dynamic}")
  endif()
endif()
# The README's "Building a graph in C++" program is this consumer, word for word.
file(READ "${CONSUMER_SOURCE_DIR}/main.cpp" program)
file(READ "${README}" readme)
string(FIND "${readme}" "${program}" found)
if(found EQUAL -1)
  message(FATAL_ERROR "install test: README.md no longer shows tests/install/consumer/main.cpp verbatim")
endif()
