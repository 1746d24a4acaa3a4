#include "cpu_quota.hpp"

#include <sched.h>

#include <catch2/catch.hpp>

namespace kiln::test {

TEST_CASE("without a quota, the CPUs the process may run on count", "[cpu_quota]") {
  // cgroup v2 writes "max" for no quota, read as -1; v1 writes -1 itself.
  CHECK(cpus_within_quota(8, -1, 100000) == 8);
  CHECK(cpus_within_quota(8, 0, 100000) == 8);
  CHECK(cpus_within_quota(3, -1, 0) == 3);
  // A period of zero or less cannot divide the quota: no quota either.
  CHECK(cpus_within_quota(4, 100000, 0) == 4);
  CHECK(cpus_within_quota(4, 100000, -1) == 4);
}

TEST_CASE("a quota lowers the count, rounded up", "[cpu_quota]") {
  CHECK(cpus_within_quota(8, 200000, 100000) == 2);
  CHECK(cpus_within_quota(8, 150000, 100000) == 2);
  CHECK(cpus_within_quota(8, 100001, 100000) == 2);
  CHECK(cpus_within_quota(8, 100000, 100000) == 1);
  CHECK(cpus_within_quota(64, 350000, 100000) == 4);
  CHECK(cpus_within_quota(8, 50000, 50000) == 1);
  CHECK(cpus_within_quota(8, 175000, 50000) == 4);
  // Half a CPU is still one worker.
  CHECK(cpus_within_quota(8, 50000, 100000) == 1);
  CHECK(cpus_within_quota(8, 1, 100000) == 1);
}

TEST_CASE("a quota above the allowed CPUs does not raise the count", "[cpu_quota]") {
  CHECK(cpus_within_quota(2, 400000, 100000) == 2);
  CHECK(cpus_within_quota(2, 200000, 100000) == 2);
  CHECK(cpus_within_quota(1, 1000000, 100000) == 1);
}

TEST_CASE("the count is at least one", "[cpu_quota]") {
  CHECK(cpus_within_quota(0, -1, 100000) == 1);
  CHECK(cpus_within_quota(0, 400000, 100000) == 1);
  CHECK(cpus_within_quota(0, 0, 0) == 1);
}

TEST_CASE("available_cpus() is between one and the CPUs this process may run on", "[cpu_quota]") {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
  auto affinity = static_cast<unsigned>(CPU_COUNT(&set));
  unsigned cpus = available_cpus();
  CHECK(cpus >= 1);
  CHECK(cpus <= affinity);
  // It does not change from one call to the next.
  CHECK(available_cpus() == cpus);
}

}  // namespace kiln::test
