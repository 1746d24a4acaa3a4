#pragma once

namespace kiln {

// How many CPUs this process may really use: the CPUs it may run on, lowered to a container's
// CPU quota (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us), rounded up. At least 1.
unsigned available_cpus() noexcept;

// The same from the raw inputs, for tests: a quota of zero or less means none.
unsigned cpus_within_quota(unsigned affinity_cpus, long quota_us, long period_us) noexcept;

}  // namespace kiln
