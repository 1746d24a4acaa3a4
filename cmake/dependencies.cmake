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
