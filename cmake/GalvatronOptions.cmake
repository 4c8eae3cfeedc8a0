# Compiler settings shared by every target.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

# Warnings apply to our own code only (generated protobuf code is excluded in
# proto/CMakeLists.txt).
add_library(galvatron_warnings INTERFACE)
target_compile_options(galvatron_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter)
