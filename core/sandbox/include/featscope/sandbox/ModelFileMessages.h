#pragma once

#include <algorithm>
#include <string>

// Pieces of the messages loadModule and its reader process give about a model file.
namespace featscope::messages {

inline constexpr const char* kSaveHint =
    "Save a TorchScript module in Python with torch.jit.script(model).save(path) or "
    "torch.jit.trace(model, example).save(path).";

inline std::string quotedPath(const std::string& path)
{
    return "'" + path + "'";
}

/// The first non-blank line of `text` with control characters and bytes that are not UTF-8 written as
/// \xNN. LibTorch's messages quote bytes of the file, and a hostile file could put terminal escapes there;
/// some (TorchScript's compile errors) start with a line break.
inline std::string printableFirstLine(const std::string& text)
{
    static const char* hex = "0123456789abcdef";
    std::string out;
    const std::size_t start = std::min(text.find_first_not_of(" \t\r\n"), text.size());
    const std::string line = text.substr(start, text.find('\n', start) - start);
    for (std::size_t i = 0; i < line.size();) {
        const auto byte = static_cast<unsigned char>(line[i]);
        const std::size_t length = byte >= 0xf0 && byte <= 0xf4 ? 4 : byte >= 0xe0 && byte < 0xf0 ? 3 : byte >= 0xc2 && byte < 0xe0 ? 2 : 1;
        bool valid = length > 1 && i + length <= line.size();
        // U+0080..U+009F are control characters too (0x9b is a terminal's CSI).
        valid = valid && !(byte == 0xc2 && static_cast<unsigned char>(line[i + 1]) < 0xa0);
        for (std::size_t k = 1; valid && k < length; ++k)
            valid = (static_cast<unsigned char>(line[i + k]) & 0xc0) == 0x80;
        if (valid) {
            out.append(line, i, length);
            i += length;
        } else if (byte >= 0x20 && byte < 0x7f) {
            out += line[i++];
        } else {
            out += std::string("\\x") + hex[byte >> 4] + hex[byte & 15];
            ++i;
        }
    }
    return out;
}

} // namespace featscope::messages
