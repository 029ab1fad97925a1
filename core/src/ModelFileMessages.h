#pragma once

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

inline std::string firstLine(const std::string& text)
{
    return text.substr(0, text.find('\n'));
}

} // namespace featscope::messages
