// featscope-cli features: batch image descriptors to .npy, resumable and shardable. The jobs it
// combines live beside it: Descriptors (pooling), ImagePrefetch, ResumeProtocol (progress file and
// lock), FeaturesOutput (files, finalising), ContentHash, InterruptGuard and ProgressBar.

#include "FeaturesCommand.h"

#include "CliText.h"
#include "CommandLine.h"
#include "ContentHash.h"
#include "Descriptors.h"
#include "ExitCodes.h"
#include "FeaturesOutput.h"
#include "ImageInput.h"
#include "ImagePrefetch.h"
#include "InterruptGuard.h"
#include "ModelLoading.h"
#include "NpyFile.h"
#include "ProgressBar.h"
#include "ResumeProtocol.h"

#include <featscope/Errors.h>
#include <featscope/FeatureExtraction.h>
#include <featscope/ImageInputs.h>
#include <featscope/InferenceExport.h>
#include <featscope/ReturnNodes.h>
#include <featscope/Runtime.h>
#include <featscope/TensorLayout.h>
#include <featscope/UnsafeOps.h>

#include <torch/script.h>

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

namespace featscope::cli {

const char* const featuresUsage = R"(Usage: featscope-cli features MODEL.pt --return NODE -o OUT.npy IMAGES_OR_FOLDERS...
                              [--pool avg|max|gem|cls|none] [--gem-p P] [--l2-normalize]
                              [--layout auto|nchw|nhwc|tokens]
                              [--batch N] [--threads N] [--shard I/N] [--strict]
                              [--restart] [--progress-lines] [--leaf-module QUALNAME]...
                              [--leaf-function QUALNAME]... [--ops-library PATH]...
                              [--allow-unsafe-ops]

Compute one descriptor per image from node NODE of MODEL.pt (eval mode) and
write them as the rows of a float32 NumPy array, in the sorted order of the
image paths.

Images are files (any format Qt decodes here: PNG, JPEG, BMP, GIF, PPM, ...)
and folders, searched recursively for files with image extensions (hidden
files and folders skipped). The list is sorted by path, duplicates dropped.

Preprocessing comes from the model's featscope.json extra file when it has one,
else ImageNet's: shorter side resized to 256, centre crop 224, RGB, mean
0.485,0.456,0.406, std 0.229,0.224,0.225.

Outputs (each written complete or not at all):
  OUT.npy        float32 array [images, dim], numpy.load reads it
  OUT.paths.txt  the image of each row, one path per line
  OUT.json       model, node, settings, shape, shard and the skipped images

Options:
  --return NODE          the node that describes an image (a truncated name works)
  --pool MODE            how a value becomes a vector: avg, max, gem (generalized
                         mean) over its grid, cls (the first token of [N, T, C],
                         ViT's class token) or none (flatten); default avg.
                         4-D values pool over H and W ([N, C, H, W], or
                         [N, H, W, C] for ConvNeXt and Swin blocks); 3-D
                         [N, T, C] values over the tokens, leaving out a
                         leading class token (T = 1 + H*W); 2-D values are kept
  --layout L             how the value is read for pooling: auto (default:
                         guessed from the shape and the input size), nchw, nhwc
                         or tokens
  --gem-p P              exponent of --pool gem (default 3)
  --l2-normalize         scale each row to unit length, after pooling
  --batch N              images per forward pass (default 32)
  --threads N            LibTorch threads and image decoders (default:
                         $OMP_NUM_THREADS, else every core this process may use)
  --shard I/N            process only part I of N (1 <= I <= N): a contiguous
                         block of the sorted list; join the N outputs with
                         'featscope-cli features-join'
  --strict               stop at the first image that cannot be decoded (default:
                         warn, skip it and list it under "skipped" in OUT.json)
  --restart              start over: discard the unfinished results of an earlier
                         run, and recompute outputs that are up to date
  --progress-lines       report progress as lines "progress DONE TOTAL" on stderr
                         (for a program that shows it) instead of a bar
  --leaf-module QUALNAME also treat this module class as a leaf (repeatable)
  --leaf-function QUALNAME
                         keep calls of this function as one node (repeatable)
  --ops-library PATH     load this library of custom TorchScript ops first; its
                         code runs as trusted (repeatable; torchvision's own is
                         loaded by itself when the model calls its ops)
  --allow-unsafe-ops     run the model even if its code writes or reads files,
                         talks to the network or uses unknown custom ops
  -o, --output OUT.npy   where to write (.npy is added when missing)
  -h, --help             show this help

An interrupted run (Ctrl-C, a killed job) keeps its finished images in
OUT.npy.partial and OUT.npy.progress; the same command resumes after them.
When OUT.json says the outputs are complete for the same model, settings and
images, the command does nothing. A progress bar is shown on a terminal.
Exit status: 0 on success (also when images were skipped), 1 on errors, 2 for a
malformed command line, 130 when interrupted.
)";


namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int runFeatures(const std::vector<std::string>& args)
{
    const CommandLine line(args,
                           {"--return", "--pool", "--gem-p", "--layout", "--batch", "--threads", "--shard", "-o", "--output",
                            "--leaf-module", "--leaf-function", "--ops-library"},
                           {"--l2-normalize", "--strict", "--restart", "--progress-lines", "--allow-unsafe-ops"});
    const auto arguments = modelAndImageArguments(line.positional());
    const std::string& modelPath = arguments.first;
    const std::vector<std::string>& inputs = arguments.second;
    Settings settings;
    settings.node = line.value("--return");
    if (settings.node.empty())
        throw UsageError{"choose the descriptor node with --return NODE"};
    if (settings.node.find('=') != std::string::npos)
        throw UsageError{"--return takes a node name only (no =KEY): the descriptors have no keys"};
    if (settings.node.size() > 4096)
        throw UsageError{"the --return name '" + settings.node.substr(0, 64) + "...' is " + std::to_string(settings.node.size())
                         + " characters long; no node has such a name (list them with featscope-cli nodes MODEL.pt)"};
    settings.poolName = line.value("--pool", "avg");
    const std::map<std::string, Pool> pools{
        {"avg", Pool::Avg}, {"max", Pool::Max}, {"gem", Pool::Gem}, {"cls", Pool::Cls}, {"none", Pool::None}};
    if (!pools.count(settings.poolName))
        throw UsageError{"--pool must be avg, max, gem, cls or none, not '" + settings.poolName + "'"};
    const std::string layoutName = line.value("--layout", "auto");
    if (layoutName != "auto") {
        settings.layout = parseSpatialLayout(layoutName);
        if (!settings.layout)
            throw UsageError{"--layout must be auto, nchw, nhwc or tokens, not '" + layoutName + "'"};
    }
    settings.pool = pools.at(settings.poolName);
    if (line.has("--gem-p")) {
        if (settings.pool != Pool::Gem)
            throw UsageError{"--gem-p goes with --pool gem"};
        settings.gemP = decimalNumber(line.value("--gem-p"), "--gem-p", 0.0, 1000.0, false, "a positive number");
    }
    settings.l2 = line.has("--l2-normalize");
    const int batch = positiveInt(line.value("--batch", "32"), "--batch");
    const int requestedThreads = line.has("--threads") ? positiveInt(line.value("--threads"), "--threads") : 0;
    int shard = 1, shards = 1;
    if (line.has("--shard")) {
        const std::string text = line.value("--shard");
        const std::size_t slash = text.find('/');
        if (slash == std::string::npos)
            throw UsageError{"--shard needs I/N, e.g. --shard 2/8, not '" + text + "'"};
        shards = positiveInt(text.substr(slash + 1), "--shard's N");
        shard = positiveInt(text.substr(0, slash), "--shard's I");
        if (shard > shards || shards > kMaxShards)
            throw UsageError{"--shard I/N needs 1 <= I <= N, not '" + text + "'"};
    }
    const OutputFiles files(outputOption(line));

    // Everything that decides the values of the rows goes into the settings hash.
    const torch::jit::Module model = loadModel(line, modelPath, "features");
    // After the load, whose reader is a fork only while this process has one thread.
    const int threads = configureThreads(requestedThreads);
    warnIfReferenceBlas("featscope-cli features");
    // Decoding the next batch runs beside the forward pass: one decoder per LibTorch thread.
    const int decoders = threads;
    // features runs the model's code on every image: refuse code that reaches outside the model.
    const auto unsafeOps = findUnsafeOps(model);
    if (!unsafeOps.empty() && !line.has("--allow-unsafe-ops"))
        throw Error(describeUnsafeOps(unsafeOps, modelPath, "run again with --allow-unsafe-ops"));
    // The extractor takes the model's arguments; check before any work that images can fill them.
    const ImageInputs imageInputs = [&] {
        try {
            return ImageInputs(model.get_method("forward").function().getSchema());
        } catch (const Error& error) {
            throw Error("Cannot compute descriptors of images with " + quote(modelPath) + ": " + error.what());
        }
    }();
    const Preprocessing prep = modelPreprocessing(modelPath);
    const FeatureExtractionOptions options = extractionOptions(line);
    QJsonObject settingsJson{{"model_fnv1a64", qs(fileHash(modelPath))},
                             {"return", qs(settings.node)},
                             {"pool", qs(settings.poolName)},
                             {"l2_normalize", settings.l2},
                             {"preprocessing", QJsonDocument::fromJson(QByteArray::fromStdString(prep.toJson())).object()}};
    if (settings.pool == Pool::Gem)
        settingsJson.insert("gem_p", settings.gemP);
    if (settings.layout)
        settingsJson.insert("layout", toString(*settings.layout));
    QJsonArray leafArray;
    for (const std::string& leaf : options.leafModules)
        leafArray.append(qs(leaf));
    if (!leafArray.isEmpty())
        settingsJson.insert("leaf_modules", leafArray);
    QJsonArray leafFunctionArray;
    for (const std::string& function : options.leafFunctions)
        leafFunctionArray.append(qs(function));
    if (!leafFunctionArray.isEmpty())
        settingsJson.insert("leaf_functions", leafFunctionArray);
    Fnv settingsFnv;
    settingsFnv.add(kFeaturesFormat);
    settingsFnv.add(QJsonDocument(settingsJson).toJson(QJsonDocument::Compact).toStdString());
    const std::string settingsHash = settingsFnv.hex();
    const std::string job = jobId(settingsHash, shard, shards);

    const std::vector<std::string> all = collectImages(inputs);
    if (all.empty())
        throw Error("No images found in the given paths. Give image files or folders holding .png, .jpg, ... files.");
    const std::string allHash = listHash(all);
    const std::size_t begin = (shard - 1) * all.size() / std::size_t(shards);
    const std::size_t end = shard * all.size() / std::size_t(shards);
    const std::vector<std::string> images(all.begin() + std::ptrdiff_t(begin), all.begin() + std::ptrdiff_t(end));

    if (!line.has("--restart") && fs::exists(files.json) && fs::exists(files.npy) && fs::exists(files.paths) && !fs::exists(files.progress)) {
        try {
            const QJsonObject done = readJsonObject(files.json);
            const NpyMatrix m = readNpyHeader(files.npy);
            if (done.value("job").toString() == qs(job) && done.value("image_list_fnv1a64").toString() == qs(allHash)
                && done.value("rows").toDouble() == double(m.rows)) {
                std::cerr << "featscope-cli features: " << files.npy << " is up to date (" << m.rows << " x " << m.cols
                          << "); nothing to do. Use --restart to compute it again.\n";
                return kExitSuccess;
            }
        } catch (const Error&) {
            // unreadable earlier outputs are simply replaced
        }
    }

    torch::jit::Module extractor = [&] {
        try {
            return createFeatureExtractor(model, {{settings.node, "features"}}, options);
        } catch (const UnknownNodeError& error) {
            throw UnknownNodeError(std::string(error.what()) + " (model: '" + modelPath + "')", error.suggestions());
        }
    }();
    // Any node can be extracted; a descriptor is made from a tensor only.
    const c10::TypePtr outputType = extractor.get_method("forward").function().getSchema().returns().at(0).type();
    if (!outputType->containedTypes().at(1)->isSubtypeOf(*c10::TensorType::get()))
        throw Error("Node '" + settings.node + "' of " + quote(modelPath) + " produces a " + outputType->containedTypes().at(1)->annotation_str()
                    + ", not a Tensor, so it cannot describe an image; choose a node whose value is a tensor.");
    extractor.eval();
    try {
        extractor = optimizeForInference(extractor); // frozen: conv + batch-norm folded
    } catch (const Error&) {
        // some graphs cannot be frozen; the plain extractor gives the same values
    }

    // One writer per output: the progress file is also a lock.
    ProgressFile progressFile(files, line.has("--restart"));
    std::FILE* partial = nullptr;
    struct Closer {
        std::FILE*& file;
        ~Closer()
        {
            if (file)
                std::fclose(file);
        }
    } closer{partial};

    // Resume: keep what an interrupted run of the same job finished.
    std::uint64_t cols = 0;
    Progress kept = resumableProgress(files, job, images, cols);
    const std::size_t keptRows = kept.okCount();

    // Rewrite the progress file to what is kept, and cut the partial array to its complete rows.
    progressFile.rewrite(job, kept);
    if (keptRows > 0) {
        fs::resize_file(files.partial, kNpyHeaderSize + keptRows * cols * 4);
        partial = std::fopen(files.partial.c_str(), "r+b");
    } else {
        partial = std::fopen(files.partial.c_str(), "w+b");
    }
    if (!partial)
        throw Error("Cannot write " + quote(files.partial) + " (no permission?).");
    std::fseek(partial, 0, SEEK_END);

    if (!kept.done.empty())
        std::cerr << "featscope-cli features: resuming after " << kept.done.size() << " of " << images.size()
                  << " images finished earlier\n";

    std::uint64_t rows = keptRows;
    std::size_t skipped = std::size_t(std::count(kept.ok.begin(), kept.ok.end(), false));
    const auto writeRows = [&](const torch::Tensor& descriptors, const std::vector<std::string>& names) {
        if (cols == 0) {
            cols = std::uint64_t(descriptors.size(1));
            const std::string header = npyHeader(0, cols);
            std::fseek(partial, 0, SEEK_SET);
            std::fwrite(header.data(), 1, header.size(), partial);
        } else if (std::uint64_t(descriptors.size(1)) != cols) {
            throw Error("The descriptor of " + quote(names.front()) + " has " + std::to_string(descriptors.size(1))
                        + " values but earlier ones have " + std::to_string(cols)
                        + ": the images give feature maps of different sizes. Use --pool avg|max|gem, or a model "
                          "whose preprocessing crops to a fixed size.");
        }
        const std::size_t bytes = std::size_t(descriptors.numel()) * 4;
        if (std::fwrite(descriptors.data_ptr<float>(), 1, bytes, partial) != bytes || std::fflush(partial) != 0)
            throw Error("Cannot write " + quote(files.partial) + " (disk full?). Run the command again to resume.");
        rows += std::uint64_t(descriptors.size(0));
    };

    torch::NoGradGuard noGrad;
    const auto forward = [&](const std::vector<torch::Tensor>& tensors) {
        const auto output = extractor.forward(imageInputs(tensors)).toGenericDict();
        const torch::Tensor value = output.at("features").toTensor();
        if (value.dim() == 0 || value.size(0) != std::int64_t(tensors.size()))
            throw Error("The node " + quote(settings.node) + " has no batch dimension (its value's shape is "
                        + c10::str(value.sizes()) + " for " + std::to_string(tensors.size())
                        + " images). Choose a node whose value is [N, ...].");
        return describe(value, settings, settings.node, InputSize{tensors.front().size(-2), tensors.front().size(-1)});
    };

    ProgressBar bar(images.size(), kept.done.size(),
                    line.has("--progress-lines") ? ProgressBar::Style::Lines : ProgressBar::Style::Terminal);
    bar.update(kept.done.size());
    InterruptGuard interruptGuard;
    const auto startTime = Clock::now();
    std::size_t next = kept.done.size();
    const std::size_t firstNew = next;
    std::future<std::vector<Decoded>> pending;
    const auto prefetch = [&] {
        if (next >= images.size())
            return;
        const std::size_t to = std::min(images.size(), next + std::size_t(batch));
        pending = std::async(std::launch::async, decodeRange, std::cref(images), next, to, std::cref(prep), decoders);
        next = to;
    };
    prefetch();
    std::optional<std::string> strictError;
    while (pending.valid() && !strictError) {
        std::vector<Decoded> decoded = pending.get();
        if (!interruptRequested())
            prefetch();
        if (line.has("--strict")) {
            const auto bad = std::find_if(decoded.begin(), decoded.end(), [](const Decoded& d) { return !d.error.empty(); });
            if (bad != decoded.end()) {
                strictError = bad->error;
                decoded.erase(bad, decoded.end());
            }
        }
        // Same-sized images go through the model together; odd sizes (no centre crop) one by one.
        std::vector<torch::Tensor> tensors;
        std::vector<std::string> names;
        for (const Decoded& d : decoded)
            if (d.error.empty()) {
                tensors.push_back(d.tensor);
                names.push_back(images[d.index]);
            }
        if (!tensors.empty()) {
            const bool sameSize = std::all_of(tensors.begin(), tensors.end(),
                                              [&](const torch::Tensor& t) { return t.sizes() == tensors.front().sizes(); });
            if (sameSize) {
                writeRows(forward(tensors), names);
            } else {
                for (std::size_t i = 0; i < tensors.size(); ++i)
                    writeRows(forward({tensors[i]}), {names[i]});
            }
        }
        std::string lines;
        for (const Decoded& d : decoded) {
            lines += progressLine(images[d.index], d.error.empty(), d.error);
            kept.done.push_back(images[d.index]);
            kept.ok.push_back(d.error.empty());
            kept.reasons.push_back(d.error);
            if (!d.error.empty()) {
                bar.clear();
                std::cerr << "featscope-cli features: warning: skipped " << d.error << "\n";
                ++skipped;
            }
        }
        progressFile.append(lines);
        bar.update(kept.done.size(), kept.done.size() == images.size());
        if (interruptRequested()) {
            if (pending.valid())
                pending.wait();
            bar.clear();
            std::cerr << "featscope-cli features: interrupted after " << kept.done.size() << " of " << images.size()
                      << " images; run the same command again to resume.\n";
            return kExitInterrupted;
        }
    }
    if (strictError) {
        if (pending.valid())
            pending.wait();
        bar.clear();
        throw Error("Stopped at an image that cannot be used (--strict): " + *strictError
                    + " The images before it are kept; remove or replace the file and run the same command again to resume.");
    }

    if (rows == 0 && skipped > 0)
        throw Error("None of the " + std::to_string(images.size()) + " images could be decoded (see the warnings "
                    "above), so there are no descriptors to write. Check the files.");
    if (cols == 0 && rows == 0) {
        // No image gave a row: learn the width from a blank input so the array still has its shape.
        if (prep.centerCrop > 0 || prep.resize > 0) {
            const int side = prep.centerCrop > 0 ? prep.centerCrop : prep.resize;
            cols = std::uint64_t(forward({torch::zeros({prep.channels, side, side})}).size(1));
        }
        const std::string header = npyHeader(0, cols);
        std::fseek(partial, 0, SEEK_SET);
        std::fwrite(header.data(), 1, header.size(), partial);
    }

    std::vector<std::string> rowPaths;
    QJsonArray skippedJson;
    for (std::size_t i = 0; i < kept.done.size(); ++i) {
        if (kept.ok[i])
            rowPaths.push_back(kept.done[i]);
        else
            skippedJson.append(QJsonObject{{"path", qs(kept.done[i])}, {"error", qs(oneLine(kept.reasons[i]))}});
    }
    QJsonObject meta{{"format", kFeaturesFormat},
                     {"job", qs(job)},
                     {"model", qs(modelPath)},
                     {"settings", settingsJson},
                     {"settings_fnv1a64", qs(settingsHash)},
                     {"rows", double(rows)},
                     {"dim", double(cols)},
                     {"images", double(images.size())},
                     {"skipped", skippedJson},
                     {"shard", QJsonArray{shard, shards}},
                     {"all_images", double(all.size())},
                     {"image_list_fnv1a64", qs(allHash)}};
    std::FILE* toClose = partial;
    partial = nullptr; // finalizeOutputs closes it
    finalizeOutputs(files, toClose, rows, cols, rowPaths, meta);

    const double seconds = std::chrono::duration<double>(Clock::now() - startTime).count();
    const std::size_t computed = kept.done.size() - firstNew;
    std::ostringstream summary;
    summary << std::fixed << std::setprecision(1) << "featscope-cli features: wrote " << files.npy << " (" << rows
            << " x " << cols << ")";
    if (skipped)
        summary << ", skipped " << skipped << " unreadable image" << (skipped == 1 ? "" : "s") << " (listed in "
                << files.json << ")";
    summary << "; " << computed << " images in " << seconds << " s";
    if (seconds > 0 && computed)
        summary << ", " << double(computed) / seconds << " images/s";
    summary << " (batch " << batch << ", " << threads << " LibTorch thread" << (threads == 1 ? "" : "s") << ", "
            << decoders << " decoder" << (decoders == 1 ? "" : "s") << ")\n";
    std::cerr << summary.str();
    return kExitSuccess;
}

} // namespace featscope::cli
