#include "FeaturesCommand.h"

#include "CommandLine.h"
#include "ImageInput.h"
#include "ModelLoading.h"
#include "NpyFile.h"

#include <featscope/Errors.h>
#include <featscope/FeatureExtraction.h>
#include <featscope/ImageInputs.h>
#include <featscope/InferenceExport.h>
#include <featscope/ModuleLoader.h>
#include <featscope/ReturnNodes.h>
#include <featscope/Runtime.h>
#include <featscope/TensorLayout.h>
#include <featscope/UnsafeOps.h>

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace featscope::cli {

const char* const featuresUsage = R"(Usage: featscope-cli features MODEL.pt --return NODE -o OUT.npy IMAGES_OR_FOLDERS...
                              [--pool avg|max|gem|cls|none] [--gem-p P] [--l2-normalize]
                              [--layout auto|nchw|nhwc|tokens]
                              [--batch N] [--threads N] [--shard I/N] [--strict]
                              [--restart] [--leaf-module QUALNAME]...
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

const char* const featuresJoinUsage = R"(Usage: featscope-cli features-join -o OUT.npy SHARD.npy...

Join the outputs of 'featscope-cli features --shard I/N' (all N of them, given
in any order) into what a single run without --shard writes: OUT.npy,
OUT.paths.txt and OUT.json. Each SHARD.npy needs its SHARD.paths.txt and
SHARD.json beside it. The shards must come from the same model, settings and
image list.

Options:
  -o, --output OUT.npy  where to write (.npy is added when missing)
  -h, --help            show this help
)";

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kFormat = "featscope-features/1";
constexpr const char* kProgressMagic = "featscope-features-progress 1 ";

std::string quote(const std::string& text)
{
    return "'" + text + "'";
}

/// 64-bit FNV-1a: identifies models, settings and image lists in OUT.json (not cryptographic).
class Fnv {
public:
    void add(const void* data, std::size_t size)
    {
        const auto* bytes = static_cast<const unsigned char*>(data);
        for (std::size_t i = 0; i < size; ++i) {
            hash_ ^= bytes[i];
            hash_ *= 1099511628211ull;
        }
    }
    void add(const std::string& text) { add(text.data(), text.size()); }
    std::string hex() const
    {
        std::ostringstream out;
        out << std::hex << std::setw(16) << std::setfill('0') << hash_;
        return out.str();
    }

private:
    std::uint64_t hash_ = 14695981039346656037ull;
};

std::string fileHash(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("Cannot read " + quote(path) + ".");
    Fnv fnv;
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), std::streamsize(buffer.size()));
        fnv.add(buffer.data(), std::size_t(in.gcount()));
    }
    return fnv.hex();
}

std::string listHash(const std::vector<std::string>& paths)
{
    Fnv fnv;
    for (const std::string& path : paths) {
        fnv.add(path);
        fnv.add("\n");
    }
    return fnv.hex();
}

constexpr int kMaxShards = 1000000;

std::string jobId(const std::string& settingsHash, int shard, int shards)
{
    Fnv fnv;
    fnv.add(settingsHash + "|shard " + std::to_string(shard) + "/" + std::to_string(shards));
    return fnv.hex();
}

/// OUT.npy and the files that go with it.
struct OutputFiles {
    std::string npy, paths, json, partial, progress;

    explicit OutputFiles(std::string out)
    {
        if (out.size() < 4 || out.compare(out.size() - 4, 4, ".npy") != 0)
            out += ".npy";
        npy = out;
        const std::string base = out.substr(0, out.size() - 4);
        paths = base + ".paths.txt";
        json = base + ".json";
        partial = out + ".partial";
        progress = out + ".progress";
    }
};

std::string outputOption(const CommandLine& line)
{
    if (line.has("-o") && line.has("--output"))
        throw UsageError{"give the output once, with -o or --output"};
    const std::string output = line.has("-o") ? line.value("-o") : line.value("--output");
    if (output.empty())
        throw UsageError{"missing -o OUT.npy"};
    const fs::path parent = fs::path(output).parent_path();
    if (!parent.empty() && !fs::is_directory(parent))
        throw Error("Cannot write " + quote(output) + ": the folder " + quote(parent.string()) + " does not exist.");
    return output;
}

QString qs(const std::string& text)
{
    return QString::fromStdString(text);
}

// --- interruption -------------------------------------------------------------------------------

volatile std::sig_atomic_t gInterrupted = 0;

extern "C" void onInterrupt(int)
{
    gInterrupted = 1;
}

/// Ctrl-C / SIGTERM finish the current batch, then stop; a second one kills at once.
class InterruptGuard {
public:
    InterruptGuard()
    {
        gInterrupted = 0;
        struct sigaction action {};
        action.sa_handler = onInterrupt;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESETHAND;
        sigaction(SIGINT, &action, &oldInt_);
        sigaction(SIGTERM, &action, &oldTerm_);
    }
    ~InterruptGuard()
    {
        sigaction(SIGINT, &oldInt_, nullptr);
        sigaction(SIGTERM, &oldTerm_, nullptr);
    }

private:
    struct sigaction oldInt_ {};
    struct sigaction oldTerm_ {};
};

// --- progress bar -------------------------------------------------------------------------------

class ProgressBar {
public:
    ProgressBar(std::size_t total, std::size_t done) : total_(total), start_(done), enabled_(::isatty(2) == 1) {}

    void update(std::size_t done, bool last = false)
    {
        if (!enabled_)
            return;
        const auto now = Clock::now();
        if (!last && now - lastDraw_ < std::chrono::milliseconds(100))
            return;
        lastDraw_ = now;
        const double seconds = std::chrono::duration<double>(now - begin_).count();
        const double rate = seconds > 0 ? double(done - start_) / seconds : 0.0;
        const double fraction = total_ ? double(done) / double(total_) : 1.0;
        constexpr int width = 30;
        const int filled = int(fraction * width);
        std::ostringstream line;
        line << "\r[" << std::string(std::size_t(filled), '#') << std::string(std::size_t(width - filled), '.') << "] "
             << done << "/" << total_ << " " << int(fraction * 100) << "% " << std::fixed << std::setprecision(1)
             << rate << " img/s";
        if (rate > 0 && done < total_) {
            const long eta = long(double(total_ - done) / rate);
            line << " ETA " << eta / 60 << ":" << std::setw(2) << std::setfill('0') << eta % 60;
        }
        line << "   ";
        std::cerr << line.str() << (last ? "\n" : "") << std::flush;
        drawn_ = true;
    }

    void clear()
    {
        if (enabled_ && drawn_)
            std::cerr << "\n";
        drawn_ = false;
    }

private:
    std::size_t total_, start_;
    bool enabled_;
    bool drawn_ = false;
    Clock::time_point begin_ = Clock::now();
    Clock::time_point lastDraw_{};
};

// --- descriptors --------------------------------------------------------------------------------

enum class Pool { Avg, Max, Gem, Cls, None };

struct Settings {
    std::string node;
    Pool pool = Pool::Avg;
    std::string poolName = "avg";
    double gemP = 3.0;
    bool l2 = false;
    /// --layout; detected from the value's shape when unset.
    std::optional<TensorLayoutKind> layout;
};

// The dimensions --pool avg|max|gem reduces, and the first token to keep (1 after a class token,
// which is not part of the grid), from the value's layout.
struct PoolingPlan {
    std::vector<int64_t> dims;
    int64_t firstToken = 0;
};

PoolingPlan poolingPlan(const torch::Tensor& value, const Settings& s, const std::string& node, InputSize input)
{
    const std::vector<int64_t> shape = value.sizes().vec();
    TensorLayout layout;
    if (s.layout) {
        std::string error;
        layout = applyTensorLayout(shape, *s.layout, input, &error);
        if (layout.kind == TensorLayoutKind::Unknown)
            throw Error("The node " + quote(node) + " gives a value of shape " + c10::str(value.sizes())
                        + " that cannot be read as " + toString(*s.layout) + ": " + error + ". Use another --layout.");
    } else {
        layout = detectTensorLayout(shape, input);
    }
    if (value.dim() == 3)
        return {{1}, layout.classToken ? 1 : 0}; // tokens, or any other sequence [N, L, D]: over L
    if (layout.kind == TensorLayoutKind::Nhwc)
        return {{1, 2}, 0};
    PoolingPlan plan;
    for (int64_t d = 2; d < value.dim(); ++d)
        plan.dims.push_back(d);
    return plan;
}

torch::Tensor describe(torch::Tensor value, const Settings& s, const std::string& node, InputSize input)
{
    value = value.to(torch::kFloat32);
    if (value.dim() < 2)
        throw Error("The node " + quote(node) + " gives a " + std::to_string(value.dim())
                    + "-D value; a descriptor node needs a batch dimension ([N, ...]). Choose another node.");
    if (s.pool == Pool::Cls) {
        if (value.dim() != 3)
            throw Error("--pool cls takes the class token of a token sequence [N, T, C], but the node " + quote(node)
                        + " gives a value of shape " + c10::str(value.sizes()) + ". Use --pool avg|max|gem.");
        value = value.select(1, 0);
    } else if (value.dim() > 2) {
        if (s.pool == Pool::None || value.dim() > 5) {
            value = value.flatten(1);
        } else {
            const PoolingPlan plan = poolingPlan(value, s, node, input);
            if (plan.firstToken > 0)
                value = value.slice(1, plan.firstToken);
            switch (s.pool) {
            case Pool::Avg:
                value = value.mean(plan.dims);
                break;
            case Pool::Max:
                value = value.amax(plan.dims);
                break;
            case Pool::Gem:
                value = value.clamp_min(1e-6).pow(s.gemP).mean(plan.dims).pow(1.0 / s.gemP);
                break;
            case Pool::Cls:
            case Pool::None:
                break;
            }
        }
    }
    if (s.l2)
        value = value / value.norm(2, {1}, true).clamp_min(1e-12);
    return value.contiguous();
}

/// One decoded image or the reason it could not be decoded.
struct Decoded {
    std::size_t index = 0;
    torch::Tensor tensor;
    std::string error;
};

std::vector<Decoded> decodeRange(const std::vector<std::string>& images, std::size_t begin, std::size_t end,
                                 const Preprocessing& prep, int workers)
{
    std::vector<Decoded> out(end - begin);
    const auto work = [&](std::size_t first) {
        for (std::size_t i = first; i < out.size(); i += std::size_t(workers)) {
            out[i].index = begin + i;
            try {
                out[i].tensor = loadImage(images[begin + i], prep);
            } catch (const std::exception& error) {
                out[i].error = error.what();
            }
        }
    };
    workers = std::max(1, std::min<int>(workers, int(out.size())));
    std::vector<std::thread> threads;
    for (int w = 1; w < workers; ++w)
        threads.emplace_back(work, std::size_t(w));
    work(0);
    for (std::thread& t : threads)
        t.join();
    return out;
}

std::string oneLine(std::string text)
{
    for (char& c : text)
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
    return text;
}

/// What an interrupted run left in OUT.npy.progress: every image it finished, in order.
struct Progress {
    std::vector<std::string> done;
    std::vector<bool> ok;
    std::vector<std::string> reasons; ///< why skipped images were skipped ("" for ok ones)
    std::size_t okCount() const { return std::size_t(std::count(ok.begin(), ok.end(), true)); }
};

std::optional<Progress> readProgress(const std::string& path, const std::string& job, const std::string& partialPath)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t firstEnd = content.find('\n');
    if (firstEnd == std::string::npos || content.compare(0, std::strlen(kProgressMagic), kProgressMagic) != 0)
        return std::nullopt; // interrupted before the first line was complete: nothing to keep
    if (content.substr(std::strlen(kProgressMagic), firstEnd - std::strlen(kProgressMagic)) != job)
        throw Error("The unfinished results " + quote(path) + " and " + quote(partialPath)
                    + " come from a different command (model, node, pooling, preprocessing or shard differ). "
                      "Run that command again to finish them, or add --restart to discard them.");
    Progress progress;
    std::size_t pos = firstEnd + 1;
    while (pos < content.size()) {
        const std::size_t end = content.find('\n', pos);
        if (end == std::string::npos)
            break; // a line cut by the interruption
        const std::string line = content.substr(pos, end - pos);
        pos = end + 1;
        const std::size_t tab = line.find('\t');
        if (tab == std::string::npos)
            break;
        const std::string status = line.substr(0, tab);
        std::string rest = line.substr(tab + 1);
        std::string reason;
        if (status == "skip") {
            const std::size_t tab2 = rest.find('\t');
            if (tab2 != std::string::npos) {
                reason = rest.substr(tab2 + 1);
                rest = rest.substr(0, tab2);
            }
        } else if (status != "ok") {
            break;
        }
        progress.done.push_back(rest);
        progress.ok.push_back(status == "ok");
        progress.reasons.push_back(reason);
    }
    return progress;
}

std::string progressLine(const std::string& path, bool ok, const std::string& reason)
{
    return ok ? "ok\t" + path + "\n" : "skip\t" + path + "\t" + oneLine(reason) + "\n";
}

std::string joinLines(const std::vector<std::string>& lines)
{
    std::string out;
    for (const std::string& line : lines)
        out += line + "\n";
    return out;
}

std::vector<std::string> readLines(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("Cannot read " + quote(path) + ".");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

QJsonObject readJsonObject(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("Cannot read " + quote(path) + ".");
    const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(QByteArray::fromStdString(content), &error);
    if (!document.isObject())
        throw Error("Cannot read " + quote(path) + ": " + error.errorString().toStdString() + ".");
    return document.object();
}

void finalizeOutputs(const OutputFiles& files, std::FILE* partial, std::uint64_t rows, std::uint64_t cols,
                     const std::vector<std::string>& paths, const QJsonObject& meta)
{
    const std::string header = npyHeader(rows, cols);
    const auto expected = std::int64_t(kNpyHeaderSize + rows * cols * 4);
    bool ok = std::fseek(partial, 0, SEEK_SET) == 0 && std::fwrite(header.data(), 1, header.size(), partial) == header.size();
    ok = std::fflush(partial) == 0 && ::ftruncate(fileno(partial), expected) == 0 && ::fsync(fileno(partial)) == 0 && ok;
    ok = std::fclose(partial) == 0 && ok;
    if (!ok)
        throw Error("Cannot finish " + quote(files.partial) + " (disk full?). Run the command again to retry.");
    // OUT.json last: it marks the outputs complete.
    std::error_code error;
    fs::rename(files.partial, files.npy, error);
    if (error)
        throw Error("Cannot rename " + quote(files.partial) + " to " + quote(files.npy) + ": " + error.message() + ".");
    writeAtomically(files.paths, joinLines(paths));
    writeAtomically(files.json, QJsonDocument(meta).toJson(QJsonDocument::Indented).toStdString());
    fs::remove(files.progress, error);
}

} // namespace

int runFeatures(const std::vector<std::string>& args)
{
    const CommandLine line(args,
                           {"--return", "--pool", "--gem-p", "--layout", "--batch", "--threads", "--shard", "-o", "--output",
                            "--leaf-module", "--leaf-function", "--ops-library"},
                           {"--l2-normalize", "--strict", "--restart", "--allow-unsafe-ops"});
    if (line.positional().empty())
        throw UsageError{"missing MODEL.pt"};
    const std::string modelPath = line.positional().front();
    const std::vector<std::string> inputs(line.positional().begin() + 1, line.positional().end());
    if (inputs.empty())
        throw UsageError{"give at least one image or folder of images after MODEL.pt"};
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
        const std::string text = line.value("--gem-p");
        try {
            std::size_t used = 0;
            settings.gemP = std::stod(text, &used);
            if (used != text.size() || !(settings.gemP > 0 && settings.gemP < 1000))
                throw std::invalid_argument(text);
        } catch (const std::exception&) {
            throw UsageError{"--gem-p needs a positive number, not '" + text + "'"};
        }
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
    const Preprocessing prep = Preprocessing::fromModelFile(modelPath);
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
    settingsFnv.add(kFormat);
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
                return 0;
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

    // One writer per output: the progress file is also a lock (flock, released when the process ends).
    const int progressFd = ::open(files.progress.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (progressFd < 0)
        throw Error("Cannot write " + quote(files.progress) + ": " + std::strerror(errno) + ".");
    std::FILE* progressFile = ::fdopen(progressFd, "ab");
    if (!progressFile) {
        ::close(progressFd);
        throw Error("Cannot write " + quote(files.progress) + ".");
    }
    std::FILE* partial = nullptr;
    struct Closer {
        std::FILE*& a;
        std::FILE*& b;
        ~Closer()
        {
            if (a)
                std::fclose(a);
            if (b)
                std::fclose(b);
        }
    } closer{partial, progressFile};
    if (::flock(progressFd, LOCK_EX | LOCK_NB) != 0)
        throw Error("Another 'featscope-cli features' is writing " + quote(files.npy) + " right now (it holds "
                    + quote(files.progress) + "). Wait for it to finish, or write elsewhere with -o.");
    if (line.has("--restart")) {
        std::error_code ignored;
        fs::remove(files.partial, ignored);
        if (::ftruncate(progressFd, 0) != 0)
            throw Error("Cannot write " + quote(files.progress) + ".");
    }

    // Resume: keep what an interrupted run of the same job finished.
    std::optional<Progress> progress = readProgress(files.progress, job, files.partial);
    Progress kept;
    std::uint64_t cols = 0;
    if (progress) {
        std::uint64_t available = 0;
        if (fs::exists(files.partial)) {
            try {
                const NpyMatrix m = readNpyHeader(files.partial, true);
                available = m.rows;
                cols = m.cols;
            } catch (const Error&) {
            }
        }
        std::size_t okSoFar = 0;
        for (std::size_t i = 0; i < progress->done.size() && i < images.size(); ++i) {
            if (progress->done[i] != images[i])
                throw Error("The unfinished results in " + quote(files.progress) + " were made from a different list of images (first difference: "
                            + quote(progress->done[i]) + " vs " + quote(images[i])
                            + "). Run again with --restart to start over.");
            if (progress->ok[i] && okSoFar == available)
                break; // its row did not reach the disk
            okSoFar += progress->ok[i] ? 1 : 0;
            kept.done.push_back(progress->done[i]);
            kept.ok.push_back(progress->ok[i]);
            kept.reasons.push_back(progress->reasons[i]);
        }
    }
    const std::size_t keptRows = kept.okCount();
    if (keptRows == 0)
        cols = 0;

    // Rewrite the progress file to what is kept, and cut the partial array to its complete rows.
    {
        std::string content = kProgressMagic + job + "\n";
        for (std::size_t i = 0; i < kept.done.size(); ++i)
            content += progressLine(kept.done[i], kept.ok[i], kept.reasons[i]);
        const bool ok = ::ftruncate(progressFd, 0) == 0 && std::fwrite(content.data(), 1, content.size(), progressFile) == content.size()
                        && std::fflush(progressFile) == 0 && ::fsync(progressFd) == 0;
        if (!ok)
            throw Error("Cannot write " + quote(files.progress) + " (disk full?).");
    }
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

    ProgressBar bar(images.size(), kept.done.size());
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
        if (!gInterrupted)
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
        if (std::fwrite(lines.data(), 1, lines.size(), progressFile) != lines.size() || std::fflush(progressFile) != 0)
            throw Error("Cannot write " + quote(files.progress) + " (disk full?). Run the command again to resume.");
        bar.update(kept.done.size(), kept.done.size() == images.size());
        if (gInterrupted) {
            if (pending.valid())
                pending.wait();
            bar.clear();
            std::cerr << "featscope-cli features: interrupted after " << kept.done.size() << " of " << images.size()
                      << " images; run the same command again to resume.\n";
            return 130;
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
    QJsonObject meta{{"format", kFormat},
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
    return 0;
}

int runFeaturesJoin(const std::vector<std::string>& args)
{
    const CommandLine line(args, {"-o", "--output"}, {});
    if (line.positional().empty())
        throw UsageError{"give the SHARD.npy files to join"};
    const OutputFiles out(outputOption(line));

    struct Shard {
        OutputFiles files;
        QJsonObject meta;
        NpyMatrix matrix;
        int index = 0;
    };
    std::vector<Shard> parts;
    for (const std::string& path : line.positional()) {
        Shard s{OutputFiles(path), {}, {}, 0};
        if (!fs::exists(s.files.npy))
            throw Error("Cannot join " + quote(s.files.npy) + ": it does not exist"
                        + (fs::exists(s.files.progress) ? " yet (the shard is unfinished; run its command again)." : "."));
        s.meta = readJsonObject(s.files.json);
        if (s.meta.value("format").toString() != kFormat)
            throw Error(quote(s.files.json) + " was not written by 'featscope-cli features'.");
        s.matrix = readNpyHeader(s.files.npy);
        if (double(s.matrix.rows) != s.meta.value("rows").toDouble())
            throw Error(quote(s.files.npy) + " does not match " + quote(s.files.json) + " (different row counts).");
        s.index = s.meta.value("shard").toArray().at(0).toInt();
        parts.push_back(std::move(s));
    }
    const QJsonObject& first = parts.front().meta;
    const int shards = first.value("shard").toArray().at(1).toInt();
    // SHARD.json files may come from anywhere: keep their numbers in the range `--shard` writes.
    for (const Shard& s : parts) {
        const int count = s.meta.value("shard").toArray().at(1).toInt();
        if (count < 1 || count > kMaxShards || s.index < 1 || s.index > count)
            throw Error(quote(s.files.json) + " names shard " + std::to_string(s.index) + "/" + std::to_string(count)
                        + ", which 'featscope-cli features --shard' does not write (1 <= I <= N <= "
                        + std::to_string(kMaxShards) + ").");
        const double images = s.meta.value("images").toDouble(-1);
        if (!(images >= 0 && images <= 9007199254740992.0) || images != std::floor(images))
            throw Error(quote(s.files.json) + " has an invalid image count.");
    }
    for (const Shard& s : parts) {
        const auto differ = [&](const char* key) { return s.meta.value(key) != first.value(key); };
        if (differ("settings_fnv1a64"))
            throw Error("Cannot join " + quote(s.files.npy) + " with " + quote(parts.front().files.npy)
                        + ": they were made with different models or settings.");
        if (differ("image_list_fnv1a64") || differ("all_images"))
            throw Error("Cannot join " + quote(s.files.npy) + " with " + quote(parts.front().files.npy)
                        + ": they were made from different lists of images.");
        if (s.meta.value("shard").toArray().at(1).toInt() != shards)
            throw Error("Cannot join " + quote(s.files.npy) + " with " + quote(parts.front().files.npy)
                        + ": they split the images into different numbers of shards.");
    }
    std::sort(parts.begin(), parts.end(), [](const Shard& a, const Shard& b) { return a.index < b.index; });
    std::set<int> indices;
    for (const Shard& s : parts)
        if (!indices.insert(s.index).second)
            throw Error("Shard " + std::to_string(s.index) + "/" + std::to_string(shards) + " is given twice.");
    std::string missing;
    int missingCount = 0;
    for (int i = 1; i <= shards; ++i)
        if (!indices.count(i) && ++missingCount <= 10)
            missing += (missing.empty() ? "" : ", ") + std::to_string(i) + "/" + std::to_string(shards);
    if (missingCount > 10)
        missing += " and " + std::to_string(missingCount - 10) + " more";
    if (missingCount > 0)
        throw Error("Cannot join: shard" + std::string(missingCount == 1 ? " " : "s ") + missing
                    + " missing. Give the outputs of all " + std::to_string(shards) + " shards.");

    std::uint64_t rows = 0, cols = 0, images = 0;
    std::vector<std::string> paths;
    QJsonArray skipped;
    for (const Shard& s : parts) {
        if (s.matrix.rows > 0) {
            if (cols != 0 && s.matrix.cols != cols)
                throw Error(quote(s.files.npy) + " has " + std::to_string(s.matrix.cols) + " columns, the others "
                            + std::to_string(cols) + ".");
            cols = s.matrix.cols;
        } else if (cols == 0) {
            cols = s.matrix.cols;
        }
        rows += s.matrix.rows;
        images += std::uint64_t(s.meta.value("images").toDouble());
        const std::vector<std::string> lines = readLines(s.files.paths);
        if (lines.size() != s.matrix.rows)
            throw Error(quote(s.files.paths) + " lists " + std::to_string(lines.size()) + " images for "
                        + std::to_string(s.matrix.rows) + " rows.");
        paths.insert(paths.end(), lines.begin(), lines.end());
        for (const QJsonValue& v : s.meta.value("skipped").toArray())
            skipped.append(v);
    }

    const std::string temporary = out.npy + ".tmp-" + std::to_string(::getpid());
    {
        std::ofstream o(temporary, std::ios::binary | std::ios::trunc);
        o << npyHeader(rows, cols);
        std::vector<char> buffer(1 << 20);
        for (const Shard& s : parts) {
            std::ifstream in(s.files.npy, std::ios::binary);
            in.seekg(std::streamoff(s.matrix.dataOffset));
            std::uint64_t left = s.matrix.rows * s.matrix.cols * 4;
            while (left > 0 && in) {
                in.read(buffer.data(), std::streamsize(std::min<std::uint64_t>(left, buffer.size())));
                o.write(buffer.data(), in.gcount());
                left -= std::uint64_t(in.gcount());
            }
            if (left)
                throw Error("Cannot read " + quote(s.files.npy) + ".");
        }
        o.flush();
        if (!o)
            throw Error("Cannot write " + quote(out.npy) + " (disk full?).");
    }
    std::error_code error;
    fs::rename(temporary, out.npy, error);
    if (error) {
        fs::remove(temporary, error);
        throw Error("Cannot write " + quote(out.npy) + ".");
    }
    QJsonObject meta = first;
    meta.insert("job", qs(jobId(first.value("settings_fnv1a64").toString().toStdString(), 1, 1)));
    meta.insert("rows", double(rows));
    meta.insert("dim", double(cols));
    meta.insert("images", double(images));
    meta.insert("skipped", skipped);
    meta.insert("shard", QJsonArray{1, 1});
    writeAtomically(out.paths, joinLines(paths));
    writeAtomically(out.json, QJsonDocument(meta).toJson(QJsonDocument::Indented).toStdString());
    std::cerr << "featscope-cli features-join: wrote " << out.npy << " (" << rows << " x " << cols << ") from "
              << parts.size() << " shards\n";
    return 0;
}

} // namespace featscope::cli
