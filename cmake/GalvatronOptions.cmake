# Compiler settings shared by every target.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

# Warnings apply to our own code only (generated protobuf code is excluded in
# proto/CMakeLists.txt).
add_library(galvatron_warnings INTERFACE)
target_compile_options(galvatron_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter)

# RelWithDebInfo (the build scripts' default) keeps line tables only (-g1):
# backtraces and perf still name the file and line, while the full variable
# information of LibTorch's templates, which cost about 40 % of each LibTorch
# translation unit's compile time, is left out. Turn it back on for a debugger
# session with -DGALVATRON_FULL_DEBUG_INFO=ON (or build with Debug).
option(GALVATRON_FULL_DEBUG_INFO "Full debug information (-g) in RelWithDebInfo builds" OFF)
if(CMAKE_BUILD_TYPE STREQUAL "RelWithDebInfo" AND NOT GALVATRON_FULL_DEBUG_INFO)
  add_compile_options(-g1)
endif()

# libFuzzer builds (scripts/fuzz.sh, docs/fuzzing.md): clang only; every
# library is instrumented for coverage, AddressSanitizer and
# UndefinedBehaviorSanitizer, and tests/fuzz links its targets with
# libFuzzer's main instead of the replay main of ordinary builds.
option(GALVATRON_FUZZ "Build the fuzz targets with libFuzzer (clang)" OFF)
if(GALVATRON_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "GALVATRON_FUZZ needs clang (CXX=clang++), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
