// Running one operation on hostile input with its cost bounded and measured ("each
// fails fast with a clear error and bounded memory"). The operation runs in a forked child with
// its address space capped by RLIMIT_AS, so an allocation past the cap fails there instead of
// swapping the machine, and a deadline after which the child is killed; the parent gets what the
// operation returned, its wall time and the child's peak RSS (wait4's rusage), and asserts on them.
// Under ASan the RLIMIT_AS cap is left off (its shadow memory reserves terabytes of address space);
// the peak RSS is still measured and asserted.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace minify::testing {

struct BoundedRun {
  bool finished = false;  // the operation returned in time (no crash, no allocation failure, no kill)
  std::string result;     // what it returned, e.g. an error message
  std::string failure;    // when not finished: "killed by signal 9 at the 10 s deadline", ...
  double seconds = 0;     // wall time
  long max_rss_mib = 0;   // the child's peak resident set
};

inline constexpr std::size_t kBoundedAddressSpace = 512u << 20;

// Runs `op` in a child that may grow its address space by at most `extra_address_space` bytes
// over what the test process already maps, and that is killed after `deadline_seconds`.
BoundedRun run_bounded(const std::function<std::string()>& op, std::size_t extra_address_space = kBoundedAddressSpace,
                       double deadline_seconds = 20);

// The peak RSS (MiB) the bound tests accept: the test process itself plus 512 MiB.
long bounded_rss_limit_mib();

}  // namespace minify::testing
