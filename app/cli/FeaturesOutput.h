#pragma once

// The outputs of `features` and `features-join`: OUT.npy, OUT.paths.txt and OUT.json (which marks
// them complete), their names, identities and the final step that publishes them.

#include "CliText.h"
#include "CommandLine.h"

#include <QJsonObject>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace featscope::cli {

/// OUT.json's "format".
constexpr const char* kFeaturesFormat = "featscope-features/1";
/// The largest N of --shard I/N.
constexpr int kMaxShards = 1000000;

/// OUT.npy and the files that go with it.
struct OutputFiles {
    std::string npy, paths, json, partial, progress;

    explicit OutputFiles(std::string out)
    {
        if (!endsWith(out, ".npy"))
            out += ".npy";
        npy = out;
        const std::string base = out.substr(0, out.size() - 4);
        paths = base + ".paths.txt";
        json = base + ".json";
        partial = out + ".partial";
        progress = out + ".progress";
    }
};

/// The -o / --output value; a UsageError when missing or given twice, featscope::Error when its
/// folder does not exist.
std::string outputOption(const CommandLine& line);

/// The job's identity in OUT.json and OUT.npy.progress: the settings hash and the shard.
std::string jobId(const std::string& settingsHash, int shard, int shards);

/// `lines`, each ended by a line break.
std::string joinLines(const std::vector<std::string>& lines);
/// The lines of `path`; throws featscope::Error naming it when it cannot be read.
std::vector<std::string> readLines(const std::string& path);
/// The JSON object in `path`; throws featscope::Error naming it when it cannot be read or parsed.
QJsonObject readJsonObject(const std::string& path);

/// Publishes a finished run: writes the final .npy header into `partial` (closing it), renames
/// OUT.npy.partial to OUT.npy, writes OUT.paths.txt and, last, OUT.json, and removes OUT.npy.progress.
void finalizeOutputs(const OutputFiles& files, std::FILE* partial, std::uint64_t rows, std::uint64_t cols,
                     const std::vector<std::string>& paths, const QJsonObject& meta);

} // namespace featscope::cli
