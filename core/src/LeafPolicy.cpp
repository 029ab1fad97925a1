#include "LeafPolicy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>

namespace featscope {
namespace {

bool startsWith(const std::string& s, const std::string& prefix)
{
    return s.compare(0, prefix.size(), prefix) == 0;
}

std::string lastComponent(const std::string& qualified)
{
    const auto dot = qualified.rfind('.');
    return dot == std::string::npos ? qualified : qualified.substr(dot + 1);
}

// torch.fx's Tracer.is_leaf_module: classes defined in torch.nn (and torch.ao.nn), except Sequential.
// ModuleList and ModuleDict are never called, so they never reach this check.
bool isTorchNnLeaf(const std::string& name)
{
    if (!startsWith(name, "torch.nn.") && !startsWith(name, "torch.ao.nn."))
        return false;
    return lastComponent(name) != "Sequential";
}

// torchvision's _get_leaf_modules_for_ops(): every nn.Module class exported by torchvision.ops.
// Subclasses count too (isinstance); the torchvision models that subclass one are listed below.
constexpr std::array<const char*, 19> torchvisionLeafClasses = {
    "torchvision.ops.deform_conv.DeformConv2d",
    "torchvision.ops.drop_block.DropBlock2d",
    "torchvision.ops.drop_block.DropBlock3d",
    "torchvision.ops.feature_pyramid_network.FeaturePyramidNetwork",
    "torchvision.ops.misc.Conv2dNormActivation",
    "torchvision.ops.misc.Conv3dNormActivation",
    "torchvision.ops.misc.FrozenBatchNorm2d",
    "torchvision.ops.misc.MLP",
    "torchvision.ops.misc.Permute",
    "torchvision.ops.misc.SqueezeExcitation",
    "torchvision.ops.poolers.MultiScaleRoIAlign",
    "torchvision.ops.ps_roi_align.PSRoIAlign",
    "torchvision.ops.ps_roi_pool.PSRoIPool",
    "torchvision.ops.roi_align.RoIAlign",
    "torchvision.ops.roi_pool.RoIPool",
    "torchvision.ops.stochastic_depth.StochasticDepth",
    // Subclasses of the classes above defined in torchvision.models (0.14).
    "torchvision.models.quantization.mobilenetv3.QuantizableSqueezeExcitation",
    "torchvision.models.regnet.SimpleStemIN",
    "torchvision.models.vision_transformer.MLPBlock",
};

// Functions torchvision registers with torch.fx.wrap outside torchvision.ops.
constexpr std::array<const char*, 7> fxWrappedFunctions = {
    "torchvision.models.swin_transformer._patch_merging_pad",
    "torchvision.models.swin_transformer._get_relative_position_bias",
    "torchvision.models.swin_transformer.shifted_window_attention",
    "torchvision.models.video.mvit._unsqueeze",
    "torchvision.models.video.mvit._squeeze",
    "torchvision.models.video.mvit._add_rel_pos",
    "torchvision.models.video.mvit._add_shortcut",
};

// torch._jit_internal.boolean_dispatch gives the dispatcher the public name while TorchScript
// compiles the private implementation chosen for a constant flag.
std::string undoBooleanDispatch(const std::string& function)
{
    static const std::regex dispatched(
        "_(max_pool[123]d|adaptive_max_pool[123]d|fractional_max_pool[23]d)(_with_indices)?");
    std::smatch match;
    if (std::regex_match(function, match, dispatched))
        return match[1].str();
    return function;
}

} // namespace

LeafPolicy::LeafPolicy(std::vector<std::string> extraLeafModules, std::vector<std::string> extraLeafFunctions)
    : extraLeafModules_(std::move(extraLeafModules)), extraLeafFunctions_(std::move(extraLeafFunctions))
{
}

// A plain scan rather than std::regex: this runs for every call node while naming.
std::string LeafPolicy::pythonName(const std::string& torchscriptName)
{
    static const std::string mangle = "___torch_mangle_";
    static const std::string torchPrefix = "__torch__.";
    std::string name;
    name.reserve(torchscriptName.size());
    std::size_t copied = 0;
    for (std::size_t found = torchscriptName.find(mangle, copied); found != std::string::npos;
         found = torchscriptName.find(mangle, found + 1)) {
        std::size_t end = found + mangle.size();
        while (end < torchscriptName.size() && std::isdigit(static_cast<unsigned char>(torchscriptName[end])))
            ++end;
        if (end == found + mangle.size() || end == torchscriptName.size() || torchscriptName[end] != '.')
            continue; // not "___torch_mangle_<digits>."
        name.append(torchscriptName, copied, found - copied);
        copied = end + 1;
        found = end;
    }
    name.append(torchscriptName, copied, std::string::npos);
    if (startsWith(name, torchPrefix))
        name.erase(0, torchPrefix.size());
    return name;
}

bool LeafPolicy::isLeafModule(const std::string& torchscriptClassName) const
{
    const auto cached = leafModuleCache_.find(torchscriptClassName);
    if (cached != leafModuleCache_.end())
        return cached->second;
    const std::string name = pythonName(torchscriptClassName);
    const auto matches = [&](const auto& candidate) { return name == candidate; };
    const bool leaf = isTorchNnLeaf(name)
        || std::any_of(torchvisionLeafClasses.begin(), torchvisionLeafClasses.end(), matches)
        || std::any_of(extraLeafModules_.begin(), extraLeafModules_.end(), matches);
    leafModuleCache_.emplace(torchscriptClassName, leaf);
    return leaf;
}

const std::string& LeafPolicy::leafFunctionName(const std::string& torchscriptFunctionName) const
{
    const auto cached = leafFunctionCache_.find(torchscriptFunctionName);
    if (cached != leafFunctionCache_.end())
        return cached->second;
    return leafFunctionCache_.emplace(torchscriptFunctionName, uncachedLeafFunctionName(torchscriptFunctionName))
        .first->second;
}

std::string LeafPolicy::uncachedLeafFunctionName(const std::string& torchscriptFunctionName) const
{
    const std::string name = pythonName(torchscriptFunctionName);
    const std::string function = lastComponent(name);
    // torch functions dispatch to the tracer through __torch_function__ and become one node.
    if (startsWith(name, "torch.nn.functional.") || startsWith(name, "torch.functional."))
        return undoBooleanDispatch(function);
    // autowrap_modules=(math, torchvision.ops): the public functions of torchvision.ops.
    if (startsWith(name, "torchvision.ops.") && !startsWith(function, "_"))
        return function;
    const auto matches = [&](const char* candidate) { return name == candidate; };
    if (std::any_of(fxWrappedFunctions.begin(), fxWrappedFunctions.end(), matches)
        || std::any_of(extraLeafFunctions_.begin(), extraLeafFunctions_.end(), [&](const std::string& candidate) { return name == candidate; }))
        return function;
    return {};
}

} // namespace featscope
