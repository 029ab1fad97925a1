#pragma once

// The progress bar `features` draws on a terminal.

#include <chrono>
#include <cstddef>

namespace featscope::cli {

/// One line on stderr: "[####....] done/total percent img/s ETA m:ss", redrawn at most every 100 ms;
/// nothing when stderr is not a terminal. In Lines style (--progress-lines, for a program that shows the
/// progress itself, like the inspector) a line "progress DONE TOTAL" instead, whatever stderr is.
class ProgressBar {
public:
    enum class Style { Terminal, Lines };

    /// `done` images were finished by an earlier run: the rate counts only this run's.
    ProgressBar(std::size_t total, std::size_t done, Style style = Style::Terminal);

    void update(std::size_t done, bool last = false);
    /// Ends the bar's line so that a message can follow.
    void clear();

private:
    using Clock = std::chrono::steady_clock;
    std::size_t total_, start_;
    Style style_;
    bool enabled_;
    bool drawn_ = false;
    Clock::time_point begin_ = Clock::now();
    Clock::time_point lastDraw_{};
};

} // namespace featscope::cli
