// progress.hpp: the progress line on a terminal.
#include "cli/progress.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/print.hpp"

namespace minify::cli {

namespace {

// Redrawn at most this often.
constexpr auto kRedraw = std::chrono::milliseconds(200);

// Shown once a step has run this long: a second, or MINIFY_PROGRESS_AFTER seconds (0 shows every
// step; the tests use it to see a quick pack's line).
std::chrono::steady_clock::duration show_after() {
  const char* v = std::getenv("MINIFY_PROGRESS_AFTER");
  if (v && *v) {
    char* end = nullptr;
    double s = std::strtod(v, &end);
    if (end && *end == '\0' && s >= 0 && s < 1e6)
      return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
  }
  return std::chrono::seconds(1);
}

size_t terminal_width() {
  struct winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

}  // namespace

ProgressLine::ProgressLine(Context& ctx, std::function<void(const Diagnostic&)> print) {
  if (!::isatty(STDERR_FILENO)) {
    ctx.on_report(std::move(print));
    return;
  }
  ctx.on_report([this, print = std::move(print)](const Diagnostic& d) {
    std::lock_guard lock(mu_);
    erase_locked();
    print(d);
    std::cerr.flush();
  });
  show_after_ = show_after();
  ctx.on_progress([this](const Progress& p) { update(p); });
}

void ProgressLine::end() {
  stop_ticker();
  std::lock_guard lock(mu_);
  erase_locked();
}

void ProgressLine::update(const Progress& p) {
  auto now = Clock::now();
  {
    std::lock_guard lock(mu_);
    if (p.finished) {
      active_ = false;
      erase_locked();
    } else {
      if (!active_ || p.step != step_ || p.what != what_) {
        active_ = true;
        step_ = p.step;
        what_ = p.what;
        start_ = now;
      }
      done_ = p.done;
      total_ = p.total;
      if (now - start_ >= show_after_ && now - last_draw_ >= kRedraw) draw_locked();
    }
  }
  if (p.finished) {
    stop_ticker();
    return;
  }
  if (!ticker_.joinable()) {
    stopping_ = false;
    // The ticker takes no signal: SIGINT, SIGCHLD and the tracer's timers go to the thread that
    // waits for them.
    sigset_t all, old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    ticker_ = std::thread([this] {
      std::unique_lock lock(mu_);
      while (!stopping_) {
        cv_.wait_for(lock, kRedraw);
        if (!stopping_ && active_ && Clock::now() - start_ >= show_after_ && Clock::now() - last_draw_ >= kRedraw)
          draw_locked();
      }
    });
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
}

void ProgressLine::stop_ticker() {
  if (!ticker_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  ticker_.join();
}

void ProgressLine::draw_locked() {
  auto now = Clock::now();
  last_draw_ = now;
  long secs = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(now - start_).count());
  std::string line = "minify: " + step_ + ": " + what_;
  if (total_ > 0) {
    char pct[16];
    std::snprintf(pct, sizeof pct, " (%d%%)", static_cast<int>(done_ * 100 / total_ > 100 ? 100 : done_ * 100 / total_));
    line += ", " + format_bytes(done_) + " of " + format_bytes(total_) + pct;
  } else if (done_ > 0) {
    line += ", " + format_bytes(done_);
  }
  line += ", " + std::to_string(secs) + " s";
  // One screen line at most: a wrapped line cannot be rewritten with "\r".
  size_t width = terminal_width();
  if (line.size() >= width) line.resize(width > 1 ? width - 1 : 0);
  std::string out = "\r" + line + "\x1b[K";
  (void)!::write(STDERR_FILENO, out.data(), out.size());
  shown_ = true;
}

void ProgressLine::erase_locked() {
  if (!shown_) return;
  static constexpr char kErase[] = "\r\x1b[K";
  (void)!::write(STDERR_FILENO, kErase, sizeof kErase - 1);
  shown_ = false;
}

}  // namespace minify::cli
