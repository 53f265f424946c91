// The tracer tests run once per tracer: everything that runs under ptrace also runs under eBPF
// where the eBPF tracer can be used here, and is skipped with the reason where it cannot.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "minify/trace.hpp"

namespace minify::testing {

// Why the eBPF tracer cannot run here ("" when it can): one real trace of /bin/true, once.
inline const std::string& bpf_unavailable() {
  static const std::string why = [] {
    TraceOptions opt;
    opt.tracer = TracerBackend::Bpf;
    opt.command = {"/bin/true"};
    auto r = run_trace(opt);
    return r.ok() ? std::string() : r.error().message();
  }();
  return why;
}

inline std::string backend_test_name(const ::testing::TestParamInfo<TracerBackend>& info) {
  return info.param == TracerBackend::Bpf ? "Bpf" : "Ptrace";
}

#define MINIFY_SKIP_UNLESS_BACKEND_AVAILABLE(backend)                                             \
  do {                                                                                            \
    if ((backend) == ::minify::TracerBackend::Bpf && !::minify::testing::bpf_unavailable().empty()) \
      GTEST_SKIP() << "the eBPF tracer cannot run here: " << ::minify::testing::bpf_unavailable(); \
  } while (0)

}  // namespace minify::testing
