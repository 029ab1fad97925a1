#include "SourceText.h"

#include <torch/csrc/jit/frontend/source_range.h>

#include <algorithm>
#include <cctype>

namespace featscope {

namespace {

c10::optional<torch::jit::SourceRange> generatingRange(const torch::jit::Node* node)
{
    const auto& range = node->sourceRange();
    if (!range.source())
        return c10::nullopt;
    return range.findSourceRangeThatGenerated();
}

// The range's text, copied piece by piece: a Source read from a file is a cord with a piece per
// line, and StringCordView::str() would build a std::stringstream for every node. With
// `firstLineOnly`, the copy stops at the first newline.
std::string textOf(const torch::jit::SourceRange& range, bool firstLineOnly = false)
{
    std::string text;
    if (!range.source())
        return text;
    const torch::jit::StringCordView& cord = range.source()->text_str();
    const std::size_t end = std::min(range.end(), cord.size());
    for (std::size_t position = range.start(); position < end;) {
        const c10::string_view piece = cord.iter_for_pos(position).rest_line().substr(0, end - position);
        if (piece.empty()) { // an empty first piece, which iter_for_pos(0) does not skip
            const std::string whole = range.text().str();
            return firstLineOnly ? whole.substr(0, whole.find('\n')) : whole;
        }
        const auto newline = firstLineOnly ? piece.find('\n') : c10::string_view::npos;
        if (newline != c10::string_view::npos) {
            text.append(piece.data(), newline);
            break;
        }
        text.append(piece.data(), piece.size());
        position += piece.size();
    }
    return text;
}

// The tracer records "file.py(63): forward" lines of the Python stack instead of code: the first
// line holds ".py(", digits, "): " and a non-space character. A plain scan, as this runs per node.
bool looksLikePythonStack(c10::string_view text)
{
    const c10::string_view line = text.substr(0, text.find('\n'));
    for (auto marker = line.find(".py("); marker != c10::string_view::npos; marker = line.find(".py(", marker + 1)) {
        auto position = marker + 4;
        const auto digitsStart = position;
        while (position < line.size() && std::isdigit(static_cast<unsigned char>(line[position])))
            ++position;
        if (position == digitsStart || line.substr(position, 3) != "): ")
            continue;
        position += 3;
        if (position < line.size() && !std::isspace(static_cast<unsigned char>(line[position])))
            return true;
    }
    return false;
}

} // namespace

std::string originalSourceText(const torch::jit::Node* node)
{
    const auto range = generatingRange(node);
    if (!range)
        return std::string();
    std::string text = textOf(*range);
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
    const auto range = generatingRange(node);
    return range && looksLikePythonStack(textOf(*range, true));
}

} // namespace featscope
