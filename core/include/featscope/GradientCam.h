#pragma once

// Class activation maps (Grad-CAM and relatives) at any tensor node of a TorchScript model,
// without Python and without hooks.

#include <featscope/FeatureExtraction.h>
#include <featscope/TensorLayout.h>

#include <torch/script.h>

#include <optional>
#include <string>
#include <vector>

namespace featscope {

/// Keys of the dict a node-gradient module's forward returns.
inline constexpr const char* kGradientActivationKey = "activation"; ///< the node's value
inline constexpr const char* kGradientProbeKey = "probe";           ///< d(anything)/d(probe) = d/d(node)
inline constexpr const char* kGradientOutputKey = "output";         ///< the model's output

/// Builds, from `module` in eval mode, a module whose forward takes the model's inputs and returns
/// Dict[str, Tensor] {"activation": node value, "probe": zeros shaped like it, "output": model
/// output}, where the gradient of anything computed from "output" with respect to "probe" is its
/// gradient with respect to the node (see core/src/InsertGradientProbe.h). Run it with gradients
/// enabled. Throws featscope::Error for an unknown or non-tensor node, a node inside control flow,
/// or a model whose output is not a tensor.
torch::jit::Module createNodeGradientModule(const torch::jit::Module& module, const std::string& node,
                                            const FeatureExtractionOptions& options = {});

enum class CamMethod {
    GradCam,         ///< weights = spatial mean of the gradient; map = ReLU(sum_c w_c A_c)
    GradCamPlusPlus, ///< Grad-CAM++ weights (Chattopadhay et al. 2018, pytorch-grad-cam's form)
    GradTimesActivation ///< map = ReLU(sum_c dY/dA_c * A_c), per position
};

/// "gradcam", "gradcam++" or "gradxact".
const char* toString(CamMethod method);
/// Parses the names toString gives; nullopt for anything else.
std::optional<CamMethod> parseCamMethod(const std::string& text);

struct CamRequest {
    CamMethod method = CamMethod::GradCam;
    /// The class whose score is explained; the top predicted class when unset.
    std::optional<std::int64_t> classIndex;
    /// Forced layout of the node's value; detected (detectTensorLayout) when unset.
    std::optional<TensorLayoutKind> layout;
    /// The model input's spatial size, for layout detection.
    std::optional<InputSize> inputSize;
};

struct CamResult {
    torch::Tensor map;     ///< float32 [H, W] at the node's grid, ReLU applied, not normalised
    torch::Tensor scores;  ///< the model's output for batch item 0, float32 [K]
    std::int64_t classIndex = 0; ///< the class explained
    TensorLayout layout;   ///< how the node's value was read
    std::vector<std::int64_t> nodeShape;
};

/// Runs a module made by createNodeGradientModule on `inputs` (batch of one) and computes the map
/// for request.classIndex (or the top class). Throws featscope::Error when the output is not
/// [1, K] scores, the class is out of range, the node's value has no spatial grid in the chosen
/// layout, or no gradient reaches the node.
CamResult computeCam(torch::jit::Module& gradientModule, const std::vector<c10::IValue>& inputs,
                     const CamRequest& request);

/// The map from a node's activation and its gradient, both [C, H, W] (batch item 0, channels
/// first): the formula of `method` alone, for callers that have the tensors already.
torch::Tensor camFromGradients(const torch::Tensor& activation, const torch::Tensor& gradient, CamMethod method);

} // namespace featscope
