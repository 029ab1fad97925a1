// featscope-cli: torchvision's feature extraction on TorchScript files, from the shell.

#include "CamCommand.h"
#include "CommandLine.h"
#include "DiffCommand.h"
#include "ExitCodes.h"
#include "FeaturesCommand.h"
#include "JsonWriter.h"
#include "ModelLoading.h"
#include "StatsCommand.h"
#include "TopImagesCommand.h"
#include "ValuesCommand.h"

#include <featscope/Errors.h>
#include <featscope/FeatureExtraction.h>
#include <featscope/InferenceExport.h>
#include <featscope/ModuleLoader.h>
#include <featscope/ReturnNodes.h>
#include <featscope/Runtime.h>
#include <featscope/UnsafeOps.h>

#include <torch/script.h>
#include <torch/version.h>

#include <functional>
#include <iostream>
#include <map>

namespace {

constexpr const char* mainUsage = R"(Usage: featscope-cli COMMAND [OPTIONS]

Inspect TorchScript models under torchvision's feature-extraction node names and
build pruned feature extractors from them.

Commands:
  nodes     List a model's node names in train and eval mode
  extract   Save a feature extractor that returns the chosen nodes
  features  Write one descriptor per image (a node's pooled value) to a .npy file
            ('features-join' joins the outputs of 'features --shard I/N' runs)
  top-images The images of a folder that excite a node's channels most,
            with the channels' maps on them
  values    What chosen nodes hold for one image, any type: tensors summarised,
            dicts and tuples split into parts, other values as text
  cam       Where the model looks: Grad-CAM, Grad-CAM++ or gradient x activation
            at a node, for one image, as .npy or an overlay .png
  stats     What flows through every node for one image: shape, min, max,
            mean, std, zeros, dead channels and a histogram per node
  diff      Two models on the same image, node by node: the largest
            differences and the first node where they part

Run 'featscope-cli COMMAND --help' for a command's options, and
'featscope-cli --version' for the versions, threads and BLAS library in use.
)";

constexpr const char* nodesUsage = R"(Usage: featscope-cli nodes MODEL.pt [--mode train|eval|both] [--json]
                           [--leaf-module QUALNAME]... [--leaf-function QUALNAME]...
                           [--ops-library PATH]...

List the node names of MODEL.pt (made by torch.jit.script or torch.jit.trace) in
execution order, exactly as torchvision's get_graph_node_names names them.

Options:
  --mode MODE             train, eval or both (default: both)
  --json                  print a JSON object {"train": [...], "eval": [...]}
  --leaf-module QUALNAME  also treat this module class as a leaf, e.g.
                          torchvision.models.resnet.Bottleneck (repeatable)
  --leaf-function QUALNAME
                          keep calls of this function as one node instead of
                          tracing through it, e.g. mypackage.ops.box_area
                          (torchvision's autowrap_functions; repeatable)
  --ops-library PATH      load this library of custom TorchScript ops first; its
                          code runs as trusted (repeatable; torchvision's own is
                          loaded by itself when the model calls its ops)
  -h, --help              show this help
)";

constexpr const char* extractUsage = R"(Usage: featscope-cli extract MODEL.pt --return NODE[=KEY]... -o OUT.pt
       featscope-cli extract MODEL.pt --train-return NODE[=KEY]...
                             --eval-return NODE[=KEY]... -o OUT.pt

Save a TorchScript module whose forward returns Dict[str, Tensor] holding the
chosen nodes, pruned of everything they do not need. It loads with
torch.jit.load in Python and torch::jit::load in C++, switches with
.train()/.eval() and can be trained end to end.

A NODE may be truncated: 'layer2' selects the last node at or below layer2.
KEY defaults to NODE.

Options:
  --return NODE[=KEY]        an output in both modes (repeatable)
  --train-return NODE[=KEY]  an output in train mode only (repeatable)
  --eval-return NODE[=KEY]   an output in eval mode only (repeatable)
  --leaf-module QUALNAME     also treat this module class as a leaf (repeatable)
  --leaf-function QUALNAME   keep calls of this function as one node (repeatable)
  --ops-library PATH         load this library of custom TorchScript ops first;
                             its code runs as trusted (repeatable; torchvision's
                             own is loaded by itself when the model calls its ops)
  --allow-unsafe-ops         export even if the model's code writes or reads files,
                             talks to the network or uses unknown custom ops
  --optimize                 export for inference only: eval mode, frozen weights,
                             conv + batch-norm folded (faster; cannot train)
  -o, --output OUT.pt        where to write the extractor (written atomically)
  -h, --help                 show this help
)";

bool wantsHelp(const std::vector<std::string>& args)
{
    for (const std::string& arg : args)
        if (arg == "-h" || arg == "--help")
            return true;
    return false;
}

std::string onlyModelPath(const CommandLine& line)
{
    if (line.positional().empty())
        throw UsageError{"missing MODEL.pt"};
    if (line.positional().size() > 1)
        throw UsageError{"unexpected argument '" + line.positional()[1] + "'"};
    return line.positional().front();
}

int runNodes(const std::vector<std::string>& args)
{
    const CommandLine line(args, {"--mode", "--leaf-module", "--leaf-function", "--ops-library"}, {"--json"});
    const std::string path = onlyModelPath(line);
    const std::string mode = line.value("--mode", "both");
    if (mode != "train" && mode != "eval" && mode != "both")
        throw UsageError{"--mode must be train, eval or both, not '" + mode + "'"};
    const torch::jit::Module module = featscope::cli::loadModel(line, path, "nodes");
    const featscope::GraphNodeNames names = featscope::getGraphNodeNames(module, featscope::cli::extractionOptions(line));
    if (names.warning && mode == "both")
        std::cerr << "featscope-cli: note: " << *names.warning << "\n";
    if (line.has("--json")) {
        std::cout << "{";
        if (mode != "eval")
            std::cout << "\"train\": " << jsonStringArray(names.train);
        if (mode == "both")
            std::cout << ", ";
        if (mode != "train")
            std::cout << "\"eval\": " << jsonStringArray(names.eval);
        std::cout << "}\n";
        return 0;
    }
    const auto print = [](const std::vector<std::string>& list) {
        for (const std::string& name : list)
            std::cout << name << "\n";
    };
    if (mode == "train")
        print(names.train);
    else if (mode == "eval" || names.train == names.eval)
        print(names.eval);
    else {
        std::cout << "# train\n";
        print(names.train);
        std::cout << "\n# eval\n";
        print(names.eval);
    }
    return 0;
}

featscope::ReturnNodes returnNodes(const CommandLine& line, const std::string& option)
{
    featscope::ReturnNodes nodes;
    for (const std::string& spec : line.values(option))
        nodes.push_back(featscope::parseReturnNodeSpec(spec));
    return nodes;
}

int runExtract(const std::vector<std::string>& args)
{
    const CommandLine line(args, {"--return", "--train-return", "--eval-return", "--leaf-module", "--leaf-function", "--ops-library", "-o", "--output"},
                           {"--optimize", "--allow-unsafe-ops"});
    const std::string path = onlyModelPath(line);
    if (line.has("-o") && line.has("--output"))
        throw UsageError{"give the output once, with -o or --output"};
    const std::string output = line.has("-o") ? line.value("-o") : line.value("--output");
    if (output.empty())
        throw UsageError{"missing -o OUT.pt"};
    const auto both = returnNodes(line, "--return");
    const auto train = returnNodes(line, "--train-return");
    const auto eval = returnNodes(line, "--eval-return");
    if (!both.empty() && (!train.empty() || !eval.empty()))
        throw UsageError{"--return cannot be mixed with --train-return/--eval-return: use --return for both modes, "
                         "or give both --train-return and --eval-return"};
    if (both.empty() && (train.empty() != eval.empty()))
        throw UsageError{"--train-return and --eval-return go together: give both, or use --return"};
    if (both.empty() && train.empty())
        throw UsageError{"choose at least one node with --return NODE[=KEY]"};
    if (line.has("--optimize") && !train.empty())
        throw UsageError{"--optimize exports for inference (eval mode) only, so train-mode outputs cannot be kept: "
                         "drop --optimize, or use --return"};

    const torch::jit::Module module = featscope::cli::loadModel(line, path, "extract");
    const auto unsafeOps = featscope::findUnsafeOps(module);
    if (!unsafeOps.empty() && !line.has("--allow-unsafe-ops"))
        throw featscope::Error(featscope::describeUnsafeOps(unsafeOps, path, "run again with --allow-unsafe-ops"));
    const auto options = featscope::cli::extractionOptions(line);
    try {
        torch::jit::Module extractor = both.empty()
            ? featscope::createFeatureExtractor(module, train, eval, options)
            : featscope::createFeatureExtractor(module, both, options);
        if (line.has("--optimize")) {
            extractor.eval();
            extractor = featscope::optimizeForInference(extractor);
        }
        featscope::saveModuleAtomically(extractor, output);
    } catch (const featscope::UnknownNodeError& error) {
        throw featscope::UnknownNodeError(std::string(error.what()) + " (model: '" + path + "')", error.suggestions());
    }
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    const std::vector<std::string> all(argv + 1, argv + argc);
    if (all.empty() || all.front() == "-h" || all.front() == "--help" || all.front() == "help") {
        std::cout << mainUsage;
        return all.empty() ? featscope::kExitUsage : featscope::kExitSuccess;
    }
    if (all.front() == "--version") {
        const int threads = featscope::configureThreads();
        std::cout << "featscope-cli " FEATSCOPE_VERSION "\nLibTorch " TORCH_VERSION ", " << threads << " thread"
                  << (threads == 1 ? "" : "s") << " (" << featscope::availableCores() << " cores available)\nBLAS: "
                  << featscope::describeBlas() << std::endl;
        featscope::warnIfReferenceBlas("featscope-cli");
        return featscope::kExitSuccess;
    }
    const std::map<std::string, std::pair<const char*, std::function<int(const std::vector<std::string>&)>>> commands = {
        {"nodes", {nodesUsage, runNodes}},
        {"extract", {extractUsage, runExtract}},
        {"features", {featscope::cli::featuresUsage, featscope::cli::runFeatures}},
        {"features-join", {featscope::cli::featuresJoinUsage, featscope::cli::runFeaturesJoin}},
        {"top-images", {featscope::cli::topImagesUsage, featscope::cli::runTopImages}},
        {"values", {featscope::cli::valuesUsage, featscope::cli::runValues}},
        {"cam", {featscope::cli::camUsage, featscope::cli::runCam}},
        {"stats", {featscope::cli::statsUsage, featscope::cli::runStats}},
        {"diff", {featscope::cli::diffUsage, featscope::cli::runDiff}},
    };
    const auto command = commands.find(all.front());
    if (command == commands.end()) {
        std::cerr << "featscope-cli: unknown command '" << all.front() << "'.\n\n" << mainUsage;
        return featscope::kExitUsage;
    }
    const std::vector<std::string> args(all.begin() + 1, all.end());
    const auto& [usage, run] = command->second;
    if (wantsHelp(args)) {
        std::cout << usage;
        return featscope::kExitSuccess;
    }
    try {
        return run(args);
    } catch (const UsageError& error) {
        std::cerr << "featscope-cli " << all.front() << ": " << error.message << ".\n\n" << usage;
        return featscope::kExitUsage;
    } catch (const featscope::Error& error) {
        std::cerr << "featscope-cli " << all.front() << ": " << error.what() << "\n";
    } catch (const c10::Error& error) {
        std::cerr << "featscope-cli " << all.front() << ": LibTorch failed: " << error.what_without_backtrace() << "\n";
    } catch (const std::exception& error) {
        std::cerr << "featscope-cli " << all.front() << ": " << error.what() << "\n";
    }
    return featscope::kExitFailure;
}
