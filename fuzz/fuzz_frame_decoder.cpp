// The engine's stdout framing as the GUI reads it (protocol/Framing.h, docs/engine-protocol.md "Framing"):
// each input is a byte stream fed to protocol::FrameDecoder in pieces whose sizes come from the input's first
// byte (QProcess delivers arbitrary pieces), and every frame goes through the typed decoders the GUI uses.
// Checks: piecewise, whole-stream and deferred-header decoding (headers parsed by the caller) agree; a decoded run's tensors hold exactly the values their
// shapes need; a frame encoded again decodes to itself.

#include <featscope/protocol/Framing.h>
#include <featscope/protocol/Messages.h>

#include <QJsonDocument>

#include <cstdint>
#include <cstdlib>
#include <vector>

namespace {

using namespace featscope::protocol;

// Small enough that a declared size is reserved without tripping libFuzzer's malloc limit.
const FrameLimits kLimits{1 << 16, 1 << 20, 64};

struct Decoded {
    std::vector<Frame> frames;
    bool failed = false;
};

// `deferFrom` > 0: header lines that long are left for the caller, parsed and resumed, as EngineClient does
// with a worker's parse.
Decoded decode(const char* data, qsizetype size, qsizetype piece, qsizetype deferFrom = 0)
{
    Decoded out;
    FrameDecoder decoder(kLimits);
    if (deferFrom > 0)
        decoder.setDeferHeaderBytes(deferFrom);
    for (qsizetype at = 0; at < size && !out.failed; at += piece) {
        out.failed = !decoder.feed(data + at, std::min(piece, size - at));
        while (decoder.hasFrame())
            out.frames.push_back(decoder.takeFrame());
        while (!out.failed && decoder.waitingForHeader()) {
            out.failed = !decoder.resume(FrameDecoder::parseHeader(decoder.deferredHeader()));
            while (decoder.hasFrame())
                out.frames.push_back(decoder.takeFrame());
        }
    }
    return out;
}

bool same(const Frame& a, const Frame& b) { return a.header == b.header && a.payload == b.payload; }

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1)
        return 0;
    const qsizetype piece = 1 + data[0] % 64;
    const char* stream = reinterpret_cast<const char*>(data) + 1;
    const qsizetype length = qsizetype(size) - 1;

    const Decoded piecewise = decode(stream, length, piece);
    const Decoded whole = decode(stream, length, std::max<qsizetype>(length, 1));
    const Decoded deferred = decode(stream, length, piece, 1 + data[0] / 64 * 8);
    if (piecewise.failed != whole.failed || piecewise.frames.size() != whole.frames.size())
        std::abort();
    if (deferred.failed != whole.failed || deferred.frames.size() != whole.frames.size())
        std::abort();
    for (std::size_t i = 0; i < whole.frames.size(); ++i)
        if (!same(whole.frames[i], deferred.frames[i]))
            std::abort();
    for (std::size_t i = 0; i < whole.frames.size(); ++i) {
        const Frame& frame = whole.frames[i];
        if (!same(frame, piecewise.frames[i]))
            std::abort();
        const RunResult run = RunResult::fromFrame(frame);
        for (const TensorOutput& output : run.outputs)
            if (output.count() < 0 || output.values.size() != output.count() * qint64(sizeof(float)))
                std::abort();
        const CamResult cam = CamResult::fromFrame(frame);
        if (cam.status.ok && cam.map.size() != qsizetype(cam.height) * cam.width * qsizetype(sizeof(float)))
            std::abort();
        (void)LoadResult::fromFrame(frame);
        (void)ExportResult::fromFrame(frame);

        const QByteArray encoded = encodeFrame(frame);
        FrameDecoder again(kLimits);
        if (!again.feed(encoded) || !again.hasFrame())
            std::abort();
        Frame back = again.takeFrame();
        if (!same(back, frame) || again.hasFrame())
            std::abort();
    }
    return 0;
}
