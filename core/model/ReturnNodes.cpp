#include <featscope/ReturnNodes.h>

#include <featscope/Errors.h>

namespace featscope {

ReturnNode parseReturnNodeSpec(const std::string& spec)
{
    const auto equals = spec.find('=');
    ReturnNode node;
    node.node = spec.substr(0, equals);
    node.key = equals == std::string::npos ? node.node : spec.substr(equals + 1);
    if (node.node.empty())
        throw Error("The return node '" + spec + "' has no node name: write NODE or NODE=KEY, e.g. layer1=stage1.");
    if (node.key.empty())
        throw Error("The return node '" + spec + "' has an empty key after '=': write NODE or NODE=KEY, e.g. layer1=stage1.");
    if (node.node.size() > kMaxReturnNodeNameLength || node.key.size() > kMaxReturnNodeNameLength)
        throw Error("The return node '" + spec.substr(0, 64) + "...' is longer than "
                    + std::to_string(kMaxReturnNodeNameLength) + " characters: no node has such a name.");
    return node;
}

} // namespace featscope
