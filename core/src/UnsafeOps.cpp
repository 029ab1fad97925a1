#include <featscope/UnsafeOps.h>

#include "OpsLibraryLoading.h"

#include <featscope/OpsLibraries.h>

#include <torch/csrc/jit/passes/inliner.h>

#include <algorithm>
#include <cctype>

#include <map>
#include <set>

namespace featscope {
namespace {

using torch::jit::Block;
using torch::jit::Node;

// Ops of LibTorch 1.13 that read or write files or talk to other processes.
const std::map<std::string, std::string>& reachingOutside()
{
    static const std::map<std::string, std::string> ops = {
        {"aten::save", "writes a file"},
        {"aten::from_file", "reads a file"},
    };
    return ops;
}

// Namespaces of ops LibTorch itself registers; anything else is a custom op, whose code
// featscope cannot see. c10d is LibTorch's, but it is distributed communication: the network.
bool isKnownNamespace(const std::string& ns)
{
    static const std::set<std::string> known = {"aten", "prim", "quantized", "_quantized", "prepacked",
                                                "mkldnn_prepacked", "profiler", "prims", "sparse",
                                                "quantization", "onnx", "static_runtime"};
    return known.count(ns) > 0;
}

class UnsafeOpFinder {
public:
    std::vector<UnsafeOp> run(const torch::jit::Module& module)
    {
        for (const torch::jit::Module& submodule : module.modules())
            for (const torch::jit::Method& method : submodule.get_methods())
                visitFunction(method.function());
        return std::move(found_);
    }

private:
    void visitFunction(torch::jit::Function& function)
    {
        if (!visited_.insert(&function).second)
            return;
        auto* graphFunction = torch::jit::tryToGraphFunction(function);
        if (!graphFunction)
            return;
        visitBlock(graphFunction->graph()->block(), function.qualname().qualifiedName());
    }

    void visitBlock(Block* block, const std::string& method)
    {
        for (Node* node : block->nodes()) {
            for (Block* inner : node->blocks())
                visitBlock(inner, method);
            if (node->kind() == torch::jit::prim::CallFunction) {
                if (const auto type = node->input(0)->type()->cast<c10::FunctionType>())
                    visitFunction(*type->function());
                continue;
            }
            const std::string op = node->kind().toQualString();
            const std::string ns = node->kind().ns().toUnqualString();
            const auto outside = reachingOutside().find(op);
            if (outside != reachingOutside().end())
                report(op, outside->second, method);
            else if (ns == "c10d")
                report(op, "communicates with other processes over the network", method);
            else if (!isKnownNamespace(ns) && !isOpFromLoadedLibrary(op))
                report(op, "is a custom op whose code featscope cannot inspect", method);
        }
    }

    void report(const std::string& op, const std::string& reason, const std::string& method)
    {
        if (reported_.insert(op + "@" + method).second)
            found_.push_back({op, reason, method});
    }

    std::set<const torch::jit::Function*> visited_;
    std::set<std::string> reported_;
    std::vector<UnsafeOp> found_;
};

// How TorchScript's code printer writes the calls above in an archive's code/*.py.
const std::map<std::string, std::string>& printedOutsideCalls()
{
    static const std::map<std::string, std::string> calls = {{"torch.save(", "aten::save"},
                                                              {"torch.from_file(", "aten::from_file"}};
    return calls;
}

// Unsafe calls in one code file: the printed names above, and `ops.NS.` with NS not LibTorch's.
void findUnsafeCallsInText(const std::string& code, std::set<std::string>& found)
{
    for (const auto& [printed, op] : printedOutsideCalls())
        for (std::size_t at = code.find(printed); at != std::string::npos; at = code.find(printed, at + 1))
            if (at == 0 || !(std::isalnum(static_cast<unsigned char>(code[at - 1])) || code[at - 1] == '_'))
                found.insert(printed.substr(0, printed.size() - 1));
    for (const std::string& ns : opslibraries::opNamespacesCalledIn({code}))
        if (ns == "c10d" || !isKnownNamespace(ns))
            found.insert("ops." + ns);
}

} // namespace

std::vector<std::string> findUnsafeCallsRunAtLoad(const std::vector<std::string>& codeTexts)
{
    const bool hasLoadHook = std::any_of(codeTexts.begin(), codeTexts.end(),
                                         [](const std::string& code) { return code.find("def __setstate__(") != std::string::npos; });
    if (!hasLoadHook)
        return {};
    std::set<std::string> found;
    for (const std::string& text : codeTexts)
        findUnsafeCallsInText(text, found);
    return {found.begin(), found.end()};
}

std::vector<UnsafeOp> findUnsafeOps(const torch::jit::Module& module)
{
    return UnsafeOpFinder().run(module);
}

std::string describeUnsafeOps(const std::vector<UnsafeOp>& ops, const std::string& path, const std::string& allowHint)
{
    std::string list;
    for (const UnsafeOp& op : ops)
        list += (list.empty() ? "" : "; ") + op.op + " (" + op.reason + ", in " + op.method + ")";
    return "The model '" + path + "' contains ops that reach outside the model: " + list
        + ". Running it could read or change files or talk to other machines. If you trust the model's author, "
        + allowHint + ".";
}

} // namespace featscope
