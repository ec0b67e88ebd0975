# Build helpers shared by every library: one static library per folder under src/, named
# halley_<name> with the alias halley::<name>, and one test binary per library built from the
# *_test.cc files beside the sources.

function(halley_apply_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                         -Woverloaded-virtual -Wimplicit-fallthrough -Wformat=2)
  if(HALLEY_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 at -O3 reports -Wrestrict for `"literal" + std::string` (GCC bug 105329).
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
endfunction()

if(HALLEY_SANITIZE)
  add_compile_options(-fsanitize=${HALLEY_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${HALLEY_SANITIZE})
endif()
if(CMAKE_BUILD_TYPE STREQUAL "Debug")
  add_compile_definitions(_GLIBCXX_ASSERTIONS)
endif()

# halley_add_library(name SRCS a.cc a_test.cc ... DEPS halley::x EXTERNAL lib TEST_DEPS lib)
function(halley_add_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;EXTERNAL;TEST_DEPS" ${ARGN})
  set(lib_srcs ${ARG_SRCS})
  set(test_srcs ${ARG_SRCS})
  list(FILTER lib_srcs EXCLUDE REGEX "_test\\.cc$")
  list(FILTER test_srcs INCLUDE REGEX "_test\\.cc$")
  add_library(halley_${name} STATIC ${lib_srcs})
  add_library(halley::${name} ALIAS halley_${name})
  target_include_directories(halley_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(halley_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_EXTERNAL})
  halley_apply_warnings(halley_${name})
  if(HALLEY_BUILD_TESTS AND test_srcs)
    add_executable(halley_${name}_tests ${test_srcs})
    target_link_libraries(halley_${name}_tests PRIVATE halley_${name} ${ARG_EXTERNAL}
                          ${ARG_TEST_DEPS} GTest::gmock GTest::gtest_main)
    halley_apply_warnings(halley_${name}_tests)
    gtest_discover_tests(halley_${name}_tests DISCOVERY_TIMEOUT 60
                         PROPERTIES LABELS unit)
  endif()
endfunction()
