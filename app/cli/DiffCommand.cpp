#include "DiffCommand.h"

#include "CommandLine.h"
#include "ImageInput.h"
#include "JsonWriter.h"
#include "ModelLoading.h"

#include <featscope/ModelDiff.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace featscope::cli {

const char* const diffUsage = R"(Usage: featscope-cli diff A.pt B.pt IMAGE [--atol X] [--rtol Y]
                          [--mode train|eval] [--json] [--threads N]
                          [--leaf-module QUALNAME]... [--leaf-function QUALNAME]...
                          [--ops-library PATH]... [--allow-unsafe-ops]

How two models differ, node by node: runs A.pt and then B.pt on the same IMAGE
(preprocessed as A's featscope.json says, else ImageNet's defaults) and compares
the value of every tensor node the two share by name (the names
'featscope-cli nodes' prints), as a forward hook would see it. For a model and
its retrained or quantised copy, two checkpoints, or the same architecture
exported another way. An 'extract --optimize' export is frozen: its nodes are
named after their ops (conv2d, relu_3, ...), so it shares few names with its
source.

Per common node, in A's execution order:
  maxAbs   max |a - b| over the elements
  maxRel   maxAbs / max |b|: the largest difference relative to the node's
           scale (null when the shapes differ)
A node diverges when some element has |a - b| > atol + rtol * |b|
(torch.allclose's rule), when NaN is on one side only, or when the shapes
differ. The first divergent node in A's order is where the models part.

The defaults ignore float32 rounding and catch real changes. On a seeded
ResNet-50, running at 1 instead of 2 threads moves leaf outputs by up to 2e-4
(values up to 180), folding batch norm into the convolutions by up to 1e-3;
with atol 1e-5 and rtol 1e-4 about 50 of its 158 leaf outputs would diverge,
with the defaults none. Quantised models differ by their quantisation step:
raise the tolerances for them.

Memory: A's value at each shared node is copied when A computes it and kept
until B computes the same node (at most A's shared activations, for one image);
B's values are compared and released as B runs.

Options:
  --atol X           absolute tolerance (default 1e-4)
  --rtol Y           relative tolerance (default 1e-3)
  --mode MODE        train or eval (default: eval); in train mode both runs
                     draw the same dropout masks
  --json             print {"nodes": [{"name", "maxAbs", "maxRel", "divergent",
                     "shapeA", "shapeB"}, ...], "firstDivergent": NAME or null,
                     "onlyInA": [...], "onlyInB": [...], "skipped": [...]}
  --threads N        LibTorch threads (default: $OMP_NUM_THREADS, else every
                     core this process may use)
  --leaf-module QUALNAME also treat this module class as a leaf (repeatable)
  --leaf-function QUALNAME
                     keep calls of this function as one node (repeatable)
  --ops-library PATH load this library of custom TorchScript ops first; its
                     code runs as trusted (repeatable)
  --allow-unsafe-ops run the models even if their code writes or reads files,
                     talks to the network or uses unknown custom ops
  -h, --help         show this help

Exit status 0 whether or not the models differ; 1 for bad input.
)";

namespace {

void printJson(const ModelDifference& difference)
{
    std::cout << "{\"nodes\": [";
    for (std::size_t i = 0; i < difference.nodes.size(); ++i) {
        const NodeDifference& node = difference.nodes[i];
        std::cout << (i ? ",\n  " : "\n  ") << "{\"name\": " << jsonString(node.name)
                  << ", \"maxAbs\": " << jsonNumber(node.maxAbs) << ", \"maxRel\": " << jsonNumber(node.maxRel)
                  << ", \"divergent\": " << (node.divergent ? "true" : "false")
                  << ", \"shapeA\": " << jsonIntegerArray(node.shapeA) << ", \"shapeB\": " << jsonIntegerArray(node.shapeB)
                  << "}";
    }
    std::cout << (difference.nodes.empty() ? "" : "\n") << "], \"firstDivergent\": "
              << (difference.firstDivergent ? jsonString(*difference.firstDivergent) : "null")
              << ", \"onlyInA\": " << jsonStringArray(difference.onlyInA)
              << ", \"onlyInB\": " << jsonStringArray(difference.onlyInB)
              << ", \"skipped\": " << jsonStringArray(difference.skipped) << "}\n";
}

void printList(const char* title, const std::vector<std::string>& names)
{
    if (names.empty())
        return;
    std::printf("%s (%zu):", title, names.size());
    for (const std::string& name : names)
        std::printf(" %s", name.c_str());
    std::printf("\n");
}

void printTable(const ModelDifference& difference)
{
    int nameWidth = 4;
    for (const NodeDifference& node : difference.nodes)
        nameWidth = std::max(nameWidth, int(node.name.size()));
    std::printf("%-*s  %11s %11s\n", nameWidth, "node", "maxAbs", "maxRel");
    for (const NodeDifference& node : difference.nodes) {
        if (node.shapeA != node.shapeB)
            std::printf("%-*s  shape %s in A, %s in B  DIVERGES\n", nameWidth, node.name.c_str(),
                        jsonIntegerArray(node.shapeA).c_str(), jsonIntegerArray(node.shapeB).c_str());
        else
            std::printf("%-*s  %11.4g %11.4g%s\n", nameWidth, node.name.c_str(), node.maxAbs, node.maxRel,
                        node.divergent ? "  DIVERGES" : "");
    }
    printList("only in A", difference.onlyInA);
    printList("only in B", difference.onlyInB);
    printList("not compared (inside a loop or a data-dependent branch)", difference.skipped);
    if (difference.firstDivergent)
        std::printf("first divergent node: %s\n", difference.firstDivergent->c_str());
    else
        std::printf("no divergent node: %zu common nodes agree within the tolerances\n", difference.nodes.size());
}

} // namespace

int runDiff(const std::vector<std::string>& args)
{
    const CommandLine line(args,
                           {"--atol", "--rtol", "--mode", "--threads", "--leaf-module", "--leaf-function", "--ops-library"},
                           {"--json", "--allow-unsafe-ops"});
    if (line.positional().size() != 3)
        throw UsageError{line.positional().size() < 3 ? "give A.pt, B.pt and one IMAGE" : "give two models and one IMAGE only"};
    const std::string pathA = line.positional()[0];
    const std::string pathB = line.positional()[1];
    const std::string imagePath = line.positional()[2];
    DiffTolerance tolerance;
    if (line.has("--atol"))
        tolerance.atol = nonNegativeNumber(line.value("--atol"), "--atol");
    if (line.has("--rtol"))
        tolerance.rtol = nonNegativeNumber(line.value("--rtol"), "--rtol");
    const Mode mode = runMode(line);
    const std::vector<torch::jit::Module> models = loadModelsToRun(line, {pathA, pathB}, "diff");
    if (modelPreprocessing(pathA).toJson() != modelPreprocessing(pathB).toJson())
        std::cerr << "featscope-cli diff: note: '" << pathA << "' and '" << pathB
                  << "' preprocess images differently; both get the image as A's preprocessing makes it.\n";
    InputSize inputSize;
    const std::vector<c10::IValue> inputs = imageAsInputs(models[0], pathA, imagePath, inputSize);
    const ModelDifference difference = compareModels(models[0], models[1], mode, inputs, tolerance, extractionOptions(line));
    if (line.has("--json"))
        printJson(difference);
    else
        printTable(difference);
    return 0;
}

} // namespace featscope::cli
