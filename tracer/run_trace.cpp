// run_trace(): picks the tracer (TraceOptions::tracer) and falls back from eBPF to ptrace for
// `auto`, saying why in TraceLog::fallback.
#include <cerrno>

#include "backends.hpp"
#include "minify/trace.hpp"
#include "minify/version.hpp"

namespace minify {

#ifndef MINIFY_HAVE_BPF
namespace tracer {
Result<TraceLog> run_bpf(const TraceOptions&, std::string* unavailable) {
  *unavailable =
      "minify was built without it (clang, bpftool, libbpf or the kernel's BTF were missing when it was "
      "configured)";
  return Error{ENOTSUP, "trace with", "eBPF", *unavailable};
}
}  // namespace tracer

std::optional<LibraryVersion> libbpf_version() { return std::nullopt; }
#endif

std::string_view tracer_backend_name(TracerBackend backend) {
  switch (backend) {
    case TracerBackend::Auto: return "auto";
    case TracerBackend::Bpf: return "bpf";
    case TracerBackend::Ptrace: return "ptrace";
  }
  return "?";
}

std::optional<TracerBackend> tracer_backend_from_name(std::string_view name) {
  for (TracerBackend b : {TracerBackend::Auto, TracerBackend::Bpf, TracerBackend::Ptrace})
    if (tracer_backend_name(b) == name) return b;
  return std::nullopt;
}

Result<TraceLog> run_trace(const TraceOptions& options) {
  if (options.tracer == TracerBackend::Ptrace) return tracer::run_ptrace(options);
  std::string unavailable;
  auto log = tracer::run_bpf(options, &unavailable);
  if (log || unavailable.empty()) return log;
  if (options.tracer == TracerBackend::Bpf)
    return Error{ENOTSUP, "trace with", "eBPF", unavailable};
  auto fallback = tracer::run_ptrace(options);
  if (fallback) fallback->fallback = std::move(unavailable);
  return fallback;
}

}  // namespace minify
