#include "StatsCommand.h"

#include "ImageInput.h"
#include "JsonWriter.h"
#include "ModelLoading.h"

#include <featscope/Errors.h>
#include <featscope/NodeStatistics.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace featscope::cli {

const char* const statsUsage = R"(Usage: featscope-cli stats MODEL.pt IMAGE [--mode train|eval] [--json]
                           [--threads N] [--leaf-module QUALNAME]...
                           [--leaf-function QUALNAME]... [--ops-library PATH]...
                           [--allow-unsafe-ops]

What flows through every node: runs MODEL.pt once on IMAGE and summarises the
value of every tensor-valued node of the mode (the names 'featscope-cli nodes'
prints) right after it is computed, as a forward hook would see it. Each value
is reduced as the model runs, so no more is kept than a plain run keeps.
Preprocessing is the same as for 'features': the model's featscope.json when it
has one, else ImageNet's.

Per node, in execution order:
  shape         the value's shape
  min, max, mean, std
                over all elements; std is the population standard deviation
  zeros         fraction of elements exactly 0, from 0 to 1
  deadChannels  channels whose elements are all exactly 0; the channel is
                dimension 1 ([N, C, H, W], [N, C], and any other value of rank
                2 or more), except for values read as channels-last, where it
                is the last: [N, H, W, C] (ConvNeXt, Swin) and tokens [N, T, C]
                (ViT), detected as the 'cam' command detects layouts; rank 0
                and 1 have none (0)
  histogram     16 counts in equal-width bins from min to max (torch.histc's
                rule: max falls in the last bin, a constant value in the
                middle one; all 0 when min or max is not finite)
Quantized values are dequantized first. Nodes inside a loop or a data-dependent
branch have no single value and are listed on stderr instead. In train mode the
run updates batch-norm statistics and draws dropout as a training forward does.

Options:
  --mode MODE        train or eval (default: eval)
  --json             print {"nodes": [{"name", "shape", "min", "max", "mean",
                     "std", "zeros", "deadChannels", "channelDim",
                     "histogram"}, ...], "skipped": [...]}; numbers that are
                     not finite are null
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
  -h, --help         show this help
)";

namespace {

// The histogram as one character per bin, from blank (empty) to '@' (the fullest bin).
std::string histogramBar(const std::vector<std::int64_t>& counts)
{
    static const std::string levels = " .:-=+*#%@";
    const std::int64_t fullest = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
    std::string bar;
    for (std::int64_t count : counts) {
        const std::size_t level = fullest == 0 || count == 0
            ? 0
            : 1 + std::size_t((levels.size() - 2) * count / fullest);
        bar += levels[std::min(level, levels.size() - 1)];
    }
    return bar;
}

void printJson(const StatisticsRun& run)
{
    std::cout << "{\"nodes\": [";
    for (std::size_t i = 0; i < run.nodes.size(); ++i) {
        const NodeStatistics& node = run.nodes[i];
        std::cout << (i ? ",\n  " : "\n  ") << "{\"name\": " << jsonString(node.name)
                  << ", \"shape\": " << jsonIntegerArray(node.shape) << ", \"min\": " << jsonNumber(node.min)
                  << ", \"max\": " << jsonNumber(node.max) << ", \"mean\": " << jsonNumber(node.mean)
                  << ", \"std\": " << jsonNumber(node.std) << ", \"zeros\": " << jsonNumber(node.zeros)
                  << ", \"deadChannels\": " << node.deadChannels << ", \"channelDim\": " << node.channelDim
                  << ", \"histogram\": " << jsonIntegerArray(node.histogram) << "}";
    }
    std::cout << (run.nodes.empty() ? "" : "\n") << "], \"skipped\": " << jsonStringArray(run.skipped) << "}\n";
}

void printTable(const StatisticsRun& run)
{
    int nameWidth = 4, shapeWidth = 5;
    for (const NodeStatistics& node : run.nodes) {
        nameWidth = std::max(nameWidth, int(node.name.size()));
        shapeWidth = std::max(shapeWidth, int(jsonIntegerArray(node.shape).size()));
    }
    std::printf("%-*s  %-*s  %11s %11s %11s %11s %7s %5s  %s\n", nameWidth, "node", shapeWidth, "shape", "min", "max",
                "mean", "std", "zeros", "dead", "histogram (min to max)");
    for (const NodeStatistics& node : run.nodes)
        std::printf("%-*s  %-*s  %11.4g %11.4g %11.4g %11.4g %6.1f%% %5lld  |%s|\n", nameWidth, node.name.c_str(), shapeWidth,
                    jsonIntegerArray(node.shape).c_str(), node.min, node.max, node.mean, node.std, 100.0 * node.zeros,
                    static_cast<long long>(node.deadChannels), histogramBar(node.histogram).c_str());
}

} // namespace

int runStats(const std::vector<std::string>& args)
{
    const CommandLine line(args, {"--mode", "--threads", "--leaf-module", "--leaf-function", "--ops-library"},
                           {"--json", "--allow-unsafe-ops"});
    if (line.positional().size() != 2)
        throw UsageError{line.positional().size() < 2 ? "give MODEL.pt and one IMAGE" : "give one IMAGE only"};
    const std::string modelPath = line.positional()[0];
    const std::string imagePath = line.positional()[1];
    const Mode mode = runMode(line);
    const torch::jit::Module model = loadModelsToRun(line, {modelPath}, "stats").front();
    InputSize inputSize;
    const std::vector<c10::IValue> inputs = imageAsInputs(model, modelPath, imagePath, inputSize);
    const StatisticsRun run = computeNodeStatistics(model, mode, inputs, extractionOptions(line), inputSize);
    if (!run.skipped.empty())
        std::cerr << "featscope-cli stats: note: " << run.skipped.size()
                  << " node(s) inside a loop or a data-dependent branch have no single value and are not summarised: "
                  << jsonStringArray(run.skipped) << "\n";
    if (line.has("--json"))
        printJson(run);
    else
        printTable(run);
    return 0;
}

} // namespace featscope::cli
