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

inline QString qs(const std::string& text)
{
    return QString::fromStdString(text);
}

} // namespace featscope::cli
