# galvatron-worker's own libraries built from source, for a worker-only
# build (-DGALVATRON_WORKER_ONLY=ON -DGALVATRON_WORKER_SOURCES=DIR): Abseil,
# Protocol Buffers (library and protoc), spdlog, {fmt}, CLI11 and
# nlohmann/json from the Debian source packages that
# scripts/fetch-worker-sources.sh unpacks into DIR.
#
# Why: a LibTorch built with the pre-C++11 std::string ABI (PyTorch's wheels
# before 2.7) can only be linked with libraries built with that ABI too, and
# no distribution packages them so; and a GPU node may have PyTorch without
# these libraries or a network. Everything here — the libraries and this
# project's code — is compiled with the ABI and C++ standard that the
# LibTorch asks for, decided below before any of it is configured.

# A relative folder is taken from the source tree (worker-sources: where
# scripts/fetch-worker-sources.sh writes by default).
get_filename_component(sources "${GALVATRON_WORKER_SOURCES}" ABSOLUTE BASE_DIR "${CMAKE_SOURCE_DIR}")
if(NOT GALVATRON_WORKER_ONLY)
  message(FATAL_ERROR
    "GALVATRON_WORKER_SOURCES=${GALVATRON_WORKER_SOURCES}: building the libraries from source is "
    "for galvatron-worker alone; add -DGALVATRON_WORKER_ONLY=ON (the planner, agent and clients "
    "use the system's packages)")
endif()
# SYSTEM (3.25): the libraries' headers are system headers to this project's
# warnings, as the packages' in /usr/include are.
if(CMAKE_VERSION VERSION_LESS 3.25)
  message(FATAL_ERROR "GALVATRON_WORKER_SOURCES needs CMake 3.25 or later (this is ${CMAKE_VERSION})")
endif()
foreach(package abseil protobuf spdlog fmtlib cli11 nlohmann-json3)
  if(NOT EXISTS "${sources}/${package}/CMakeLists.txt")
    message(FATAL_ERROR
      "GALVATRON_WORKER_SOURCES=${GALVATRON_WORKER_SOURCES}: ${sources}/${package}/CMakeLists.txt "
      "not found; expected the folder scripts/fetch-worker-sources.sh writes (run it, or carry "
      "its folder to this machine)")
  endif()
endforeach()

# --- what the LibTorch asks for, read before it is found -------------------
# find_package(Torch) comes later: Debian's LibTorch looks for the system's
# Protocol Buffers when found, which must not be mixed with the one built here.
# So its TorchConfig.cmake and ATen.h are read directly.
set(GALVATRON_CXX11_ABI "" CACHE STRING
    "std::string ABI (0 or 1) when no LibTorch decides it (-DGALVATRON_WITH_TORCH=OFF)")
if(GALVATRON_WITH_TORCH)
  if(NOT GALVATRON_CXX11_ABI STREQUAL "")
    message(WARNING "GALVATRON_CXX11_ABI=${GALVATRON_CXX11_ABI} is ignored: the LibTorch decides the ABI")
  endif()
  # Where find_package(Torch) will look, in its order: Torch_DIR, then the
  # prefixes (the variable, then the environment's), then the system's.
  set(torch_search_paths ${Torch_DIR} ${CMAKE_PREFIX_PATH} $ENV{Torch_DIR})
  string(REPLACE ":" ";" env_prefixes "$ENV{CMAKE_PREFIX_PATH}")
  list(APPEND torch_search_paths ${env_prefixes})
  if(CMAKE_LIBRARY_ARCHITECTURE)
    list(APPEND torch_search_paths /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/cmake)
  endif()
  list(APPEND torch_search_paths /usr/lib/cmake /usr/local/share/cmake /usr/share/cmake)
  # Not cached: a changed GALVATRON_TORCH is read afresh on every configure.
  find_file(torch_config_file TorchConfig.cmake
    PATHS ${torch_search_paths}
    PATH_SUFFIXES . Torch share/cmake/Torch lib/cmake/Torch
    NO_DEFAULT_PATH NO_CACHE)
  if(NOT torch_config_file)
    message(FATAL_ERROR "GALVATRON_WORKER_SOURCES: no TorchConfig.cmake found in ${torch_search_paths}; "
                        "name the LibTorch with GALVATRON_TORCH")
  endif()
  get_filename_component(torch_config_file "${torch_config_file}" ABSOLUTE)
  set(GALVATRON_TORCH_CONFIG_FILE "${torch_config_file}")
  file(READ "${torch_config_file}" torch_config_text)
  set(GALVATRON_CXX11_ABI 1)
  if(torch_config_text MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
    set(GALVATRON_CXX11_ABI 0)
  endif()
  # The C++ standard: the one the config sets on the torch target (what
  # GalvatronDependencies.cmake checks once it is found); failing that, the
  # one its ATen.h demands (TORCH_INSTALL_PREFIX is three folders above the
  # config file in an archive or a wheel; Debian's headers are in /usr/include).
  set(torch_cxx_standard 0)
  if(torch_config_text MATCHES "CXX_STANDARD[ \t]+([0-9]+)")
    set(torch_cxx_standard ${CMAKE_MATCH_1})
  endif()
  get_filename_component(torch_prefix "${torch_config_file}" DIRECTORY)
  get_filename_component(torch_prefix "${torch_prefix}/../../.." ABSOLUTE)
  find_file(aten_header ATen/ATen.h PATHS "${torch_prefix}/include" /usr/include
            NO_DEFAULT_PATH NO_CACHE)
  if(aten_header)
    file(READ "${aten_header}" aten_text)
    if(aten_text MATCHES "C\\+\\+20 or later" AND torch_cxx_standard LESS 20)
      set(torch_cxx_standard 20)
    endif()
  endif()
  if(torch_cxx_standard GREATER CMAKE_CXX_STANDARD)
    set(CMAKE_CXX_STANDARD ${torch_cxx_standard})
  endif()
else()
  # No LibTorch to ask: -DGALVATRON_WITH_TORCH=OFF builds the libraries and the
  # parts of the worker that do not use it, e.g. to check them with the old
  # ABI (scripts/check-worker-sources.sh).
  if(GALVATRON_CXX11_ABI STREQUAL "")
    set(GALVATRON_CXX11_ABI 1)
  endif()
  set(GALVATRON_TORCH_CONFIG_FILE "GALVATRON_CXX11_ABI")
endif()
if(NOT GALVATRON_CXX11_ABI MATCHES "^[01]$")
  message(FATAL_ERROR "GALVATRON_CXX11_ABI=${GALVATRON_CXX11_ABI}: expected 0 (the pre-C++11 "
                      "std::string ABI) or 1 (the C++11 ABI)")
endif()
add_compile_definitions(_GLIBCXX_USE_CXX11_ABI=${GALVATRON_CXX11_ABI})
message(STATUS "Worker libraries from source in ${sources}: std::string ABI "
                "${GALVATRON_CXX11_ABI}, C++${CMAKE_CXX_STANDARD} (from ${GALVATRON_TORCH_CONFIG_FILE})")

# --- the libraries -----------------------------------------------------------
# Their options as normal variables (CMP0077), tests, examples, documentation
# and install rules off; projects that ask for CMake older than 3.5 are let
# through by CMake 4 (CMAKE_POLICY_VERSION_MINIMUM).
set(CMAKE_POLICY_DEFAULT_CMP0077 NEW)
set(CMAKE_POLICY_VERSION_MINIMUM 3.5)
set(BUILD_SHARED_LIBS OFF)
set(BUILD_TESTING OFF)

set(ABSL_PROPAGATE_CXX_STD ON)
set(ABSL_ENABLE_INSTALL OFF)
set(ABSL_BUILD_TESTING OFF)
add_subdirectory("${sources}/abseil" _deps/abseil EXCLUDE_FROM_ALL SYSTEM)

set(protobuf_BUILD_TESTS OFF)
set(protobuf_BUILD_CONFORMANCE OFF)
set(protobuf_BUILD_EXAMPLES OFF)
set(protobuf_BUILD_PROTOC_BINARIES ON)
set(protobuf_BUILD_SHARED_LIBS OFF)
set(protobuf_INSTALL OFF)
set(protobuf_WITH_ZLIB OFF)
add_subdirectory("${sources}/protobuf" _deps/protobuf EXCLUDE_FROM_ALL SYSTEM)
# protoc built here knows no system include folder: the well-known types
# (google/protobuf/*.proto) are in the source tree.
set(GALVATRON_PROTOC_IMPORT_DIRS "${sources}/protobuf/src")

set(FMT_INSTALL OFF)
set(FMT_TEST OFF)
set(FMT_DOC OFF)
add_subdirectory("${sources}/fmtlib" _deps/fmtlib EXCLUDE_FROM_ALL SYSTEM)
set(SPDLOG_FMT_EXTERNAL ON)
set(SPDLOG_BUILD_EXAMPLE OFF)
set(SPDLOG_BUILD_TESTS OFF)
set(SPDLOG_INSTALL OFF)
add_subdirectory("${sources}/spdlog" _deps/spdlog EXCLUDE_FROM_ALL SYSTEM)

set(CLI11_BUILD_TESTS OFF)
set(CLI11_BUILD_EXAMPLES OFF)
set(CLI11_BUILD_DOCS OFF)
set(CLI11_INSTALL OFF)
add_subdirectory("${sources}/cli11" _deps/cli11 EXCLUDE_FROM_ALL SYSTEM)
set(JSON_BuildTests OFF)
set(JSON_Install OFF)
add_subdirectory("${sources}/nlohmann-json3" _deps/nlohmann-json3 EXCLUDE_FROM_ALL SYSTEM)

unset(BUILD_TESTING)
unset(BUILD_SHARED_LIBS)
# LibTorch's config must take the Protocol Buffers built here (Debian's
# LibTorch asks for protobuf::libprotobuf and protobuf::protoc), never look
# for the system's. (Debian's libtorch.so still loads the system's
# libprotobuf.so — the same 3.21.12; the worker's own copy is linked in
# statically and takes precedence. PyTorch's wheels carry theirs hidden.)
set(CMAKE_DISABLE_FIND_PACKAGE_Protobuf TRUE)
