# Configures this project in ways it must refuse, checking that each configure
# fails with the message that tells the user what to do, and in ways it must
# accept, checking what it decided (a worker-only build against an old-ABI,
# C++20 LibTorch with its libraries "from source": stand-ins that define the
# libraries' targets, as only configuring is checked).
# cmake -DSOURCE_DIR=... -DWORK_DIR=... [-DGENERATOR=...] -P configure_checks.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(failures 0)

# configure(NAME ARGS...): configure with ARGS in a fresh build folder; sets
# rc, text (stdout and stderr, whitespace folded) and err in the caller.
macro(configure name)
  set(build "${WORK_DIR}/${name}")
  set(generator_args)
  if(GENERATOR)
    set(generator_args -G "${GENERATOR}")
  endif()
  execute_process(
    COMMAND ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${build}" ${generator_args} ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REGEX REPLACE "[ \t\r\n]+" " " text "${out} ${err}")
endmacro()

# fail(MESSAGE...): reports a failed check and counts it (in the caller's scope).
macro(fail)
  message(SEND_ERROR ${ARGN})
  math(EXPR failures "${failures} + 1")
endmacro()

# expect(NAME OUTCOME EXPECTED_REGEX ARGS...): the configure must end in
# OUTCOME (refused or configured) and its output match EXPECTED_REGEX.
function(expect name outcome expected)
  configure(${name} ${ARGN})
  set(got configured)
  if(NOT rc EQUAL 0)
    set(got refused)
  endif()
  if(NOT got STREQUAL outcome)
    fail("${name}: ${got}, expected it ${outcome} (output matching '${expected}'):\n${err}")
  elseif(NOT text MATCHES "${expected}")
    fail("${name}: ${got}, but the output does not match '${expected}':\n${out}\n${err}")
  else()
    message(STATUS "${name}: ${got} as expected")
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
expect(old_abi_with_system_libraries refused
  "pre-C\\+\\+11 std::string ABI.*scripts/fetch-worker-sources.sh.*GALVATRON_WORKER_SOURCES"
  -DGALVATRON_WORKER_ONLY=ON -DGALVATRON_TORCH=${old_abi_torch} -DGALVATRON_WITH_CUDA=OFF)

# Libraries from source are for the worker alone.
expect(sources_without_worker_only refused
  "GALVATRON_WORKER_SOURCES=.*-DGALVATRON_WORKER_ONLY=ON"
  -DGALVATRON_WORKER_SOURCES=${WORK_DIR}/no-such-folder -DGALVATRON_WITH_CUDA=OFF)

# A folder that is not what scripts/fetch-worker-sources.sh writes.
expect(sources_folder_missing refused
  "no-such-folder/abseil/CMakeLists.txt not found.*scripts/fetch-worker-sources.sh"
  -DGALVATRON_WORKER_ONLY=ON -DGALVATRON_WORKER_SOURCES=${WORK_DIR}/no-such-folder
  -DGALVATRON_WITH_CUDA=OFF)

# Stand-ins for the folder scripts/fetch-worker-sources.sh writes: each
# "library" defines the targets the worker links, nothing to compile but a
# protoc that is never run here.
set(stand_in_sources "${WORK_DIR}/stand-in-sources")
set(stand_in_targets
  abseil "absl::status absl::statusor absl::str_format absl::strings absl::synchronization absl::time"
  protobuf "protobuf::libprotobuf"
  spdlog "spdlog::spdlog"
  fmtlib "fmt::fmt"
  cli11 "CLI11::CLI11"
  nlohmann-json3 "nlohmann_json::nlohmann_json")
list(LENGTH stand_in_targets count)
math(EXPR last "${count} - 1")
foreach(i RANGE 0 ${last} 2)
  math(EXPR j "${i} + 1")
  list(GET stand_in_targets ${i} package)
  list(GET stand_in_targets ${j} targets)
  set(text "")
  string(REPLACE " " ";" targets "${targets}")
  foreach(target ${targets})
    string(MAKE_C_IDENTIFIER "${target}" real)
    string(APPEND text "add_library(${real} INTERFACE)\nadd_library(${target} ALIAS ${real})\n")
  endforeach()
  if(package STREQUAL "protobuf")
    file(MAKE_DIRECTORY "${stand_in_sources}/protobuf/src")
    file(WRITE "${stand_in_sources}/protobuf/protoc.cc" "int main() { return 1; }\n")
    string(APPEND text "add_executable(protoc protoc.cc)\nadd_executable(protobuf::protoc ALIAS protoc)\n")
  endif()
  file(WRITE "${stand_in_sources}/${package}/CMakeLists.txt"
       "cmake_minimum_required(VERSION 3.18)\nproject(${package} CXX)\n${text}")
endforeach()

# An old-ABI LibTorch that needs C++20: the libraries are configured with its
# ABI and standard before it is found, and the two agree once it is.
set(cxx20_torch "${WORK_DIR}/old-abi-cxx20-libtorch")
file(MAKE_DIRECTORY "${cxx20_torch}/share/cmake/Torch")
file(READ "${old_abi_torch}/share/cmake/Torch/TorchConfig.cmake" config)
file(WRITE "${cxx20_torch}/share/cmake/Torch/TorchConfig.cmake"
     "${config}set_target_properties(torch PROPERTIES CXX_STANDARD 20)\n")
expect(sources_follow_old_abi_cxx20_libtorch configured
  "Worker libraries from source in [^ ]*stand-in-sources: std::string ABI 0, C\\+\\+20.*LibTorch [^(]*\\(C\\+\\+20, std::string ABI 0"
  -DGALVATRON_WORKER_ONLY=ON -DGALVATRON_WORKER_SOURCES=${stand_in_sources}
  -DGALVATRON_TORCH=${cxx20_torch} -DGALVATRON_WITH_CUDA=OFF)

# Every compile command — the libraries' and this project's — uses that ABI
# and standard.
set(commands_file "${WORK_DIR}/sources_follow_old_abi_cxx20_libtorch/compile_commands.json")
if(EXISTS "${commands_file}")
  file(STRINGS "${commands_file}" commands REGEX "\"command\":")
  list(LENGTH commands total)
  list(FILTER commands EXCLUDE REGEX "-D_GLIBCXX_USE_CXX11_ABI=0 .*-std=c\\+\\+20 ")
  list(LENGTH commands off)
  if(total EQUAL 0 OR off GREATER 0)
    fail("sources_follow_old_abi_cxx20_libtorch: ${off} of ${total} compile commands lack "
         "-D_GLIBCXX_USE_CXX11_ABI=0 or -std=c++20")
  else()
    message(STATUS "sources_follow_old_abi_cxx20_libtorch: all ${total} compile commands use ABI 0, C++20")
  endif()
else()
  fail("sources_follow_old_abi_cxx20_libtorch: no ${commands_file}")
endif()

# An ABI given by hand must be 0 or 1 (ON would silently mean the old one).
expect(sources_abi_not_a_number refused
  "GALVATRON_CXX11_ABI=ON: expected 0 .* or 1"
  -DGALVATRON_WORKER_ONLY=ON -DGALVATRON_WORKER_SOURCES=${stand_in_sources}
  -DGALVATRON_WITH_TORCH=OFF -DGALVATRON_CXX11_ABI=ON -DGALVATRON_WITH_CUDA=OFF)

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} configure check(s) failed")
endif()
