#include "SourceText.h"

#include <torch/csrc/jit/frontend/source_range.h>

#include <regex>

namespace featscope {

namespace {

c10::optional<torch::jit::SourceRange> generatingRange(const torch::jit::Node* node)
{
    const auto& range = node->sourceRange();
    if (!range.source())
        return c10::nullopt;
    return range.findSourceRangeThatGenerated();
}

std::string generatingText(const torch::jit::Node* node)
{
    const auto range = generatingRange(node);
    return range ? range->text().str() : std::string();
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

bool haveSameOriginalSource(const torch::jit::Node* a, const torch::jit::Node* b)
{
    const auto ra = generatingRange(a);
    const auto rb = generatingRange(b);
    return ra && rb && ra->source() == rb->source() && ra->start() == rb->start() && ra->end() == rb->end();
}

bool isTracedNode(const torch::jit::Node* node)
{
    return looksLikePythonStack(generatingText(node));
}

} // namespace featscope
