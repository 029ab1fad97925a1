#include "CamCommand.h"

#include "CommandLine.h"
#include "ExitCodes.h"
#include "ImageInput.h"
#include "ModelLoading.h"
#include "NpyFile.h"

#include <featscope/AtomicFile.h>
#include <featscope/Errors.h>
#include <featscope/GradientCam.h>

#include <torch/script.h>

#include <QBuffer>
#include <QImage>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace featscope::cli {

const char* const camUsage = R"(Usage: featscope-cli cam MODEL.pt IMAGE --node NODE -o OUT.npy|OUT.png
                         [--class C] [--method gradcam|gradcam++|gradxact]
                         [--layout auto|nchw|nhwc|tokens] [--alpha A] [--threads N]
                         [--leaf-module QUALNAME]... [--leaf-function QUALNAME]...
                         [--ops-library PATH]... [--allow-unsafe-ops]

Where the model looks: a class activation map at node NODE of MODEL.pt (eval
mode) for one image, without hooks. The gradient of the class score reaches the
node through a zero-valued probe added to its value.

Preprocessing is the same as for 'features': the model's featscope.json when it
has one, else ImageNet's. Prints the class explained, its score, the top-5
classes (named from featscope.json's "classes" when present) and the layout the
node's value was read in.

Methods:
  gradcam    ReLU(sum_c w_c A_c), w_c = mean of dScore/dA_c over the grid
  gradcam++  the same with Grad-CAM++ weights
  gradxact   ReLU(sum_c dScore/dA_c * A_c), position by position

Options:
  --node NODE        the node to explain at (a truncated name works); its value
                     needs a spatial grid
  --class C          the class to explain, an index or a name from "classes"
                     (default: the top predicted class)
  --method M         gradcam (default), gradcam++ or gradxact
  --layout L         how the node's value is read: auto (default), nchw
                     [N, C, H, W], nhwc [N, H, W, C] (ConvNeXt, Swin) or tokens
                     [N, T, C] with T = H*W or 1 + H*W (a leading class token is
                     dropped); auto guesses from the shape and the input size
  --alpha A          opacity of the map over the image in a .png (default 0.5)
  --threads N        LibTorch threads (default: $OMP_NUM_THREADS, else every
                     core this process may use)
  --leaf-module QUALNAME also treat this module class as a leaf (repeatable)
  --leaf-function QUALNAME
                     keep calls of this function as one node (repeatable)
  --ops-library PATH load this library of custom TorchScript ops first; its
                     code runs as trusted (repeatable; torchvision's own is
                     loaded by itself when the model calls its ops)
  --allow-unsafe-ops run the model even if its code writes or reads files,
                     talks to the network or uses unknown custom ops
  -o, --output OUT   OUT.npy: float32 [H, W] at the node's grid, ReLU applied,
                     not normalised; OUT.png: the map, scaled to its maximum,
                     upsampled (bilinear) and overlaid on the input as the model
                     sees it (after resize and crop). Written atomically.
  -h, --help         show this help
)";

namespace {

std::string lowerExtension(const std::string& path)
{
    const auto dot = path.rfind('.');
    std::string extension = dot == std::string::npos ? "" : path.substr(dot);
    std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return extension;
}

std::string className(const Preprocessing& prep, std::int64_t index)
{
    if (index >= 0 && std::size_t(index) < prep.classes.size())
        return std::to_string(index) + " '" + prep.classes[std::size_t(index)] + "'";
    return std::to_string(index);
}

// --class takes an index or a name from the model's classes.
std::int64_t parseClass(const std::string& text, const Preprocessing& prep)
{
    const auto named = std::find(prep.classes.begin(), prep.classes.end(), text);
    if (named != prep.classes.end())
        return std::int64_t(named - prep.classes.begin());
    try {
        std::size_t used = 0;
        const long long value = std::stoll(text, &used);
        if (used == text.size() && value >= 0)
            return value;
    } catch (const std::exception&) {
    }
    throw UsageError{"--class needs a class index (0, 1, ...) or one of the model's class names, not '" + text + "'"};
}

std::string npyBytes(const torch::Tensor& map)
{
    const torch::Tensor values = map.to(torch::kFloat32).contiguous();
    std::string bytes = npyHeader(std::uint64_t(values.size(0)), std::uint64_t(values.size(1)));
    bytes.append(static_cast<const char*>(values.data_ptr()), std::size_t(values.numel()) * sizeof(float));
    return bytes;
}

// A perceptually ordered blue-cyan-yellow-red ramp (jet without its dark ends).
QRgb colourOf(float t)
{
    const float r = std::clamp(1.5f - std::abs(4.0f * t - 3.0f), 0.0f, 1.0f);
    const float g = std::clamp(1.5f - std::abs(4.0f * t - 2.0f), 0.0f, 1.0f);
    const float b = std::clamp(1.5f - std::abs(4.0f * t - 1.0f), 0.0f, 1.0f);
    return qRgb(int(r * 255.0f + 0.5f), int(g * 255.0f + 0.5f), int(b * 255.0f + 0.5f));
}

// The input as the model sees it (normalisation undone) with the map upsampled and blended on top.
std::string overlayPng(const torch::Tensor& input, const Preprocessing& prep, const torch::Tensor& map, double alpha)
{
    const std::int64_t channels = input.size(0), height = input.size(1), width = input.size(2);
    torch::Tensor image = input.clone();
    for (std::int64_t c = 0; c < channels; ++c) {
        const double mean = prep.mean.size() == 1 ? prep.mean[0] : prep.mean[std::size_t(c)];
        const double std = prep.std.size() == 1 ? prep.std[0] : prep.std[std::size_t(c)];
        image[c].mul_(std).add_(mean);
    }
    image = image.clamp(0, 1).expand({3, height, width}).permute({1, 2, 0}).contiguous();
    const float peak = map.max().item<float>();
    torch::Tensor heat = at::upsample_bilinear2d(map.reshape({1, 1, map.size(0), map.size(1)}), {height, width}, false)
                             .reshape({height, width});
    heat = (peak > 0 ? heat / peak : heat).clamp(0, 1).contiguous();
    const float* pixels = image.data_ptr<float>();
    const float* heats = heat.data_ptr<float>();
    QImage out(int(width), int(height), QImage::Format_RGB32);
    for (std::int64_t y = 0; y < height; ++y) {
        auto* line = reinterpret_cast<QRgb*>(out.scanLine(int(y)));
        for (std::int64_t x = 0; x < width; ++x) {
            const float* pixel = pixels + (y * width + x) * 3;
            const QRgb colour = colourOf(heats[y * width + x]);
            const auto blend = [&](float base, int over) {
                return int(std::lround(255.0 * ((1.0 - alpha) * base + alpha * over / 255.0)));
            };
            line[x] = qRgb(blend(pixel[0], qRed(colour)), blend(pixel[1], qGreen(colour)), blend(pixel[2], qBlue(colour)));
        }
    }
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    if (!out.save(&buffer, "PNG"))
        throw Error("Cannot encode the overlay as PNG.");
    return bytes.toStdString();
}

void printScores(const CamResult& result, const Preprocessing& prep)
{
    const torch::Tensor probabilities = result.scores.softmax(0);
    const std::int64_t top = std::min<std::int64_t>(5, result.scores.size(0));
    const torch::Tensor order = std::get<1>(result.scores.topk(top));
    std::printf("class %s: score %.6g (probability %.4f)\n", className(prep, result.classIndex).c_str(),
                result.scores[result.classIndex].item<double>(), probabilities[result.classIndex].item<double>());
    std::printf("top-%lld:\n", static_cast<long long>(top));
    for (std::int64_t i = 0; i < top; ++i) {
        const std::int64_t index = order[i].item<std::int64_t>();
        std::printf("  %s: score %.6g (probability %.4f)\n", className(prep, index).c_str(),
                    result.scores[index].item<double>(), probabilities[index].item<double>());
    }
}

} // namespace

int runCam(const std::vector<std::string>& args)
{
    const CommandLine line(args,
                           {"--node", "--class", "--method", "--layout", "--alpha", "--threads", "--leaf-module",
                            "--leaf-function", "--ops-library", "-o", "--output"},
                           {"--allow-unsafe-ops"});
    if (line.positional().size() != 2)
        throw UsageError{line.positional().size() < 2 ? "give MODEL.pt and one IMAGE" : "give one IMAGE only (a CAM explains one image)"};
    const std::string modelPath = line.positional()[0];
    const std::string imagePath = line.positional()[1];
    const std::string node = line.value("--node");
    if (node.empty())
        throw UsageError{"choose the node to explain at with --node NODE"};
    if (line.has("-o") && line.has("--output"))
        throw UsageError{"give the output once, with -o or --output"};
    const std::string output = line.has("-o") ? line.value("-o") : line.value("--output");
    const std::string extension = lowerExtension(output);
    if (extension != ".npy" && extension != ".png")
        throw UsageError{output.empty() ? "missing -o OUT.npy or -o OUT.png" : "-o must end in .npy or .png, not '" + output + "'"};
    CamRequest request;
    const std::string method = line.value("--method", "gradcam");
    const auto parsedMethod = parseCamMethod(method);
    if (!parsedMethod)
        throw UsageError{"--method must be gradcam, gradcam++ or gradxact, not '" + method + "'"};
    request.method = *parsedMethod;
    const std::string layout = line.value("--layout", "auto");
    if (layout != "auto") {
        request.layout = parseSpatialLayout(layout);
        if (!request.layout)
            throw UsageError{"--layout must be auto, nchw, nhwc or tokens, not '" + layout + "'"};
    }
    const double alpha = line.has("--alpha")
        ? decimalNumber(line.value("--alpha"), "--alpha", 0.0, 1.0, true, "a number from 0 to 1")
        : 0.5;

    const torch::jit::Module model = loadModelsToRun(line, {modelPath}, "cam").front();
    const Preprocessing prep = modelPreprocessing(modelPath);
    if (line.has("--class"))
        request.classIndex = parseClass(line.value("--class"), prep);
    const torch::Tensor input = loadImage(imagePath, prep);
    request.inputSize = InputSize{input.size(1), input.size(2)};

    torch::jit::Module gradients;
    try {
        gradients = createNodeGradientModule(model, node, extractionOptions(line));
    } catch (const UnknownNodeError& error) {
        throw UnknownNodeError(std::string(error.what()) + " (model: '" + modelPath + "')", error.suggestions());
    }
    const CamResult result = computeCam(gradients, {input.unsqueeze(0)}, request);

    printScores(result, prep);
    std::string shape;
    for (std::int64_t size : result.nodeShape)
        shape += (shape.empty() ? "" : ", ") + std::to_string(size);
    std::printf("node %s: [%s], layout %s, grid %lld x %lld%s\n", node.c_str(), shape.c_str(), toString(result.layout.kind),
                static_cast<long long>(result.layout.height), static_cast<long long>(result.layout.width),
                result.layout.classToken ? " (class token dropped)" : "");
    std::printf("method %s, map max %.6g\n", toString(request.method), result.map.max().item<double>());
    writeFileAtomically(output, extension == ".npy" ? npyBytes(result.map) : overlayPng(input, prep, result.map, alpha));
    std::printf("wrote %s\n", output.c_str());
    return kExitSuccess;
}

} // namespace featscope::cli
