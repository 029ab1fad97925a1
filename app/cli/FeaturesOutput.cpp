#include "FeaturesOutput.h"

#include "CliText.h"
#include "ContentHash.h"
#include "NpyFile.h"

#include <featscope/AtomicFile.h>
#include <featscope/Errors.h>

#include <QByteArray>
#include <QJsonDocument>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

namespace featscope::cli {

namespace fs = std::filesystem;

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

std::string jobId(const std::string& settingsHash, int shard, int shards)
{
    Fnv fnv;
    fnv.add(settingsHash + "|shard " + std::to_string(shard) + "/" + std::to_string(shards));
    return fnv.hex();
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
    writeFileAtomically(files.paths, joinLines(paths));
    writeFileAtomically(files.json, QJsonDocument(meta).toJson(QJsonDocument::Indented).toStdString());
    fs::remove(files.progress, error);
}

} // namespace featscope::cli
