# Every dependency comes from Debian packages (scripts/install-deps.sh),
# except, optionally, LibTorch (GALVATRON_TORCH below). A worker-only build
# (GALVATRON_WORKER_ONLY) needs only what galvatron-worker links: Protocol
# Buffers (messages, no services), Abseil, spdlog, CLI11, nlohmann/json and
# LibTorch — no gRPC, SQLite, yaml-cpp, cpp-httplib or Catch2.
find_package(Threads REQUIRED)

# LibTorch: Debian's (CPU, with c10d and Gloo) by default. Only agent/probe,
# agent/compute_profile, agent/runtime and agent/worker may link it.
# GALVATRON_TORCH (a CMake variable, or the environment variable of that
# name) picks another: the directory of an unpacked LibTorch archive (or any
# prefix holding TorchConfig.cmake), or a Python interpreter whose PyTorch
# to use ("python3", "/opt/venv/bin/python"): its
# torch.utils.cmake_prefix_path, as PyTorch's C++ docs build extensions.
# CMAKE_PREFIX_PATH works too. Such a LibTorch may be a 2.x with CUDA and
# NCCL (agent/runtime/comm/torch_compat.h keeps the code building on both).
if(NOT DEFINED GALVATRON_TORCH AND DEFINED ENV{GALVATRON_TORCH})
  set(GALVATRON_TORCH "$ENV{GALVATRON_TORCH}")
endif()
set(GALVATRON_TORCH "${GALVATRON_TORCH}" CACHE STRING
    "LibTorch to build the workers against: a LibTorch directory or a Python with PyTorch (empty: Debian's)")
set(torch_required QUIET)
if(GALVATRON_WITH_TORCH)
  if(GALVATRON_TORCH)
    set(torch_required REQUIRED)
    if(IS_DIRECTORY "${GALVATRON_TORCH}")
      list(PREPEND CMAKE_PREFIX_PATH "${GALVATRON_TORCH}")
    else()
      execute_process(
        COMMAND "${GALVATRON_TORCH}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
        OUTPUT_VARIABLE torch_prefix ERROR_VARIABLE torch_error RESULT_VARIABLE torch_rc
        OUTPUT_STRIP_TRAILING_WHITESPACE)
      if(NOT torch_rc EQUAL 0)
        message(FATAL_ERROR "GALVATRON_TORCH=${GALVATRON_TORCH}: expected a LibTorch directory or "
                            "a Python interpreter with PyTorch installed; running it failed: "
                            "${torch_error}")
      endif()
      list(PREPEND CMAKE_PREFIX_PATH "${torch_prefix}")
      # A pip install keeps NCCL's header in its own package (nvidia-nccl-cu*).
      execute_process(
        COMMAND "${GALVATRON_TORCH}" -c
                "import os, nvidia.nccl; print(os.path.join(list(nvidia.nccl.__path__)[0], 'include'))"
        OUTPUT_VARIABLE GALVATRON_TORCH_NCCL_HINT ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    endif()
  endif()
endif()

# GALVATRON_WORKER_SOURCES: a worker-only build compiles these from source
# instead (cmake/GalvatronWorkerSources.cmake says when and why).
set(GALVATRON_WORKER_SOURCES "" CACHE STRING
    "Folder from scripts/fetch-worker-sources.sh (relative: to the source tree): build the worker's libraries from it (worker-only builds)")
set(GALVATRON_PROTOC_IMPORT_DIRS)
if(GALVATRON_WORKER_SOURCES)
  include(GalvatronWorkerSources)
else()
  find_package(Protobuf REQUIRED)
  find_package(absl CONFIG REQUIRED)
  find_package(spdlog CONFIG REQUIRED)
  find_package(CLI11 CONFIG REQUIRED)
  find_package(nlohmann_json CONFIG REQUIRED)
endif()
if(NOT GALVATRON_WORKER_ONLY)
  find_package(gRPC CONFIG REQUIRED)
  find_package(SQLite3 REQUIRED)
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
endif()

# Found after the libraries: with GALVATRON_WORKER_SOURCES, LibTorch's config
# must see the Protocol Buffers built from source.
set(GALVATRON_HAVE_TORCH OFF)
set(GALVATRON_TORCH_HAS_CUDA OFF)
if(GALVATRON_WITH_TORCH)
  find_package(Torch CONFIG ${torch_required})
  if(Torch_FOUND)
    set(GALVATRON_HAVE_TORCH ON)
    # The libraries (Abseil, Protocol Buffers, spdlog, ...) pass std::string
    # across their interfaces: they must use the LibTorch's std::string ABI.
    # The system's packages use the C++11 ABI; built from source
    # (GALVATRON_WORKER_SOURCES) they use the ABI read from the LibTorch.
    set(torch_abi 1)
    if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
      set(torch_abi 0)
    endif()
    if(GALVATRON_WORKER_SOURCES AND NOT torch_abi EQUAL GALVATRON_CXX11_ABI)
      message(FATAL_ERROR
        "LibTorch at ${TORCH_INSTALL_PREFIX} uses std::string ABI ${torch_abi} (TORCH_CXX_FLAGS: "
        "${TORCH_CXX_FLAGS}), but the libraries were configured for ABI ${GALVATRON_CXX11_ABI} from "
        "${GALVATRON_TORCH_CONFIG_FILE}: a different LibTorch; name it with GALVATRON_TORCH")
    elseif(NOT GALVATRON_WORKER_SOURCES AND torch_abi EQUAL 0)
      message(FATAL_ERROR
        "LibTorch at ${TORCH_INSTALL_PREFIX} uses the pre-C++11 std::string ABI "
        "(TORCH_CXX_FLAGS: ${TORCH_CXX_FLAGS}); the system's Abseil, Protocol Buffers and spdlog use "
        "the C++11 ABI and cannot be linked with it. Build the worker alone, with its libraries "
        "built from source with that ABI: scripts/fetch-worker-sources.sh, then "
        "-DGALVATRON_WORKER_ONLY=ON -DGALVATRON_WORKER_SOURCES=worker-sources (docs/gpu.md), and "
        "start the agent (built with the system's LibTorch) with --worker pointing at it; or use a "
        "LibTorch with the C++11 ABI (PyTorch's Linux wheels from 2.7 on, the 'cxx11-abi' LibTorch "
        "archives)")
    endif()
    # The C++ standard the LibTorch's headers need (2.14 on: C++20), which
    # its config records on the torch target.
    get_target_property(torch_cxx_standard torch CXX_STANDARD)
    if(torch_cxx_standard AND torch_cxx_standard GREATER CMAKE_CXX_STANDARD)
      if(GALVATRON_WORKER_SOURCES)
        message(FATAL_ERROR "LibTorch at ${TORCH_INSTALL_PREFIX} needs C++${torch_cxx_standard}, but "
                            "the libraries were configured for C++${CMAKE_CXX_STANDARD} from "
                            "${GALVATRON_TORCH_CONFIG_FILE}: a different LibTorch; name it with "
                            "GALVATRON_TORCH")
      endif()
      set(CMAKE_CXX_STANDARD ${torch_cxx_standard})
    endif()
    if(TARGET c10_cuda OR TORCH_CUDA_LIBRARIES)
      set(GALVATRON_TORCH_HAS_CUDA ON)
    endif()
    message(STATUS "LibTorch ${Torch_VERSION}: ${TORCH_INSTALL_PREFIX} "
                   "(C++${CMAKE_CXX_STANDARD}, std::string ABI ${torch_abi}; "
                   "CUDA and NCCL paths: ${GALVATRON_TORCH_HAS_CUDA})")
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
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${GALVATRON_TORCH_NCCL_HINT} ${CUDAToolkit_INCLUDE_DIRS}
            /usr/local/cuda/include /usr/include)
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
