#pragma once

#include <cstdio>
#include <cstdlib>

namespace kiln::fuzz {

// Stops the run when an invariant does not hold: libFuzzer saves the input as a crash, and a
// corpus replay fails its test.
[[noreturn]] inline void violated(const char* what, const char* file, int line) {
  std::fprintf(stderr, "invariant violated at %s:%d: %s\n", file, line, what);
  std::abort();
}

}  // namespace kiln::fuzz

#define FUZZ_REQUIRE(condition) \
  ((condition) ? (void)0 : ::kiln::fuzz::violated(#condition, __FILE__, __LINE__))
