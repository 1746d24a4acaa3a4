#include "open_file_limit.hpp"

#include <sys/resource.h>

#include <catch2/catch.hpp>

namespace kiln::test {
namespace {

// Lowers the soft open file limit for the test, and puts it back.
class soft_limit {
 public:
  explicit soft_limit(rlim_t value) {
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lowered = saved_;
    lowered.rlim_cur = value;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  }
  ~soft_limit() { setrlimit(RLIMIT_NOFILE, &saved_); }
  soft_limit(const soft_limit&) = delete;
  soft_limit& operator=(const soft_limit&) = delete;

 private:
  rlimit saved_{};
};

}  // namespace

TEST_CASE("a worker takes the connections its open file limit can hold", "[open_file_limit]") {
  {
    soft_limit limit(1024);
    // Two descriptors a connection, descriptors_kept for the rest: (1024 - 64) / 2.
    CHECK(connection_cap(1000) == 480);
    CHECK(connection_cap(100) == 100);
  }
  {
    soft_limit limit(100);
    CHECK(connection_cap(1000) == 18);
  }
  {
    soft_limit limit(10);
    CHECK(connection_cap(1000) == 1);  // Never none.
  }
}

TEST_CASE("at start the soft limit rises to the hard one", "[open_file_limit]") {
  rlimit hard{};
  getrlimit(RLIMIT_NOFILE, &hard);
  soft_limit limit(256);
  raise_open_file_limit(10);
  rlimit now{};
  getrlimit(RLIMIT_NOFILE, &now);
  CHECK(now.rlim_cur == hard.rlim_max);
}

}  // namespace kiln::test
