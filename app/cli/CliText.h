#pragma once

// Small text helpers of featscope-cli's messages and JSON outputs.

#include <QString>

#include <string>

namespace featscope::cli {

/// `text` in single quotes, as every featscope message names a file or a value.
inline std::string quote(const std::string& text)
{
    return "'" + text + "'";
}

/// Whether `text` ends with `suffix` (C++17's std::string has no ends_with).
inline bool endsWith(const std::string& text, const std::string& suffix)
{
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline QString qs(const std::string& text)
{
    return QString::fromStdString(text);
}

} // namespace featscope::cli
