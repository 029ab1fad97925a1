#include "ValuesCommand.h"

#include "CliText.h"
#include "ImageInput.h"
#include "JsonWriter.h"
#include "ModelLoading.h"

#include <featscope/Errors.h>
#include <featscope/FeatureExtraction.h>
#include <featscope/NodeStatistics.h>
#include <featscope/ReturnNodes.h>
#include <featscope/ValueLeaves.h>

#include <c10/util/StringUtil.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

namespace featscope::cli {

const char* const valuesUsage = R"(Usage: featscope-cli values MODEL.pt IMAGE --return NODE[=KEY]... [--mode train|eval]
                            [--json] [--threads N] [--leaf-module QUALNAME]...
                            [--leaf-function QUALNAME]... [--ops-library PATH]...
                            [--allow-unsafe-ops]

What the chosen nodes hold for one image, whatever their type: runs the
extractor of the nodes (as 'extract' builds it) on IMAGE and prints each output.
A tensor is summarised by its shape, type, min, max and mean. A dict, list or
tuple holding tensors (an FPN's levels, attention's (output, weights)) is split
into parts named with Python's subscript, KEY['0'] or KEY[1], each printed on
its own line; any other value (ints from shape arithmetic, None, a shape) is
printed as TorchScript prints it. Preprocessing is the same as for 'features'.

Options:
  --return NODE[=KEY]  a node to print (a truncated name works; repeatable);
                       KEY names it in the output (default: NODE)
  --mode MODE          train or eval (default: eval)
  --json               print {"outputs": [{"key", "node", "path", "shape",
                       "dtype", "min", "max", "mean"} for a tensor part, or
                       {"key", "node", "path", "type", "text"} for any other]}
  --threads N          LibTorch threads (default: $OMP_NUM_THREADS, else every
                       core this process may use)
  --leaf-module QUALNAME also treat this module class as a leaf (repeatable)
  --leaf-function QUALNAME
                       keep calls of this function as one node (repeatable)
  --ops-library PATH   load this library of custom TorchScript ops first; its
                       code runs as trusted (repeatable)
  --allow-unsafe-ops   run the model even if its code writes or reads files,
                       talks to the network or uses unknown custom ops
  -h, --help           show this help
)";

namespace {

// One printed line: an output's part.
struct Shown {
    std::string key, node;
    ValueLeaf leaf;
};

// The statistics of a numeric, non-empty tensor, by the rule of `stats` and the inspector's statistics (quantized
// values dequantized); none for others (bool, complex, empty).
std::optional<NodeStatistics> rangeOf(const torch::Tensor& tensor)
{
    const bool numeric = tensor.is_quantized() || tensor.is_floating_point() || c10::isIntegralType(tensor.scalar_type(), false);
    if (tensor.numel() == 0 || !numeric)
        return std::nullopt;
    return summarizeTensor(tensor);
}

void printJson(const std::vector<Shown>& shown)
{
    std::cout << "{\"outputs\": [";
    for (std::size_t i = 0; i < shown.size(); ++i) {
        const Shown& s = shown[i];
        std::cout << (i ? ",\n  " : "\n  ") << "{\"key\": " << jsonString(s.key) << ", \"node\": " << jsonString(s.node)
                  << ", \"path\": " << jsonString(s.leaf.path);
        if (s.leaf.tensor) {
            const torch::Tensor& t = *s.leaf.tensor;
            std::cout << ", \"shape\": " << jsonIntegerArray(t.sizes().vec()) << ", \"dtype\": " << jsonString(c10::toString(t.scalar_type()));
            if (const auto range = rangeOf(t))
                std::cout << ", \"min\": " << jsonNumber(range->min) << ", \"max\": " << jsonNumber(range->max)
                          << ", \"mean\": " << jsonNumber(range->mean);
        } else {
            std::cout << ", \"type\": " << jsonString(s.leaf.type) << ", \"text\": " << jsonString(s.leaf.text);
        }
        std::cout << "}";
    }
    std::cout << (shown.empty() ? "" : "\n") << "]}\n";
}

void printTable(const std::vector<Shown>& shown)
{
    std::size_t width = 6;
    for (const Shown& s : shown)
        width = std::max(width, s.key.size() + s.leaf.path.size());
    for (const Shown& s : shown) {
        const std::string name = s.key + s.leaf.path;
        if (s.leaf.tensor) {
            const torch::Tensor& t = *s.leaf.tensor;
            std::printf("%-*s  Tensor %s %s", int(width), name.c_str(), jsonIntegerArray(t.sizes().vec()).c_str(),
                        c10::toString(t.scalar_type()));
            if (const auto range = rangeOf(t))
                std::printf("  min %.6g  max %.6g  mean %.6g", range->min, range->max, range->mean);
            std::printf("\n");
        } else {
            std::printf("%-*s  %s = %s\n", int(width), name.c_str(), s.leaf.type.c_str(), s.leaf.text.c_str());
        }
    }
}

} // namespace

int runValues(const std::vector<std::string>& args)
{
    const CommandLine line(args, {"--return", "--mode", "--threads", "--leaf-module", "--leaf-function", "--ops-library"},
                           {"--json", "--allow-unsafe-ops"});
    if (line.positional().size() != 2)
        throw UsageError{line.positional().size() < 2 ? "give MODEL.pt and one IMAGE" : "give one IMAGE only"};
    ReturnNodes nodes;
    for (const std::string& spec : line.values("--return"))
        nodes.push_back(parseReturnNodeSpec(spec));
    if (nodes.empty())
        throw UsageError{"choose at least one node with --return NODE[=KEY]"};
    const std::string modelPath = line.positional()[0];
    const Mode mode = runMode(line);
    const torch::jit::Module model = loadModelsToRun(line, {modelPath}, "values").front();
    InputSize inputSize;
    const std::vector<c10::IValue> inputs = imageAsInputs(model, modelPath, line.positional()[1], inputSize);
    torch::jit::Module extractor = [&] {
        try {
            return createFeatureExtractor(model, nodes, extractionOptions(line));
        } catch (const UnknownNodeError& error) {
            throw UnknownNodeError(std::string(error.what()) + " (model: '" + modelPath + "')", error.suggestions());
        }
    }();
    extractor.train(mode == Mode::Train);
    torch::NoGradGuard noGrad;
    const c10::impl::GenericDict outputs = extractor.forward(inputs).toGenericDict();
    std::vector<Shown> shown;
    for (const auto& entry : outputs) {
        const std::string key = entry.key().toStringRef();
        const auto node = std::find_if(nodes.begin(), nodes.end(), [&](const ReturnNode& n) { return n.key == key; });
        for (ValueLeaf& leaf : splitValue(entry.value()))
            shown.push_back({key, node != nodes.end() ? node->node : key, std::move(leaf)});
    }
    if (line.has("--json"))
        printJson(shown);
    else
        printTable(shown);
    return 0;
}

} // namespace featscope::cli
