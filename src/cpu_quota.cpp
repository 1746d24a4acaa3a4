#include "cpu_quota.hpp"

#include <fstream>
#include <sched.h>
#include <string>
#include <thread>

namespace kiln {
namespace {

unsigned affinity_cpus() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int count = CPU_COUNT(&set);
    if (count > 0) return static_cast<unsigned>(count);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// Reads "quota period" from cgroup v2's cpu.max ("max 100000" when there is no quota), or the
// two cgroup v1 files. False when neither is there.
bool read_quota(long& quota_us, long& period_us) noexcept {
  try {
    std::ifstream v2("/sys/fs/cgroup/cpu.max");
    std::string quota;
    if (v2 >> quota >> period_us) {
      quota_us = quota == "max" ? -1 : std::stol(quota);
      return true;
    }
    std::ifstream v1_quota("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    std::ifstream v1_period("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    return static_cast<bool>(v1_quota >> quota_us) && static_cast<bool>(v1_period >> period_us);
  } catch (...) {
    return false;
  }
}

}  // namespace

unsigned cpus_within_quota(unsigned affinity, long quota_us, long period_us) noexcept {
  if (affinity == 0) affinity = 1;
  if (quota_us <= 0 || period_us <= 0) return affinity;
  long quota_cpus = (quota_us + period_us - 1) / period_us;
  return static_cast<unsigned>(std::max(1L, std::min(static_cast<long>(affinity), quota_cpus)));
}

unsigned available_cpus() noexcept {
  long quota_us = -1;
  long period_us = 0;
  if (!read_quota(quota_us, period_us)) return affinity_cpus();
  return cpus_within_quota(affinity_cpus(), quota_us, period_us);
}

}  // namespace kiln
