#include <featscope/GradientCam.h>

#include <featscope/ChannelGrid.h>
#include <featscope/Errors.h>

#include <torch/csrc/autograd/autograd.h>

#include <c10/core/GradMode.h>

namespace featscope {
namespace {

std::string shapeText(const std::vector<std::int64_t>& shape)
{
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

TensorLayout layoutOf(const std::vector<std::int64_t>& shape, const CamRequest& request)
{
    if (request.layout) {
        std::string error;
        TensorLayout layout = applyTensorLayout(shape, *request.layout, request.inputSize, &error);
        if (!layout.isSpatial())
            throw Error("The node's value " + shapeText(shape) + " cannot be read in layout " + toString(*request.layout)
                        + ": " + error + ". Choose another --layout, or a node with a spatial grid.");
        return layout;
    }
    TensorLayout layout = detectTensorLayout(shape, request.inputSize);
    if (!layout.isSpatial())
        throw Error("The node's value " + shapeText(shape) + " has no spatial grid to draw a map on (layout "
                    + toString(layout.kind) + "). Choose a node with feature maps [N, C, H, W], [N, H, W, C] or tokens "
                    "[N, T, C], or force one with --layout nchw|nhwc|tokens.");
    return layout;
}

} // namespace

const char* toString(CamMethod method)
{
    switch (method) {
    case CamMethod::GradCam:
        return "gradcam";
    case CamMethod::GradCamPlusPlus:
        return "gradcam++";
    case CamMethod::GradTimesActivation:
        return "gradxact";
    }
    return "gradcam";
}

std::optional<CamMethod> parseCamMethod(const std::string& text)
{
    for (CamMethod method : {CamMethod::GradCam, CamMethod::GradCamPlusPlus, CamMethod::GradTimesActivation})
        if (text == toString(method))
            return method;
    return std::nullopt;
}

torch::Tensor camFromGradients(const torch::Tensor& activation, const torch::Tensor& gradient, CamMethod method)
{
    const torch::Tensor a = activation.to(torch::kFloat32);
    const torch::Tensor g = gradient.to(torch::kFloat32);
    torch::Tensor weighted;
    switch (method) {
    case CamMethod::GradCam:
        weighted = a * g.mean({1, 2}, true);
        break;
    case CamMethod::GradCamPlusPlus: {
        // alpha = g^2 / (2 g^2 + sum(A) g^3), zero where g is; weights = sum(alpha * ReLU(g)).
        const torch::Tensor g2 = g.pow(2);
        const torch::Tensor g3 = g.pow(3);
        const torch::Tensor sumA = a.sum({1, 2}, true);
        torch::Tensor alpha = g2 / (2 * g2 + sumA * g3 + 1e-7);
        alpha = torch::where(g != 0, alpha, torch::zeros_like(alpha));
        weighted = a * (alpha * g.clamp_min(0)).sum({1, 2}, true);
        break;
    }
    case CamMethod::GradTimesActivation:
        weighted = a * g;
        break;
    }
    return weighted.sum(0).clamp_min(0).contiguous();
}

CamResult computeCam(torch::jit::Module& gradientModule, const std::vector<c10::IValue>& inputs, const CamRequest& request)
{
    torch::AutoGradMode gradients(true);
    const c10::Dict<c10::IValue, c10::IValue> values = gradientModule.forward(inputs).toGenericDict();
    const torch::Tensor activation = values.at(kGradientActivationKey).toTensor();
    const torch::Tensor probe = values.at(kGradientProbeKey).toTensor();
    const torch::Tensor output = values.at(kGradientOutputKey).toTensor();

    CamResult result;
    result.nodeShape = activation.sizes().vec();
    if (output.dim() != 2 || output.size(0) != 1)
        throw Error("The model's output is " + shapeText(output.sizes().vec())
                    + ", not class scores [1, K] for one image: a CAM explains one class score of one image.");
    result.scores = output[0].detach().to(torch::kFloat32);
    const std::int64_t classes = output.size(1);
    result.classIndex = request.classIndex ? *request.classIndex : result.scores.argmax().item<std::int64_t>();
    if (result.classIndex < 0 || result.classIndex >= classes)
        throw Error("Class " + std::to_string(result.classIndex) + " is out of range: the model has " + std::to_string(classes)
                    + " classes (0 to " + std::to_string(classes - 1) + ").");
    if (activation.size(0) != 1)
        throw Error("The node's value " + shapeText(result.nodeShape) + " has no batch dimension of 1 for the one input image.");
    result.layout = layoutOf(result.nodeShape, request);

    const torch::Tensor score = output[0][result.classIndex];
    if (!score.requires_grad())
        throw Error("No gradient reaches the class score from the node: the model's output does not depend on it.");
    const torch::Tensor gradient = torch::autograd::grad({score}, {probe}, {}, false, false, true)[0];
    if (!gradient.defined())
        throw Error("No gradient reaches the node from the class score: the model's output does not depend on it.");
    result.map = camFromGradients(channelsFirst(activation.detach(), result.layout),
                                  channelsFirst(gradient, result.layout), request.method);
    return result;
}

} // namespace featscope
