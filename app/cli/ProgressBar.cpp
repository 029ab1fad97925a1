#include "ProgressBar.h"

#include <unistd.h>

#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

namespace featscope::cli {

ProgressBar::ProgressBar(std::size_t total, std::size_t done, Style style)
    : total_(total), start_(done), style_(style), enabled_(style == Style::Lines || ::isatty(2) == 1)
{
}

void ProgressBar::update(std::size_t done, bool last)
{
    if (!enabled_)
        return;
    const auto now = Clock::now();
    if (!last && now - lastDraw_ < std::chrono::milliseconds(100))
        return;
    lastDraw_ = now;
    if (style_ == Style::Lines) {
        std::cerr << "progress " << done << " " << total_ << "\n" << std::flush;
        return;
    }
    const double seconds = std::chrono::duration<double>(now - begin_).count();
    const double rate = seconds > 0 ? double(done - start_) / seconds : 0.0;
    const double fraction = total_ ? double(done) / double(total_) : 1.0;
    constexpr int width = 30;
    const int filled = int(fraction * width);
    std::ostringstream line;
    line << "\r[" << std::string(std::size_t(filled), '#') << std::string(std::size_t(width - filled), '.') << "] "
         << done << "/" << total_ << " " << int(fraction * 100) << "% " << std::fixed << std::setprecision(1)
         << rate << " img/s";
    if (rate > 0 && done < total_) {
        const long eta = long(double(total_ - done) / rate);
        line << " ETA " << eta / 60 << ":" << std::setw(2) << std::setfill('0') << eta % 60;
    }
    line << "   ";
    std::cerr << line.str() << (last ? "\n" : "") << std::flush;
    drawn_ = true;
}

void ProgressBar::clear()
{
    if (enabled_ && drawn_ && style_ == Style::Terminal)
        std::cerr << "\n";
    drawn_ = false;
}

} // namespace featscope::cli
