// Model loading inside the engine, limits on: each input becomes a .pt file that Engine::handle loads
// ({"cmd": "load"}: featscope::loadModule's memory- and time-capped reader process, then naming, graph
// description and featscope.json), followed by an export of an extractor of what loaded.
//
// An input starting with "PK" is a whole archive. Any other input replaces one record of the fixture model:
// the first byte picks the record (tiny_cnn.pt's records sorted by name, without "version"), the rest is its
// new content, and the harness writes a well-formed archive around it. Raw byte mutations of a zip mostly
// break its structure or compressed streams; replacing a record lets the fuzzer reach the unpickler, the
// TorchScript compiler and featscope's naming with mutated code, constants and debug information.
//
// scripts/fuzz.sh builds this target without AddressSanitizer: the reader's RLIMIT_AS cap and ASan's
// shadow memory do not go together (docs/fuzzing.md).

#include "Engine.h"
#include "FuzzSupport.h"

#include <featscope/ModuleLoader.h>

#include <caffe2/serialize/inline_container.h>

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonObject>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fuzz = featscope::fuzz;

std::vector<std::pair<std::string, std::string>> gFixtureRecords;

std::vector<std::pair<std::string, std::string>> readRecords(const std::string& path)
{
    caffe2::serialize::PyTorchStreamReader reader(path);
    std::vector<std::string> names = reader.getAllRecords();
    names.erase(std::remove_if(names.begin(), names.end(),
                               [](const std::string& name) { return name == "version" || name == ".data/version"; }),
                names.end());
    std::sort(names.begin(), names.end());
    std::vector<std::pair<std::string, std::string>> records;
    for (const std::string& name : names) {
        const auto [bytes, size] = reader.getRecord(name);
        records.emplace_back(name, std::string(static_cast<const char*>(bytes.get()), size));
    }
    return records;
}

void writeArchiveWithRecordReplaced(const std::string& path, std::size_t index, const std::string& content)
{
    caffe2::serialize::PyTorchStreamWriter writer(path);
    for (std::size_t i = 0; i < gFixtureRecords.size(); ++i) {
        const std::string& data = i == index ? content : gFixtureRecords[i].second;
        writer.writeRecord(gFixtureRecords[i].first, data.data(), data.size());
    }
    writer.writeEndOfFile();
}

QJsonObject request(const char* cmd)
{
    return QJsonObject{{QStringLiteral("id"), 1}, {QStringLiteral("cmd"), QLatin1String(cmd)}};
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
{
    static QCoreApplication app(*argc, *argv);
    fuzz::silenceQtMessages();
    fuzz::restoreDefaultCrashHandlingInForkedChildren();
    torch::set_num_threads(1);
    // Tighter than the defaults (2 GiB, 30 s) so hostile inputs cost the fuzzer seconds, not minutes.
    setenv("FEATSCOPE_LOAD_MEMORY_MB", "1024", /*overwrite=*/0);
    setenv("FEATSCOPE_LOAD_SECONDS", "10", /*overwrite=*/0);
    gFixtureRecords = readRecords(fuzz::fixture("tiny_cnn.pt"));
    featscope::prepareModuleReader();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::string path = fuzz::scratchFolder() + "/model.pt";
    if (size >= 2 && data[0] == 'P' && data[1] == 'K')
        fuzz::writeFile(path, data, size);
    else
        writeArchiveWithRecordReplaced(path, data[0] % gFixtureRecords.size(),
                                       std::string(reinterpret_cast<const char*>(data) + 1, size - 1));

    Engine engine(Engine::Options{});
    QJsonObject load = request("load");
    load.insert(QStringLiteral("path"), QString::fromStdString(path));
    const QJsonObject loaded = engine.handle(load).header;
    if (loaded.value(QStringLiteral("ok")).toBool()) {
        // Export an extractor of the last eval node, named by its first path component as a user typing a
        // truncated name would: naming, validation and extractor building on what loaded.
        const QJsonArray names = loaded.value(QStringLiteral("graphs")).toObject()
                                     .value(QStringLiteral("eval")).toObject()
                                     .value(QStringLiteral("names")).toArray();
        if (!names.isEmpty()) {
            QJsonObject exportRequest = request("export");
            exportRequest.insert(QStringLiteral("path"), QString::fromStdString(fuzz::scratchFolder() + "/extractor.pt"));
            exportRequest.insert(QStringLiteral("returnNodes"),
                                 QJsonArray{QJsonObject{{QStringLiteral("node"), names.last().toString().section(QLatin1Char('.'), 0, 0)}}});
            if (!engine.handle(exportRequest).header.contains(QStringLiteral("ok")))
                std::abort();
        }
    }
    fuzz::clearFolder(fuzz::scratchFolder());
    // The next input's reader process starts up (LibTorch) while libFuzzer mutates.
    featscope::prepareModuleReader();
    return 0;
}
