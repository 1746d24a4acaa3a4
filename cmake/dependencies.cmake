# Every dependency is a Debian 12 package. When one is missing, configuring stops with the name
# of the package to install instead of a generic "not found".

function(kiln_require_package found package what)
  if(NOT ${found})
    message(FATAL_ERROR
      "kiln needs ${what}, which was not found.\n"
      "Install it with: apt-get install ${package}\n"
      "(or run scripts/bootstrap, which installs everything kiln needs)")
  endif()
endfunction()

# libuv: the event loop of every worker.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(LIBUV QUIET IMPORTED_TARGET libuv)
endif()
kiln_require_package(LIBUV_FOUND libuv1-dev "libuv (and pkg-config to find it)")

# spdlog and the fmt it is built on.
find_package(fmt QUIET CONFIG)
kiln_require_package(fmt_FOUND libfmt-dev "fmt")
find_package(spdlog QUIET CONFIG)
kiln_require_package(spdlog_FOUND libspdlog-dev "spdlog")

# toml++ for the configuration file.
find_package(tomlplusplus QUIET CONFIG)
kiln_require_package(tomlplusplus_FOUND libtomlplusplus-dev "toml++")

# nlohmann/json for the JSON helpers of the application interface.
find_package(nlohmann_json 3 QUIET CONFIG)
kiln_require_package(nlohmann_json_FOUND nlohmann-json3-dev "nlohmann/json")

# llhttp: Debian's node-llhttp ships the generated C sources and the header, not a library, so
# kiln compiles them into a static library of its own. Strict mode makes llhttp reject the
# lenient forms (bare LF, spaces in the target, ...) that request smuggling relies on.
set(KILN_LLHTTP_SOURCE_DIR "/usr/share/llhttp" CACHE PATH "Directory with llhttp's C sources")
set(KILN_LLHTTP_INCLUDE_DIR "/usr/share/include/llhttp" CACHE PATH "Directory with llhttp.h")
if(EXISTS "${KILN_LLHTTP_SOURCE_DIR}/llhttp.c" AND EXISTS "${KILN_LLHTTP_INCLUDE_DIR}/llhttp.h")
  set(KILN_LLHTTP_FOUND TRUE)
endif()
kiln_require_package(KILN_LLHTTP_FOUND node-llhttp "llhttp's C sources")
add_library(llhttp STATIC
  "${KILN_LLHTTP_SOURCE_DIR}/llhttp.c"
  "${KILN_LLHTTP_SOURCE_DIR}/api.c"
  "${KILN_LLHTTP_SOURCE_DIR}/http.c")
target_include_directories(llhttp SYSTEM PUBLIC "${KILN_LLHTTP_INCLUDE_DIR}")
target_compile_definitions(llhttp PUBLIC LLHTTP_STRICT_MODE=1)
# Generated code that kiln does not own: compile it as it is, without kiln's warning flags.
target_compile_options(llhttp PRIVATE -w)
set_target_properties(llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON)

# Catch2 v2 for the tests.
if(KILN_BUILD_TESTS)
  find_package(Catch2 2 QUIET CONFIG)
  kiln_require_package(Catch2_FOUND catch2 "Catch2 v2")
endif()

# CPython, embedded: each worker hosts the team's WSGI app. Debian's python3-dev by default,
# found through /usr/bin/python3 rather than the first python3 on the PATH (a pyenv or a venv
# one would bring its own headers and library); any CPython 3.9 or later with a shared or
# static libpython can be chosen with -DPython3_EXECUTABLE=/path/to/python3.
if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "The Python whose libpython kiln embeds")
endif()
find_package(Python3 3.9 QUIET COMPONENTS Interpreter Development.Embed)
if(NOT Python3_Development.Embed_FOUND)
  set(Python3_Development.Embed_FOUND FALSE)
endif()
kiln_require_package(Python3_Development.Embed_FOUND python3-dev
  "CPython 3.9 or later with its headers and libpython (for ${Python3_EXECUTABLE})")
# The interpreter kiln was built for, so that the worker can find the same standard library at
# run time and refuse a virtual environment made by another version.
get_filename_component(KILN_PYTHON_EXECUTABLE "${Python3_EXECUTABLE}" REALPATH)
message(STATUS "kiln embeds Python ${Python3_VERSION} (${KILN_PYTHON_EXECUTABLE})")
