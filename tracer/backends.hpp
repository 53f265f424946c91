// The two tracers behind run_trace() (run_trace.cpp picks one).
#pragma once

#include <string>

#include "minify/result.hpp"
#include "minify/trace.hpp"

namespace minify::tracer {

// The ptrace + seccomp tracer (tracer.cpp).
Result<TraceLog> run_ptrace(const TraceOptions& options);

// The eBPF tracer (bpf/bpf_tracer.cpp). When it cannot be used at all (not built in, no BTF,
// no privileges, the kernel refuses the program), returns an error before starting anything and
// sets *unavailable to the reason, so `auto` can fall back to ptrace.
Result<TraceLog> run_bpf(const TraceOptions& options, std::string* unavailable);

}  // namespace minify::tracer
