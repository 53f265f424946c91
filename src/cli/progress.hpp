// The progress line: while a long step runs (writing a rootfs or an image archive of hundreds of
// MB, unpacking an image, tracing a program that takes its time), one line on stderr that says
// how far it got, rewritten in place and erased when the step ends. Only on a terminal, and only
// for a step that has run for more than a second: a quick run prints exactly what it printed
// before, and a log file never gets carriage returns.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "minify/context.hpp"

namespace minify::cli {

class ProgressLine {
 public:
  // Prints ctx's diagnostics with `print` (erasing the progress line first), and draws ctx's
  // progress when stderr is a terminal.
  ProgressLine(Context& ctx, std::function<void(const Diagnostic&)> print);
  ~ProgressLine() { end(); }
  // Erases the line and stops the clock (a step that failed never said it finished); before the
  // caller prints its summary.
  void end();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

 private:
  using Clock = std::chrono::steady_clock;
  void update(const Progress& p);
  void stop_ticker();
  void draw_locked();
  void erase_locked();

  std::mutex mu_;
  std::condition_variable cv_;
  std::thread ticker_;  // redraws the elapsed time while a step reports nothing
  bool stopping_ = false;
  bool active_ = false;  // a step runs
  bool shown_ = false;   // the line is on the screen
  std::string step_, what_;
  uint64_t done_ = 0, total_ = 0;
  Clock::time_point start_, last_draw_;
  Clock::duration show_after_{};
};

}  // namespace minify::cli
