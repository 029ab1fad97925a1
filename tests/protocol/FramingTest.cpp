// The engine's stdout framing and the run decoder (protocol/Framing.h, protocol/Messages.h): what the GUI
// accepts, in pieces as QProcess delivers them, and what it refuses before reading or allocating.

#include <featscope/protocol/Framing.h>
#include <featscope/protocol/Messages.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

#include <cstring>

using namespace featscope::protocol;

namespace {

QByteArray floats(std::initializer_list<float> values)
{
    QByteArray bytes(qsizetype(values.size() * sizeof(float)), Qt::Uninitialized);
    std::memcpy(bytes.data(), values.begin(), std::size_t(bytes.size()));
    return bytes;
}

TensorOutput output(const QString& key, QVector<qint64> shape, QByteArray values)
{
    TensorOutput o;
    o.key = key;
    o.node = QStringLiteral("node.") + key;
    o.shape = std::move(shape);
    o.values = std::move(values);
    return o;
}

/// A successful run's frame as the engine sends it.
QByteArray runMessage(const QVector<TensorOutput>& outputs, int id = 7)
{
    RunResult result;
    result.inputShape = {1, 3, 4, 4};
    result.outputs = outputs;
    Frame frame = result.toFrame();
    frame.header.insert(QStringLiteral("ok"), true);
    frame.header.insert(QStringLiteral("id"), id);
    return encodeFrame(frame);
}

QByteArray line(const QJsonObject& header)
{
    return QJsonDocument(header).toJson(QJsonDocument::Compact) + '\n';
}

/// Feeds `bytes` in pieces of `piece` bytes; returns the frames, and whether the decoder failed.
QList<Frame> decodeAll(const QByteArray& bytes, qsizetype piece, bool* failed = nullptr, FrameLimits limits = {},
                       QString* error = nullptr)
{
    FrameDecoder decoder(limits);
    QList<Frame> frames;
    bool ok = true;
    for (qsizetype at = 0; at < bytes.size() && ok; at += piece) {
        ok = decoder.feed(bytes.constData() + at, std::min(piece, bytes.size() - at));
        while (decoder.hasFrame())
            frames.append(decoder.takeFrame());
    }
    if (failed)
        *failed = !ok;
    if (error)
        *error = decoder.error();
    return frames;
}

} // namespace

class FramingTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void severalTensorsSurviveAnyPieceSize_data();
    void severalTensorsSurviveAnyPieceSize();
    void framesFollowEachOther();
    void truncatedFrameWaitsForTheRest();
    void deferredHeaderGivesTheSameFrames_data();
    void deferredHeaderGivesTheSameFrames();
    void deferredHeaderThatIsNoJsonBreaksTheStream();
    void lengthsAreCheckedBeforeReading_data();
    void lengthsAreCheckedBeforeReading();
    void overLongLineIsRefused();
    void notJsonIsRefusedForGood();
    void wrongElementCountIsAProtocolFailure_data();
    void wrongElementCountIsAProtocolFailure();
    void failureCarriesTheEnginesMessage();
    void camMapIsCheckedAgainstItsGrid();
    void structuredValuesTravelAsTensorsAndText();
};

void FramingTest::severalTensorsSurviveAnyPieceSize_data()
{
    QTest::addColumn<qsizetype>("piece");
    QTest::newRow("byte by byte") << qsizetype(1);
    QTest::newRow("odd pieces") << qsizetype(7);
    QTest::newRow("one piece") << qsizetype(1 << 20);
}

void FramingTest::severalTensorsSurviveAnyPieceSize()
{
    QFETCH(qsizetype, piece);
    const QByteArray bytes = runMessage({output(QStringLiteral("a"), {1, 2, 3}, floats({0, 1, 2, 3, 4, 5})),
                                         output(QStringLiteral("empty"), {1, 0, 5}, {}),
                                         output(QStringLiteral("scalar"), {}, floats({-2.5f})),
                                         output(QStringLiteral("b"), {2}, floats({7, 8}))});
    bool failed = true;
    const QList<Frame> frames = decodeAll(bytes, piece, &failed);
    QVERIFY(!failed);
    QCOMPARE(frames.size(), 1);
    QVERIFY(!frames[0].header.contains(QStringLiteral("payload")));
    const RunResult run = RunResult::fromFrame(frames[0]);
    QVERIFY2(run.status.ok, qPrintable(run.status.error));
    QCOMPARE(run.inputShape, (QVector<qint64>{1, 3, 4, 4}));
    QCOMPARE(run.outputs.size(), 4);
    QCOMPARE(run.outputs[0].key, QStringLiteral("a"));
    QCOMPARE(run.outputs[0].node, QStringLiteral("node.a"));
    QCOMPARE(run.outputs[0].count(), qint64(6));
    QCOMPARE(run.outputs[0].data()[5], 5.0f);
    QCOMPARE(run.outputs[1].count(), qint64(0));
    QVERIFY(run.outputs[1].values.isEmpty());
    QCOMPARE(run.outputs[2].count(), qint64(1));
    QCOMPARE(run.outputs[2].data()[0], -2.5f);
    QCOMPARE(run.outputs[3].data()[1], 8.0f);
}

void FramingTest::framesFollowEachOther()
{
    const QByteArray bytes = line({{QStringLiteral("event"), QStringLiteral("progress")}})
        + runMessage({output(QStringLiteral("a"), {2}, floats({1, 2}))}, 1) + "\n"
        + line({{QStringLiteral("id"), 2}, {QStringLiteral("ok"), true}, {QStringLiteral("path"), QStringLiteral("/x.pt")}})
        + runMessage({output(QStringLiteral("b"), {1}, floats({3}))}, 3);
    bool failed = true;
    const QList<Frame> frames = decodeAll(bytes, 5, &failed);
    QVERIFY(!failed);
    QCOMPARE(frames.size(), 4); // the blank line between messages is no message
    QCOMPARE(RunResult::fromFrame(frames[1]).outputs[0].data()[1], 2.0f);
    QCOMPARE(ExportResult::fromFrame(frames[2]).path, QStringLiteral("/x.pt"));
    QCOMPARE(RunResult::fromFrame(frames[3]).outputs[0].data()[0], 3.0f);
    QCOMPARE(frames[3].header.value(QStringLiteral("id")).toInt(), 3);
}

void FramingTest::deferredHeaderGivesTheSameFrames_data() { severalTensorsSurviveAnyPieceSize_data(); }

// A long header line waits for the caller's parse (EngineClient parses it on a worker); the run message
// behind it, header and payload, arrives meanwhile and comes out whole after resume().
void FramingTest::deferredHeaderGivesTheSameFrames()
{
    QFETCH(qsizetype, piece);
    const QByteArray big = line({{QStringLiteral("id"), 1}, {QStringLiteral("ok"), true},
                                 {QStringLiteral("model"), QString(300, QLatin1Char('n'))}});
    const QByteArray bytes = big + runMessage({output(QStringLiteral("a"), {2}, floats({1, 2}))}, 2);
    FrameDecoder decoder;
    decoder.setDeferHeaderBytes(200);
    for (qsizetype at = 0; at < bytes.size(); at += piece)
        QVERIFY(decoder.feed(bytes.constData() + at, std::min(piece, bytes.size() - at)));
    QVERIFY(!decoder.hasFrame());
    QVERIFY(decoder.waitingForHeader());
    QCOMPARE(decoder.deferredHeader(), big.chopped(1));
    QVERIFY(decoder.resume(FrameDecoder::parseHeader(decoder.deferredHeader())));
    QVERIFY(!decoder.waitingForHeader());
    QList<Frame> frames;
    while (decoder.hasFrame())
        frames.append(decoder.takeFrame());
    const QList<Frame> direct = decodeAll(bytes, piece);
    QCOMPARE(frames.size(), 2);
    QCOMPARE(direct.size(), 2);
    for (int i = 0; i < 2; ++i) {
        QCOMPARE(frames[i].header, direct[i].header);
        QCOMPARE(frames[i].payload, direct[i].payload);
    }
    QCOMPARE(frames[0].header.value(QStringLiteral("model")).toString().size(), 300);
    QCOMPARE(RunResult::fromFrame(frames[1]).outputs[0].data()[1], 2.0f); // the short header was read at once
    QVERIFY(decoder.idle());
}

void FramingTest::deferredHeaderThatIsNoJsonBreaksTheStream()
{
    FrameDecoder decoder;
    decoder.setDeferHeaderBytes(10);
    QVERIFY(decoder.feed(QByteArray("segfault in unpickler\n") + line({{QStringLiteral("id"), 1}})));
    QVERIFY(decoder.waitingForHeader());
    QVERIFY(!decoder.resume(FrameDecoder::parseHeader(decoder.deferredHeader())));
    QVERIFY(decoder.error().contains(QStringLiteral("not a JSON object")));
    QVERIFY(!decoder.hasFrame());
    QVERIFY(!decoder.feed(line({{QStringLiteral("id"), 2}})));
}

void FramingTest::truncatedFrameWaitsForTheRest()
{
    const QByteArray bytes = runMessage({output(QStringLiteral("a"), {3}, floats({1, 2, 3}))});
    FrameDecoder decoder;
    QVERIFY(decoder.feed(bytes.left(bytes.size() - 1)));
    QVERIFY(!decoder.hasFrame());
    QVERIFY(!decoder.idle());
    QVERIFY(decoder.feed(bytes.right(1)));
    QVERIFY(decoder.hasFrame());
    QVERIFY(decoder.idle());
    QCOMPARE(RunResult::fromFrame(decoder.takeFrame()).outputs[0].data()[2], 3.0f);
}

void FramingTest::lengthsAreCheckedBeforeReading_data()
{
    QTest::addColumn<QJsonValue>("payload");
    QTest::addColumn<QString>("needle");
    QTest::newRow("past the total") << QJsonValue(QJsonArray{600, 600}) << QStringLiteral("at most 1000 bytes");
    QTest::newRow("one huge part") << QJsonValue(QJsonArray{1e18}) << QStringLiteral("part of 1000000000000000000 bytes");
    QTest::newRow("negative") << QJsonValue(QJsonArray{-4}) << QStringLiteral("-4");
    QTest::newRow("fraction") << QJsonValue(QJsonArray{2.5}) << QStringLiteral("2.5");
    QTest::newRow("text") << QJsonValue(QJsonArray{QStringLiteral("12")}) << QStringLiteral("part of \"12\" bytes");
    QTest::newRow("not a list") << QJsonValue(12) << QStringLiteral("not a list");
    QTest::newRow("too many parts") << QJsonValue(QJsonArray{0, 0, 0, 0, 0}) << QStringLiteral("5 payload parts");
}

void FramingTest::lengthsAreCheckedBeforeReading()
{
    QFETCH(QJsonValue, payload);
    QFETCH(QString, needle);
    bool failed = false;
    QString error;
    const QList<Frame> frames =
        decodeAll(line({{QStringLiteral("id"), 1}, {QStringLiteral("ok"), true}, {QStringLiteral("payload"), payload}}), 1 << 20,
                  &failed, FrameLimits{1 << 16, 1000, 4}, &error);
    QVERIFY(failed);
    QVERIFY(frames.isEmpty());
    QVERIFY2(error.contains(needle), qPrintable(error));
}

void FramingTest::overLongLineIsRefused()
{
    FrameDecoder decoder(FrameLimits{100, 1000, 4});
    // No newline yet: the decoder refuses once the line passes the limit, without waiting for its end.
    QVERIFY(decoder.feed(QByteArray(100, ' ')));
    QVERIFY(!decoder.feed(QByteArray(1, ' ')));
    QVERIFY(decoder.error().contains(QStringLiteral("longer than 100 bytes")));
}

void FramingTest::notJsonIsRefusedForGood()
{
    FrameDecoder decoder;
    QVERIFY(!decoder.feed(QByteArray("segfault in unpickler\n")));
    QVERIFY(decoder.failed());
    // A stream that broke the framing cannot be trusted again: even a good message is not read.
    QVERIFY(!decoder.feed(line({{QStringLiteral("id"), 1}, {QStringLiteral("ok"), true}})));
    QVERIFY(!decoder.hasFrame());
}

void FramingTest::wrongElementCountIsAProtocolFailure_data()
{
    QTest::addColumn<QByteArray>("message");
    QTest::addColumn<QString>("needle");
    const auto withParts = [](const QJsonArray& outputs, const QList<QByteArray>& parts) {
        return encodeFrame(Frame{{{QStringLiteral("id"), 1}, {QStringLiteral("ok"), true}, {QStringLiteral("outputs"), outputs}}, parts});
    };
    const auto described = [](const QJsonArray& shape, const QString& dtype = QStringLiteral("float32")) {
        return QJsonObject{{QStringLiteral("key"), QStringLiteral("x")}, {QStringLiteral("shape"), shape},
                           {QStringLiteral("dtype"), dtype}};
    };
    QTest::newRow("five bytes short") << withParts({described({2, 3})}, {floats({1, 2, 3, 4, 5}).left(19)})
                                      << QStringLiteral("shape [2×3] but 19 bytes");
    QTest::newRow("one value too many") << withParts({described({2})}, {floats({1, 2, 3})}) << QStringLiteral("but 12 bytes");
    QTest::newRow("negative dimension") << withParts({described({-1, 4})}, {floats({1})}) << QStringLiteral("shape [-1×4]");
    QTest::newRow("dimension past any integer") << withParts({described({1e124})}, {floats({1})}) << QStringLiteral("shape [-1]");
    QTest::newRow("overflowing shape") << withParts({described({1LL << 40, 1LL << 40})}, {floats({1})})
                                       << QStringLiteral("but 4 bytes");
    QTest::newRow("parts without outputs") << withParts({}, {floats({1})}) << QStringLiteral("0 output(s) but carries 1");
    QTest::newRow("outputs without parts") << withParts({described({1})}, {}) << QStringLiteral("1 output(s) but carries 0");
    QTest::newRow("other dtype") << withParts({described({1}, QStringLiteral("float64"))}, {floats({1})})
                                 << QStringLiteral("dtype 'float64'");
}

void FramingTest::wrongElementCountIsAProtocolFailure()
{
    QFETCH(QByteArray, message);
    QFETCH(QString, needle);
    const QList<Frame> frames = decodeAll(message, 3);
    QCOMPARE(frames.size(), 1);
    const RunResult run = RunResult::fromFrame(frames[0]);
    QVERIFY(!run.status.ok);
    QVERIFY(run.status.errorKind == ErrorKind::Protocol);
    QVERIFY(run.outputs.isEmpty());
    QVERIFY2(run.status.error.contains(needle), qPrintable(run.status.error));
}

void FramingTest::failureCarriesTheEnginesMessage()
{
    const QList<Frame> frames = decodeAll(line({{QStringLiteral("id"), 4},
                                                {QStringLiteral("ok"), false},
                                                {QStringLiteral("error"), QStringLiteral("No node 'lyer1'.")},
                                                {QStringLiteral("errorType"), QStringLiteral("unknown_node")},
                                                {QStringLiteral("suggestions"), QJsonArray{QStringLiteral("layer1")}}}),
                                          1 << 20);
    const RunResult run = RunResult::fromFrame(frames.value(0));
    QVERIFY(!run.status.ok);
    QVERIFY(run.status.errorKind == ErrorKind::UnknownNode);
    QCOMPARE(run.status.error, QStringLiteral("No node 'lyer1'."));
    QCOMPARE(run.status.suggestions, QStringList{QStringLiteral("layer1")});
}

void FramingTest::camMapIsCheckedAgainstItsGrid()
{
    CamResult cam;
    cam.node = QStringLiteral("layer4");
    cam.height = 2;
    cam.width = 3;
    cam.map = floats({0, 1, 2, 3, 4, 5});
    cam.top = {{281, 9.5, 0.6}};
    Frame frame = cam.toFrame();
    frame.header.insert(QStringLiteral("ok"), true);
    const CamResult back = CamResult::fromFrame(decodeAll(encodeFrame(frame), 4).value(0));
    QVERIFY2(back.status.ok, qPrintable(back.status.error));
    QCOMPARE(back.height, 2);
    QCOMPARE(back.width, 3);
    QCOMPARE(back.data()[5], 5.0f);
    QCOMPARE(back.top.value(0).index, qint64(281));

    frame.payload[0].chop(4); // one value short of the grid
    const CamResult broken = CamResult::fromFrame(decodeAll(encodeFrame(frame), 4).value(0));
    QVERIFY(!broken.status.ok);
    QVERIFY(broken.status.errorKind == ErrorKind::Protocol);
    QVERIFY2(broken.status.error.contains(QStringLiteral("2 x 3 grid")), qPrintable(broken.status.error));
}

// A dict of tensors (an FPN's levels) comes as one tensor output per entry, each with its place in the node's
// value; what is no tensor (an int, None) comes as text, in the header only, and needs no payload part.
void FramingTest::structuredValuesTravelAsTensorsAndText()
{
    RunResult result;
    result.inputShape = {1, 3, 4, 4};
    TensorOutput level0 = output(QStringLiteral("fpn['0']"), {1, 2, 2}, floats({0, 1, 2, 3}));
    level0.node = QStringLiteral("backbone.fpn");
    level0.path = QStringLiteral("['0']");
    TensorOutput pool = output(QStringLiteral("fpn['pool']"), {1, 1, 1}, floats({9}));
    pool.node = QStringLiteral("backbone.fpn");
    pool.path = QStringLiteral("['pool']");
    TensorOutput whole = output(QStringLiteral("x"), {2}, floats({4, 5}));
    result.outputs = {level0, pool, whole};
    result.textOutputs = {{QStringLiteral("attn[1]"), QStringLiteral("attn"), QStringLiteral("[1]"),
                           QStringLiteral("NoneType"), QStringLiteral("None")},
                          {QStringLiteral("size"), QStringLiteral("mul"), QString(), QStringLiteral("int"), QStringLiteral("49")}};
    Frame frame = result.toFrame();
    QCOMPARE(frame.payload.size(), 3); // one part per tensor, none for the text
    frame.header.insert(QStringLiteral("ok"), true);
    const RunResult back = RunResult::fromFrame(decodeAll(encodeFrame(frame), 5).value(0));
    QVERIFY2(back.status.ok, qPrintable(back.status.error));
    QCOMPARE(back.outputs.size(), 3);
    QCOMPARE(back.outputs[0].key, QStringLiteral("fpn['0']"));
    QCOMPARE(back.outputs[0].node, QStringLiteral("backbone.fpn"));
    QCOMPARE(back.outputs[0].path, QStringLiteral("['0']"));
    QCOMPARE(back.outputs[0].data()[3], 3.0f);
    QCOMPARE(back.outputs[1].path, QStringLiteral("['pool']"));
    QCOMPARE(back.outputs[1].data()[0], 9.0f);
    QVERIFY(back.outputs[2].path.isEmpty());
    QCOMPARE(back.outputs[2].data()[1], 5.0f);
    QCOMPARE(back.textOutputs.size(), 2);
    QCOMPARE(back.textOutputs[0].key, QStringLiteral("attn[1]"));
    QCOMPARE(back.textOutputs[0].node, QStringLiteral("attn"));
    QCOMPARE(back.textOutputs[0].path, QStringLiteral("[1]"));
    QCOMPARE(back.textOutputs[0].type, QStringLiteral("NoneType"));
    QCOMPARE(back.textOutputs[0].text, QStringLiteral("None"));
    QVERIFY(back.textOutputs[1].path.isEmpty());
    QCOMPARE(back.textOutputs[1].text, QStringLiteral("49"));

    // A text output takes no part: a frame that declares one more part than it has tensors is broken.
    frame.payload.append(floats({1}));
    const RunResult broken = RunResult::fromFrame(decodeAll(encodeFrame(frame), 64).value(0));
    QVERIFY(!broken.status.ok);
    QVERIFY(broken.status.errorKind == ErrorKind::Protocol);
}

QTEST_GUILESS_MAIN(FramingTest)
#include "FramingTest.moc"
