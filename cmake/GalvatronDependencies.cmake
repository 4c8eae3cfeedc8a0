# Every dependency comes from Debian packages (scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
# Galvatron's search settings file (search_dist.yaml) for `galvatron-planner
# search --galvatron-yaml`.
find_package(yaml-cpp CONFIG REQUIRED)
if(GALVATRON_BUILD_TESTS)
  find_package(Catch2 CONFIG REQUIRED)
endif()

find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

# The dashboard: cpp-httplib serves its pages (HTTP and HTTPS, with
# OpenSSL), Chart.js draws its charts in the browser (compiled into the
# binary).
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
find_package(OpenSSL REQUIRED)
find_package(ZLIB REQUIRED)
find_file(GALVATRON_CHART_JS chart.min.js PATHS /usr/share/javascript/chart.js NO_DEFAULT_PATH)
if(NOT GALVATRON_CHART_JS)
  message(FATAL_ERROR "Chart.js not found at /usr/share/javascript/chart.js/chart.min.js: "
                      "install Debian's libjs-chart.js (scripts/install-deps.sh does)")
endif()

# LibTorch (CPU build with c10d and Gloo). Only agent/probe, agent/profiler and
# agent/runtime may link it.
set(GALVATRON_HAVE_TORCH OFF)
if(GALVATRON_WITH_TORCH)
  find_package(Torch CONFIG QUIET)
  if(Torch_FOUND)
    set(GALVATRON_HAVE_TORCH ON)
    message(STATUS "LibTorch: ${TORCH_INSTALL_PREFIX}")
  else()
    message(WARNING "LibTorch not found: workers will not be built "
                    "(install libtorch-dev libgloo-dev, or -DGALVATRON_WITH_TORCH=OFF)")
  endif()
endif()

# CUDA and NCCL are optional: found at /usr/local/cuda (or CUDAToolkit_ROOT) when present.
set(GALVATRON_HAVE_CUDA OFF)
if(NOT GALVATRON_WITH_CUDA STREQUAL "OFF")
  if(NOT DEFINED CUDAToolkit_ROOT AND EXISTS /usr/local/cuda)
    set(CUDAToolkit_ROOT /usr/local/cuda)
  endif()
  find_package(CUDAToolkit QUIET)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include /usr/include)
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu)
  if(CUDAToolkit_FOUND)
    set(GALVATRON_HAVE_CUDA ON)
    message(STATUS "CUDA toolkit: ${CUDAToolkit_VERSION} (${CUDAToolkit_LIBRARY_DIR}); NCCL: ${NCCL_LIBRARY}")
  elseif(GALVATRON_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "GALVATRON_WITH_CUDA=ON but no CUDA toolkit was found")
  else()
    message(STATUS "CUDA toolkit not found: building the CPU paths only")
  endif()
endif()
