#include "SourceText.h"

#include <torch/csrc/jit/frontend/source_range.h>

#include <regex>

namespace featscope {

namespace {

std::string generatingText(const torch::jit::Node* node)
{
    const auto& range = node->sourceRange();
    if (!range.source())
        return {};
    if (const auto original = range.findSourceRangeThatGenerated())
        return original->text().str();
    return {};
}

// The tracer records "file.py(63): forward" lines of the Python stack instead of code.
bool looksLikePythonStack(const std::string& text)
{
    static const std::regex stackLine(R"(^[^\n]*\.py\(\d+\): \S+)");
    return std::regex_search(text, stackLine);
}

} // namespace

std::string originalSourceText(const torch::jit::Node* node)
{
    std::string text = generatingText(node);
    return looksLikePythonStack(text) ? std::string() : text;
}

bool isTracedNode(const torch::jit::Node* node)
{
    return looksLikePythonStack(generatingText(node));
}

} // namespace featscope
