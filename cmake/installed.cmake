# GD_TEST_INSTALLED=ON: the test suite (tests/, and the fuzz corpus replays)
# built against an INSTALLED libgdropout, found like any consumer finds it,
# instead of this tree's library.  The tests keep their target names:
# gdropout and gdropout_static stand for the installed shared object and
# archive, gdropout-plan for the installed tool (with GD_BUILD_TOOLS).
# Included from the top-level CMakeLists.txt, which returns after it.
#   cmake -S . -B build-installed -DGD_TEST_INSTALLED=ON [-DCMAKE_PREFIX_PATH=<prefix>]
# The tests still read src/internal.h for the test hooks: the archive carries
# them (hidden only in the shared object), so they must come from the same
# release as the installed library.

find_package(gdropout ${PROJECT_VERSION} EXACT REQUIRED COMPONENTS shared static)
message(STATUS "Testing the installed libgdropout: ${gdropout_DIR}")

add_library(gdropout INTERFACE)
target_link_libraries(gdropout INTERFACE gdropout::gdropout)
add_library(gdropout_static INTERFACE)
target_link_libraries(gdropout_static INTERFACE gdropout::gdropout_static)

if(GD_BUILD_TOOLS)
  # Beside the CMake package: <prefix>/lib/<multiarch>/cmake/gdropout -> <prefix>/bin.
  get_filename_component(GD_INSTALLED_PREFIX "${gdropout_DIR}/../../.." ABSOLUTE)
  if(CMAKE_LIBRARY_ARCHITECTURE AND gdropout_DIR MATCHES "/${CMAKE_LIBRARY_ARCHITECTURE}/")
    get_filename_component(GD_INSTALLED_PREFIX "${GD_INSTALLED_PREFIX}/.." ABSOLUTE)
  endif()
  find_program(GD_INSTALLED_PLAN_TOOL gdropout-plan
               HINTS ${GD_INSTALLED_PREFIX}/bin NO_DEFAULT_PATH)
  if(NOT GD_INSTALLED_PLAN_TOOL)
    message(FATAL_ERROR "gdropout-plan not found in ${GD_INSTALLED_PREFIX}/bin "
                        "(install gdropout-tools, or configure with -DGD_BUILD_TOOLS=OFF)")
  endif()
  add_executable(gdropout-plan IMPORTED)
  set_target_properties(gdropout-plan PROPERTIES IMPORTED_LOCATION ${GD_INSTALLED_PLAN_TOOL})
endif()

enable_testing()
add_subdirectory(tests)
if(EXISTS ${PROJECT_SOURCE_DIR}/fuzz/CMakeLists.txt)
  add_subdirectory(fuzz)
endif()
