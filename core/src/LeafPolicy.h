#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace featscope {

/// Decides, as torchvision's NodePathTracer does, which calls stay single graph nodes.
///
/// TorchScript records the Python class and function names that torch.fx decides on, but not
/// the classes' base classes, so the few torchvision models that subclass a leaf class are
/// listed by name (see torchvisionLeafClasses in the .cpp).
///
/// Answers are cached per TorchScript name (a model calls the same few classes and functions many
/// times), so one policy serves one thread; featscope makes one per public call.
class LeafPolicy {
public:
    /// `extraLeafModules`: torchvision's leaf_modules; `extraLeafFunctions`: its autowrap_functions, by
    /// qualified Python name ("mypackage.ops.box_area").
    explicit LeafPolicy(std::vector<std::string> extraLeafModules = {}, std::vector<std::string> extraLeafFunctions = {});

    /// Whether a module of this TorchScript class (e.g. "__torch__.torch.nn.modules.conv.Conv2d")
    /// is called as one node instead of being traced through.
    bool isLeafModule(const std::string& torchscriptClassName) const;

    /// The torch.fx node name of a call to this TorchScript function if torch.fx records it as
    /// one node ("relu" for torch.nn.functional.relu), or an empty string if fx traces through it.
    const std::string& leafFunctionName(const std::string& torchscriptFunctionName) const;

    /// "torch.nn.modules.conv.Conv2d" for "__torch__.torch.nn.modules.conv.___torch_mangle_3.Conv2d".
    static std::string pythonName(const std::string& torchscriptName);

private:
    std::string uncachedLeafFunctionName(const std::string& torchscriptFunctionName) const;

    std::vector<std::string> extraLeafModules_;
    std::vector<std::string> extraLeafFunctions_;
    mutable std::unordered_map<std::string, bool> leafModuleCache_;
    mutable std::unordered_map<std::string, std::string> leafFunctionCache_;
};

} // namespace featscope
