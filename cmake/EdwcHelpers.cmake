# Small helpers so that every folder declares its library and tests the same way.

# Warning flags live on one INTERFACE target that every edwc target links.
add_library(edwc_warnings INTERFACE)
target_compile_options(edwc_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)

# Asio and Beast are compiled once (gateway/asio_impl.cc); every user must agree.
add_library(edwc_asio_flags INTERFACE)
target_compile_definitions(edwc_asio_flags INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED)

# edwc_library(NAME SOURCES a.cc b.cc DEPS x y)
function(edwc_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE edwc_warnings)
endfunction()

# edwc_test(NAME SOURCES a_test.cc DEPS lib [LABELS l] [FILTER gtest-filter] [PROPERTIES ...])
# FILTER limits which tests ctest discovers (helpers that run only as child processes).
# One executable per test folder file set; each TEST() becomes its own ctest entry so
# that `ctest -j` spreads them over the cores.
function(edwc_test name)
  cmake_parse_arguments(ARG "" "FILTER" "SOURCES;DEPS;LABELS;PROPERTIES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main edwc_warnings)
  # GCC 12 at -O2 reports std::variant and string concatenation in test bodies falsely
  # (GCC bugs 105329, 105651); the library code keeps both warnings.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${name} PRIVATE -Wno-maybe-uninitialized -Wno-restrict)
  endif()
  set(props ${ARG_PROPERTIES})
  if(EDWC_SANITIZE STREQUAL "thread")
    list(APPEND props ENVIRONMENT
      "TSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/tsan.supp halt_on_error=1")
  endif()
  if(ARG_LABELS)
    list(APPEND props LABELS "${ARG_LABELS}")
  endif()
  set(filter)
  if(ARG_FILTER)
    set(filter TEST_FILTER "${ARG_FILTER}")
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_PREFIX "${name}." ${filter}
    PROPERTIES ${props})
endfunction()
