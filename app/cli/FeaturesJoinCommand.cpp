// featscope-cli features-join: the outputs of `features --shard I/N` joined into one run's outputs.

#include "FeaturesCommand.h"

#include "CliText.h"
#include "CommandLine.h"
#include "ExitCodes.h"
#include "FeaturesOutput.h"
#include "NpyFile.h"

#include <featscope/AtomicFile.h>
#include <featscope/Errors.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

namespace featscope::cli {

namespace fs = std::filesystem;

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
        if (s.meta.value("format").toString() != kFeaturesFormat)
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

    writeFileAtomically(out.npy, [&](const std::string& temporary) {
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
            throw Error("the disk is full");
    });
    QJsonObject meta = first;
    meta.insert("job", qs(jobId(first.value("settings_fnv1a64").toString().toStdString(), 1, 1)));
    meta.insert("rows", double(rows));
    meta.insert("dim", double(cols));
    meta.insert("images", double(images));
    meta.insert("skipped", skipped);
    meta.insert("shard", QJsonArray{1, 1});
    writeFileAtomically(out.paths, joinLines(paths));
    writeFileAtomically(out.json, QJsonDocument(meta).toJson(QJsonDocument::Indented).toStdString());
    std::cerr << "featscope-cli features-join: wrote " << out.npy << " (" << rows << " x " << cols << ") from "
              << parts.size() << " shards\n";
    return kExitSuccess;
}

} // namespace featscope::cli
