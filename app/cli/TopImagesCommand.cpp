// featscope-cli top-images: one score per image and channel is a `features` run (pooled over the grid,
// so it is resumable, shows progress and is reused when only -k or the channels change); the ranking and
// the maps of the winners are computed here.

#include "TopImagesCommand.h"

#include "CliText.h"
#include "CommandLine.h"
#include "ExitCodes.h"
#include "FeaturesCommand.h"
#include "FeaturesOutput.h"
#include "ImageInput.h"
#include "ModelLoading.h"
#include "NpyFile.h"

#include <featscope/AtomicFile.h>
#include <featscope/ChannelGrid.h>
#include <featscope/Errors.h>
#include <featscope/FeatureExtraction.h>
#include <featscope/TensorLayout.h>

#include <torch/script.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

namespace featscope::cli {

const char* const topImagesUsage = R"(Usage: featscope-cli top-images MODEL.pt --return NODE -o OUT.json|OUT.csv IMAGES_OR_FOLDERS...
                                [-k K] [--channel C]... [--score mean|max]
                                [--layout auto|nchw|nhwc|tokens] [--batch N]
                                [--threads N] [--restart] [--progress-lines]
                                [--leaf-module QUALNAME]... [--leaf-function QUALNAME]...
                                [--ops-library PATH]... [--allow-unsafe-ops]

Which images excite a channel most: runs MODEL.pt (eval mode) on every image
and, for each channel of node NODE, lists the K images whose activation of
that channel is highest, best first.

A channel's activation on an image is its mean over the node's grid (--score
mean, the default) or its largest value (--score max): dimension 1 of
[N, C, H, W], the last of [N, H, W, C] and of tokens [N, T, C] (a class token
left out), as 'features --pool avg|max' computes them; [N, K] values (class
scores, embeddings) are scored by their value.

Images, folders and preprocessing are those of 'features'. The scores of every
image are a 'features' run kept beside the output (OUT.scores.npy, .paths.txt,
.json): an interrupted run resumes after its finished images, and a second
command on the same model, node, score and images reads them instead of running
the model again (for another -k or other channels).

Outputs (each written complete or not at all):
  OUT.json  {"format", "model", "node", "score", "k", "images", "channels":
            [{"channel", "top": [{"image", "score", "map"?}, ...]}, ...]}
            with --channel, each top image's "map" is that channel's map on it:
            {"height", "width", "values"} (row-major) over the node's grid
  OUT.csv   channel,rank,image,score (one row per top image)

Options:
  --return NODE          the node (a truncated name works)
  -k K                   images per channel (default 9)
  --channel C            only this channel, with its maps (repeatable; default:
                         every channel, without maps)
  --score S              mean (default) or max
  --layout L             how the value is read: auto (default), nchw, nhwc or
                         tokens
  --batch N, --threads N, --restart, --progress-lines, --leaf-module,
  --leaf-function, --ops-library, --allow-unsafe-ops
                         as for 'features'
  -o, --output OUT       OUT.json, or OUT.csv for a table
  -h, --help             show this help

Exit status: 0 on success, 1 on errors, 2 for a malformed command line, 130
when interrupted (the same command resumes).
)";

namespace {

// OUT.json or OUT.csv, and the base of the scores files beside it.
struct TopImagesOutput {
    std::string path;
    bool csv = false;
    std::string scores; // OUT.scores.npy
};

TopImagesOutput topImagesOutput(const CommandLine& line)
{
    TopImagesOutput out;
    out.path = outputOption(line);
    // A name before the extension: "-o .json" names no output.
    const auto named = [&](const std::string& suffix) { return endsWith(out.path, suffix) && out.path.size() > suffix.size(); };
    if (named(".csv"))
        out.csv = true;
    else if (!named(".json"))
        throw UsageError{"-o names OUT.json or OUT.csv, not '" + out.path + "'"};
    out.scores = out.path.substr(0, out.path.rfind('.')) + ".scores.npy";
    return out;
}

// The scores matrix [images, channels] a `features` run wrote, with its image of each row.
struct Scores {
    NpyMatrix shape;
    std::vector<float> values;
    std::vector<std::string> images;
};

Scores readScores(const std::string& npyPath)
{
    Scores scores;
    scores.shape = readNpyHeader(npyPath);
    scores.values.resize(scores.shape.rows * scores.shape.cols);
    std::ifstream in(npyPath, std::ios::binary);
    in.seekg(std::streamoff(scores.shape.dataOffset));
    in.read(reinterpret_cast<char*>(scores.values.data()), std::streamsize(scores.values.size() * sizeof(float)));
    if (!in)
        throw Error("Cannot read the scores in " + quote(npyPath) + ". Run the command again with --restart.");
    scores.images = readLines(OutputFiles(npyPath).paths);
    if (scores.images.size() != scores.shape.rows)
        throw Error("The scores in " + quote(npyPath) + " do not match their image list. Run the command again with --restart.");
    return scores;
}

// Rows of `scores` with the k highest values of `channel`, best first; ties keep the images' sorted order.
std::vector<std::size_t> topRows(const Scores& scores, std::size_t channel, std::size_t k)
{
    std::vector<std::size_t> rows(scores.shape.rows);
    std::iota(rows.begin(), rows.end(), std::size_t{0});
    const auto value = [&](std::size_t row) { return scores.values[row * scores.shape.cols + channel]; };
    const std::size_t n = std::min(k, rows.size());
    std::partial_sort(rows.begin(), rows.begin() + std::ptrdiff_t(n), rows.end(), [&](std::size_t a, std::size_t b) {
        return value(a) > value(b) || (value(a) == value(b) && a < b);
    });
    rows.resize(n);
    return rows;
}

// The options of `top-images` that `features` takes as they are.
std::vector<std::string> passedOn(const CommandLine& line)
{
    std::vector<std::string> args;
    for (const char* option : {"--layout", "--batch", "--threads"})
        if (line.has(option))
            args.insert(args.end(), {option, line.value(option)});
    for (const char* option : {"--leaf-module", "--leaf-function", "--ops-library"})
        for (const std::string& value : line.values(option))
            args.insert(args.end(), {option, value});
    for (const char* flag : {"--restart", "--progress-lines", "--allow-unsafe-ops"})
        if (line.has(flag))
            args.push_back(flag);
    return args;
}

// A channel's map on each of `images`: [H, W] at the node's grid, read in its layout.
class ChannelMaps {
public:
    ChannelMaps(const CommandLine& line, const std::string& modelPath, const std::string& node)
        : m_modelPath(modelPath), m_model(loadModelsToRun(line, {modelPath}, "top-images").front())
    {
        m_extractor = createFeatureExtractor(m_model, {{node, "value"}}, extractionOptions(line));
        m_extractor.eval();
        const std::string layout = line.value("--layout", "auto");
        if (layout != "auto")
            m_forced = parseSpatialLayout(layout);
    }

    /// The channels' maps on `image` as channel -> [H, W]; empty when the value has no spatial grid.
    std::map<std::size_t, torch::Tensor> on(const std::string& image, const std::set<std::size_t>& channels)
    {
        torch::NoGradGuard noGrad;
        InputSize input;
        const std::vector<c10::IValue> inputs = imageAsInputs(m_model, m_modelPath, image, input);
        const torch::Tensor value = m_extractor.forward(inputs).toGenericDict().at("value").toTensor().to(torch::kFloat32);
        const std::vector<std::int64_t> shape = value.sizes().vec();
        const TensorLayout layout = m_forced ? applyTensorLayout(shape, *m_forced, input) : detectTensorLayout(shape, input);
        std::map<std::size_t, torch::Tensor> maps;
        if (!layout.isSpatial())
            return maps;
        const torch::Tensor grid = channelsFirst(value, layout).contiguous();
        for (std::size_t channel : channels)
            maps[channel] = grid[std::int64_t(channel)];
        return maps;
    }

private:
    std::string m_modelPath;
    torch::jit::Module m_model;
    torch::jit::Module m_extractor;
    std::optional<TensorLayoutKind> m_forced;
};

QJsonObject mapJson(const torch::Tensor& map)
{
    QJsonArray values;
    const torch::Tensor flat = map.contiguous().flatten();
    const float* data = flat.data_ptr<float>();
    for (std::int64_t i = 0; i < flat.numel(); ++i)
        values.append(double(data[i]));
    return QJsonObject{{"height", double(map.size(0))}, {"width", double(map.size(1))}, {"values", values}};
}

std::string csvField(const std::string& text)
{
    if (text.find_first_of(",\"\n") == std::string::npos)
        return text;
    std::string quoted = "\"";
    for (char c : text)
        quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

} // namespace

int runTopImages(const std::vector<std::string>& args)
{
    const CommandLine line(args,
                           {"--return", "-k", "--channel", "--score", "--layout", "--batch", "--threads", "-o", "--output",
                            "--leaf-module", "--leaf-function", "--ops-library"},
                           {"--restart", "--progress-lines", "--allow-unsafe-ops"});
    const auto arguments = modelAndImageArguments(line.positional());
    const std::string& modelPath = arguments.first;
    const std::vector<std::string>& inputs = arguments.second;
    const std::string node = line.value("--return");
    if (node.empty())
        throw UsageError{"choose the node with --return NODE"};
    const std::size_t k = std::size_t(positiveInt(line.value("-k", "9"), "-k"));
    const std::string score = line.value("--score", "mean");
    if (score != "mean" && score != "max")
        throw UsageError{"--score must be mean or max, not '" + score + "'"};
    std::set<std::size_t> chosen;
    for (const std::string& text : line.values("--channel"))
        chosen.insert(std::size_t(wholeNumber(text, "--channel", 0, 1LL << 40)));
    const TopImagesOutput out = topImagesOutput(line);

    std::vector<std::string> featuresArgs{modelPath, "--return", node, "--pool", score == "mean" ? "avg" : "max",
                                          "-o", out.scores};
    const std::vector<std::string> passed = passedOn(line);
    featuresArgs.insert(featuresArgs.end(), passed.begin(), passed.end());
    featuresArgs.insert(featuresArgs.end(), inputs.begin(), inputs.end());
    const int featuresStatus = runFeatures(featuresArgs);
    if (featuresStatus != kExitSuccess)
        return featuresStatus;

    const Scores scores = readScores(out.scores);
    if (scores.shape.rows == 0)
        throw Error("None of the images could be used (see " + quote(OutputFiles(out.scores).json) + "), so nothing can be ranked.");
    for (std::size_t channel : chosen)
        if (channel >= scores.shape.cols)
            throw Error("Node " + quote(node) + " of " + quote(modelPath) + " has " + std::to_string(scores.shape.cols)
                        + " channels (0 to " + std::to_string(scores.shape.cols - 1) + "); there is no channel "
                        + std::to_string(channel) + ".");
    std::vector<std::size_t> channels(chosen.begin(), chosen.end());
    if (channels.empty()) {
        channels.resize(scores.shape.cols);
        std::iota(channels.begin(), channels.end(), std::size_t{0});
    }
    std::map<std::size_t, std::vector<std::size_t>> top;
    for (std::size_t channel : channels)
        top[channel] = topRows(scores, channel, k);

    // The chosen channels' maps on their top images: one forward per image, whichever channels it tops.
    std::map<std::size_t, std::map<std::size_t, torch::Tensor>> mapsByRow;
    if (!chosen.empty()) {
        std::map<std::size_t, std::set<std::size_t>> channelsByRow;
        for (const auto& [channel, rows] : top)
            for (std::size_t row : rows)
                channelsByRow[row].insert(channel);
        ChannelMaps maps(line, modelPath, node);
        for (const auto& [row, rowChannels] : channelsByRow)
            mapsByRow[row] = maps.on(scores.images[row], rowChannels);
    }

    std::ostringstream text;
    if (out.csv) {
        text << "channel,rank,image,score\n";
        for (const auto& [channel, rows] : top)
            for (std::size_t rank = 0; rank < rows.size(); ++rank)
                text << channel << "," << rank + 1 << "," << csvField(scores.images[rows[rank]]) << ","
                     << scores.values[rows[rank] * scores.shape.cols + channel] << "\n";
    } else {
        QJsonArray channelsJson;
        for (const auto& [channel, rows] : top) {
            QJsonArray topJson;
            for (std::size_t row : rows) {
                QJsonObject entry{{"image", qs(scores.images[row])},
                                  {"score", double(scores.values[row * scores.shape.cols + channel])}};
                const auto rowMaps = mapsByRow.find(row);
                if (rowMaps != mapsByRow.end() && rowMaps->second.count(channel))
                    entry.insert("map", mapJson(rowMaps->second.at(channel)));
                topJson.append(entry);
            }
            channelsJson.append(QJsonObject{{"channel", double(channel)}, {"top", topJson}});
        }
        const QJsonObject result{{"format", "featscope-top-images/1"}, {"model", qs(modelPath)}, {"node", qs(node)},
                                 {"score", qs(score)},         {"k", double(k)},          {"images", double(scores.shape.rows)},
                                 {"channels", channelsJson}};
        text << QJsonDocument(result).toJson(QJsonDocument::Compact).toStdString() << "\n";
    }
    writeFileAtomically(out.path, text.str());
    std::cerr << "featscope-cli top-images: wrote " << out.path << " (" << top.size() << " channel"
              << (top.size() == 1 ? "" : "s") << ", top " << std::min<std::size_t>(k, scores.shape.rows) << " of "
              << scores.shape.rows << " images)\n";
    return kExitSuccess;
}

} // namespace featscope::cli
