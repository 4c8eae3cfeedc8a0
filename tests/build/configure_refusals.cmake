# Configures this project in ways it must refuse and checks that each
# configure fails with the message that tells the user what to do.
# cmake -DSOURCE_DIR=... -DWORK_DIR=... [-DGENERATOR=...] -P configure_refusals.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(failures 0)

# expect_refusal(NAME EXPECTED_REGEX ARGS...): configure with ARGS in a fresh
# build folder; the configure must fail and its output match EXPECTED_REGEX.
function(expect_refusal name expected)
  set(build "${WORK_DIR}/${name}")
  set(generator_args)
  if(GENERATOR)
    set(generator_args -G "${GENERATOR}")
  endif()
  execute_process(
    COMMAND ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${build}" ${generator_args} ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REGEX REPLACE "[ \t\r\n]+" " " text "${out} ${err}")
  if(rc EQUAL 0)
    message(SEND_ERROR "${name}: configured, expected a refusal matching '${expected}'")
    math(EXPR failures "${failures} + 1")
  elseif(NOT text MATCHES "${expected}")
    message(SEND_ERROR "${name}: refused, but the message does not match '${expected}':\n${err}")
    math(EXPR failures "${failures} + 1")
  else()
    message(STATUS "${name}: refused as expected")
  endif()
  set(failures ${failures} PARENT_SCOPE)
endfunction()

# A LibTorch built with the pre-C++11 std::string ABI, as older PyTorch
# wheels' TorchConfig.cmake describes one (only what find_package reads).
set(old_abi_torch "${WORK_DIR}/old-abi-libtorch")
file(MAKE_DIRECTORY "${old_abi_torch}/share/cmake/Torch")
file(WRITE "${old_abi_torch}/share/cmake/Torch/TorchConfig.cmake" [=[
set(TORCH_INSTALL_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../../..")
set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=0")
if(NOT TARGET torch)
  add_library(torch INTERFACE IMPORTED)
endif()
set(TORCH_LIBRARIES torch)
set(Torch_FOUND TRUE)
]=])

# With the system's libraries (C++11 ABI) it cannot link: refused, naming the
# way out (the libraries from source).
expect_refusal(old_abi_with_system_libraries
  "pre-C\\+\\+11 std::string ABI.*scripts/fetch-worker-sources.sh.*GALVATRON_WORKER_SOURCES"
  -DGALVATRON_WORKER_ONLY=ON -DGALVATRON_TORCH=${old_abi_torch} -DGALVATRON_WITH_CUDA=OFF)

# Libraries from source are for the worker alone.
expect_refusal(sources_without_worker_only
  "GALVATRON_WORKER_SOURCES=.*-DGALVATRON_WORKER_ONLY=ON"
  -DGALVATRON_WORKER_SOURCES=${WORK_DIR}/no-such-folder -DGALVATRON_WITH_CUDA=OFF)

# A folder that is not what scripts/fetch-worker-sources.sh writes.
expect_refusal(sources_folder_missing
  "no-such-folder/abseil/CMakeLists.txt not found.*scripts/fetch-worker-sources.sh"
  -DGALVATRON_WORKER_ONLY=ON -DGALVATRON_WORKER_SOURCES=${WORK_DIR}/no-such-folder
  -DGALVATRON_WITH_CUDA=OFF)

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} configuration(s) not refused as expected")
endif()
