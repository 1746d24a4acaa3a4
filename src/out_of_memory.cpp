#include "out_of_memory.hpp"

#include <new>
#include <unistd.h>

namespace kiln {
namespace {

// Called by operator new, plain or nothrow, when malloc fails: no allocation from here on.
void end_worker() {
  static constexpr char message[] = "kiln: worker out of memory: exiting\n";
  ssize_t written = ::write(STDERR_FILENO, message, sizeof message - 1);
  (void)written;
  ::_exit(worker_out_of_memory);
}

}  // namespace

void end_worker_when_memory_runs_out() noexcept {
  std::set_new_handler(end_worker);
}

}  // namespace kiln
