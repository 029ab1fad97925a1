#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

namespace featscope {

/// An op in a model's code that reaches outside the model, or that featscope does not know.
struct UnsafeOp {
    std::string op;     ///< qualified op name, e.g. "aten::save"
    std::string reason; ///< what it can do, in words
    std::string method; ///< qualified method or function that calls it
};

/// Every op in any method of `module` (and the functions they call) that touches files,
/// processes or the network, and every custom op outside LibTorch's own namespaces.
std::vector<UnsafeOp> findUnsafeOps(const torch::jit::Module& module);

/// Unsafe calls in an archive's code (the texts of its code/*.py entries) when it defines
/// `__setstate__`, found without loading it: torch::jit::load runs every `__setstate__` before
/// findUnsafeOps can see the module. Conservative: once any class has a `__setstate__`, an unsafe call
/// anywhere in the code counts (the hook may reach it indirectly). Returns the calls as written,
/// e.g. "torch.save".
std::vector<std::string> findUnsafeCallsRunAtLoad(const std::vector<std::string>& codeTexts);

/// A one-paragraph refusal listing `ops`, telling the user how to allow them.
std::string describeUnsafeOps(const std::vector<UnsafeOp>& ops, const std::string& path,
                              const std::string& allowHint);

} // namespace featscope
