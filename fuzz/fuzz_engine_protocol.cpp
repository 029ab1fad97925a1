// The GUI-engine protocol (docs/engine-protocol.md): each input is a session of request lines, parsed and
// dispatched as featscope-engine's main loop does (QJsonDocument, then Engine::handle), against an engine that
// already loaded the tiny fixture model. Every file name a request carries ("path", "image") is mapped into a
// scratch folder, so the fuzzer can load, run and export but never touch other files. Each response is
// framed as the engine sends it and read back as the GUI reads it (protocol::FrameDecoder, RunResult).

#include "Engine.h"
#include "FuzzSupport.h"

#include <featscope/protocol/Framing.h>
#include <featscope/protocol/Messages.h>

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

namespace fuzz = featscope::fuzz;

constexpr int kMaxRequestsPerInput = 8;
// The tiny model runs on any image size; larger sides only make the fuzzer slower, not the test deeper.
constexpr int kMaxImageSide = 64;

// One engine for all inputs: it holds an AnalysedModel, which cannot be copied. An input that loads
// something gets the fixture loaded again after it, so every input starts from the same model.
std::unique_ptr<Engine> gEngine;

void copyFixtures()
{
    for (const char* name : {"tiny_cnn.pt", "tiny_image.png"})
        fuzz::fs::copy_file(fuzz::fixture(name), fuzz::scratchFolder() + "/" + name,
                            fuzz::fs::copy_options::overwrite_existing);
}

/// Keeps the last path component only, so "../../etc/x" and "/abs/x" both become scratch/x.
QJsonValue intoScratchFolder(const QJsonValue& value)
{
    if (!value.isString())
        return value;
    QString name = value.toString().section(QLatin1Char('/'), -1);
    if (name.isEmpty() || name == QLatin1String(".") || name == QLatin1String(".."))
        name = QStringLiteral("unnamed");
    return QString::fromStdString(fuzz::scratchFolder()) + QLatin1Char('/') + name;
}

/// Confines a request to the scratch folder and skips ones too slow to be worth fuzzing.
bool confine(QJsonObject& request)
{
    for (const char* key : {"path", "image"})
        if (request.contains(QLatin1String(key)))
            request.insert(QLatin1String(key), intoScratchFolder(request.value(QLatin1String(key))));
    const QJsonObject preprocessing = request.value(QStringLiteral("preprocessing")).toObject();
    for (const char* side : {"resize", "centerCrop"})
        if (preprocessing.value(QLatin1String(side)).toInt(0) > kMaxImageSide)
            return false;
    return true;
}

void loadFixtureModel()
{
    const QJsonObject loaded = gEngine->handle(
        QJsonObject{{QStringLiteral("id"), 0}, {QStringLiteral("cmd"), QStringLiteral("load")},
                    {QStringLiteral("path"), QString::fromStdString(fuzz::scratchFolder() + "/tiny_cnn.pt")}}).header;
    if (!loaded.value(QStringLiteral("ok")).toBool()) {
        std::fprintf(stderr, "fuzz_engine_protocol: cannot load the fixture model: %s\n",
                     QJsonDocument(loaded).toJson().constData());
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
{
    static QCoreApplication app(*argc, *argv);
    fuzz::silenceQtMessages();
    torch::set_num_threads(1);
    copyFixtures();
    gEngine = std::make_unique<Engine>(Engine::Options{});
    loadFixtureModel();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    Engine& engine = *gEngine;
    bool loaded = false;
    const QByteArray input(reinterpret_cast<const char*>(data), qsizetype(size));
    int requests = 0;
    for (const QByteArray& line : input.split('\n')) {
        if (line.isEmpty())
            continue;
        if (++requests > kMaxRequestsPerInput)
            break;
        // As featscope-engine's main loop: not an object is a protocol error, "quit" ends the session.
        QJsonParseError error{};
        const QJsonDocument document = QJsonDocument::fromJson(line, &error);
        featscope::protocol::Frame response;
        if (!document.isObject()) {
            response.header = QJsonObject{{QStringLiteral("ok"), false},
                                          {QStringLiteral("error"), error.errorString()}};
        } else if (document.object().value(QStringLiteral("cmd")).toString() == QLatin1String("quit")) {
            break;
        } else {
            QJsonObject request = document.object();
            if (!confine(request))
                continue;
            response = engine.handle(request);
            loaded = loaded || request.value(QStringLiteral("cmd")).toString() == QLatin1String("load");
            const QJsonObject& header = response.header;
            if (!header.contains(QStringLiteral("ok")) || header.value(QStringLiteral("id")) != request.value(QStringLiteral("id")))
                std::abort(); // the protocol promises ok and the request's id in every response
        }
        // What the GUI gets: the same frame, and for a successful run every output with its values.
        featscope::protocol::FrameDecoder decoder;
        if (!decoder.feed(featscope::protocol::encodeFrame(response)) || !decoder.hasFrame())
            std::abort();
        const featscope::protocol::Frame received = decoder.takeFrame();
        if (received.header != response.header || received.payload != response.payload)
            std::abort();
        if (!response.payload.isEmpty()) {
            const featscope::protocol::RunResult run = featscope::protocol::RunResult::fromFrame(received);
            if (!run.status.ok || run.outputs.size() != response.payload.size())
                std::abort();
        }
    }
    fuzz::clearFolder(fuzz::scratchFolder());
    copyFixtures();
    if (loaded)
        loadFixtureModel();
    return 0;
}
