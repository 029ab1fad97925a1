#include <featscope/ValueLeaves.h>

#include <sstream>

namespace featscope {
namespace {

bool holdsTensor(const c10::IValue& value)
{
    if (value.isTensor())
        return true;
    if (value.isTuple()) {
        for (const c10::IValue& element : value.toTupleRef().elements())
            if (holdsTensor(element))
                return true;
        return false;
    }
    if (value.isList()) {
        for (const c10::IValue& element : value.toListRef())
            if (holdsTensor(element))
                return true;
        return false;
    }
    if (value.isGenericDict()) {
        for (const auto& entry : value.toGenericDict())
            if (holdsTensor(entry.value()))
                return true;
        return false;
    }
    return false;
}

std::string printed(const c10::IValue& value)
{
    std::ostringstream out;
    out << value;
    return out.str();
}

/// Python's subscript for a dict key: strings quoted as repr() quotes them, anything else as printed.
std::string keySubscript(const c10::IValue& key)
{
    if (!key.isString())
        return "[" + printed(key) + "]";
    std::string quoted = "'";
    for (char c : key.toStringRef()) {
        if (c == '\\' || c == '\'')
            quoted += '\\';
        quoted += c;
    }
    return "[" + quoted + "']";
}

void split(const c10::IValue& value, const std::string& path, std::vector<ValueLeaf>& leaves)
{
    if (value.isTensor()) {
        leaves.push_back(ValueLeaf{path, value.toTensor(), {}, {}});
        return;
    }
    if (!holdsTensor(value)) {
        leaves.push_back(ValueLeaf{path, std::nullopt, value.type()->annotation_str(), printed(value)});
        return;
    }
    if (value.isTuple()) {
        const auto& elements = value.toTupleRef().elements();
        for (std::size_t i = 0; i < elements.size(); ++i)
            split(elements[i], path + "[" + std::to_string(i) + "]", leaves);
    } else if (value.isList()) {
        const c10::ArrayRef<c10::IValue> elements = value.toListRef();
        for (std::size_t i = 0; i < elements.size(); ++i)
            split(elements[i], path + "[" + std::to_string(i) + "]", leaves);
    } else {
        for (const auto& entry : value.toGenericDict())
            split(entry.value(), path + keySubscript(entry.key()), leaves);
    }
}

} // namespace

std::vector<ValueLeaf> splitValue(const c10::IValue& value)
{
    std::vector<ValueLeaf> leaves;
    split(value, "", leaves);
    return leaves;
}

} // namespace featscope
