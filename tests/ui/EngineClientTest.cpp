// EngineClient against stand-in engines that crash, hang or do not exist, and against the real engine.

#include "EngineClient.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <optional>
#include <QTest>

using namespace featscope::ui;

class EngineClientTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void crashWhileLoadingIsReported();
    void loadThatCrashesAnEngineReadingItAloneIsAskedAgainThroughTheReader();
    void hangIsKilledAtTimeout();
    void missingEngineIsReported();
    void realEngineRestartsAndReplaysModel();
    void killDuringReplayKeepsModel();
    void typedRunCarriesTheTensors();
    void brokenFramingIsAProtocolError();
    void bigPayloadArrivesAcrossManyEventLoopTurns();
    void longHeaderIsReadOnAWorkerInOrder();
    void cancelKeepsTheEngineAndItsModel();
    void cancelKillsAnEngineThatDoesNotAnswer();

private:
    static QJsonObject wait(EngineClient& client, const QString& command, const QJsonObject& params, int timeoutMs = 0);
    /// A run of the bundled model on one image, asking for `node`: it needs the model to be loaded.
    static QJsonObject runParams(const QString& node, const QJsonObject& loaded);

    const QString m_model = QDir::cleanPath(QStringLiteral(FEATSCOPE_SOURCE_DIR "/resources/models/fashion_cnn.pt"));
};

QJsonObject EngineClientTest::runParams(const QString& node, const QJsonObject& loaded)
{
    return {{QStringLiteral("image"), QDir::cleanPath(QStringLiteral(FEATSCOPE_SOURCE_DIR "/resources/images/bag_18.png"))},
            {QStringLiteral("preprocessing"), loaded.value(QStringLiteral("preprocessing"))},
            {QStringLiteral("returnNodes"), QJsonArray{QJsonObject{{QStringLiteral("node"), node}}}}};
}

QJsonObject EngineClientTest::wait(EngineClient& client, const QString& command, const QJsonObject& params, int timeoutMs)
{
    QJsonObject result;
    bool done = false;
    client.send(command, params, [&](const QJsonObject& r) {
        result = r;
        done = true;
    }, timeoutMs);
    QElapsedTimer t;
    t.start();
    while (!done && t.elapsed() < 60000)
        QTest::qWait(10);
    return result;
}

void EngineClientTest::crashWhileLoadingIsReported()
{
    EngineClient client;
    client.setProgram(QStringLiteral("/bin/sh"));
    client.setArguments({QStringLiteral("-c"), QStringLiteral("echo 'segfault in unpickler' >&2; read line; kill -SEGV $$")});
    QSignalSpy stopped(&client, &EngineClient::engineStopped);
    const QJsonObject r = wait(client, QStringLiteral("load"), {{QStringLiteral("path"), QStringLiteral("/x.pt")}});
    QCOMPARE(r.value(QStringLiteral("ok")).toBool(), false);
    QCOMPARE(r.value(QStringLiteral("errorType")).toString(), QStringLiteral("crash"));
    QVERIFY(r.value(QStringLiteral("error")).toString().contains(QStringLiteral("crashed while loading the model")));
    QVERIFY(r.value(QStringLiteral("error")).toString().contains(QStringLiteral("segfault in unpickler")));
    QCOMPARE(stopped.count(), 1);
    QVERIFY(stopped.first().at(1).value<featscope::protocol::ErrorKind>() == featscope::protocol::ErrorKind::Crash);
    QVERIFY(!client.isBusy());
}

// The typed load lets an engine with no model read the file alone; an engine that dies of it held nothing,
// and the load is asked again without readInEngine, whose answer (here: the sandboxed reader's error) is the
// one the caller gets, without a crash report.
void EngineClientTest::loadThatCrashesAnEngineReadingItAloneIsAskedAgainThroughTheReader()
{
    QTemporaryDir dir;
    const QString requests = dir.filePath(QStringLiteral("requests.txt"));
    EngineClient client;
    client.setProgram(QStringLiteral("/bin/sh"));
    client.setArguments({QStringLiteral("-c"),
                         QStringLiteral("read line; echo \"$line\" >> '%1'\n"
                                        "case \"$line\" in *readInEngine*) kill -SEGV $$;; esac\n"
                                        "id=$(echo \"$line\" | sed 's/.*\"id\":\\([0-9]*\\).*/\\1/')\n"
                                        "echo '{\"id\":'$id',\"ok\":false,\"errorType\":\"error\",\"error\":\"Cannot open /x.pt: "
                                        "LibTorch crashed while reading it (Segmentation fault).\"}'\n"
                                        "read line")
                             .arg(requests)});
    QSignalSpy stopped(&client, &EngineClient::engineStopped);
    std::optional<featscope::protocol::LoadResult> result;
    const int id = client.load(featscope::protocol::LoadRequest{QStringLiteral("/x.pt"), {}, {}, {}},
                               [&](const featscope::protocol::LoadResult& r) { result = r; });
    QTRY_VERIFY_WITH_TIMEOUT(result.has_value(), 20000);
    QVERIFY(!result->status.ok);
    QVERIFY2(result->status.error.contains(QStringLiteral("LibTorch crashed while reading it")), qPrintable(result->status.error));
    QCOMPARE(stopped.count(), 0);
    QVERIFY(!client.isBusy());
    QFile sent(requests);
    QVERIFY(sent.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = sent.readAll().trimmed().split('\n');
    QCOMPARE(lines.size(), 2);
    QVERIFY(lines[0].contains("\"readInEngine\":true"));
    QVERIFY(!lines[1].contains("readInEngine"));
    QVERIFY(lines[1].contains("\"id\":" + QByteArray::number(id)));
}

void EngineClientTest::hangIsKilledAtTimeout()
{
    EngineClient client;
    client.setProgram(QStringLiteral("/bin/sh"));
    client.setArguments({QStringLiteral("-c"), QStringLiteral("sleep 60")});
    QElapsedTimer t;
    t.start();
    const QJsonObject r = wait(client, QStringLiteral("run"), {}, 500);
    QVERIFY(t.elapsed() < 5000);
    QCOMPARE(r.value(QStringLiteral("errorType")).toString(), QStringLiteral("timeout"));
    QVERIFY(r.value(QStringLiteral("error")).toString().contains(QStringLiteral("did not answer")));
}

void EngineClientTest::missingEngineIsReported()
{
    EngineClient client;
    client.setProgram(QStringLiteral("/nonexistent/featscope-engine"));
    const QJsonObject r = wait(client, QStringLiteral("hello"), {});
    QCOMPARE(r.value(QStringLiteral("errorType")).toString(), QStringLiteral("start"));
    QVERIFY(r.value(QStringLiteral("error")).toString().contains(QStringLiteral("Cannot start the engine")));
}

void EngineClientTest::realEngineRestartsAndReplaysModel()
{
    EngineClient client; // the featscope-engine beside this test
    QVERIFY2(QFile::exists(client.program()), qPrintable(client.program()));
    QCOMPARE(wait(client, QStringLiteral("hello"), {}).value(QStringLiteral("protocol")).toInt(), 1);
    const QJsonObject loaded = wait(client, QStringLiteral("load"), {{QStringLiteral("path"), m_model}});
    QVERIFY(loaded.value(QStringLiteral("ok")).toBool());
    const QJsonObject bad = wait(client, QStringLiteral("run"), runParams(QStringLiteral("nope"), loaded));
    QCOMPARE(bad.value(QStringLiteral("errorType")).toString(), QStringLiteral("unknown_node"));
    // Kill it: the next request finds a fresh engine with the model loaded again.
    QProcess::execute(QStringLiteral("kill"), {QStringLiteral("-9"), QString::number(client.processId())});
    QTRY_COMPARE(client.processId(), qint64(0));
    const QJsonObject again = wait(client, QStringLiteral("run"), runParams(QStringLiteral("features.block1"), loaded));
    QVERIFY2(again.value(QStringLiteral("ok")).toBool(), qPrintable(again.value(QStringLiteral("error")).toString()));
    QCOMPARE(again.value(QStringLiteral("outputs")).toArray().first().toObject().value(QStringLiteral("node")).toString(),
             QStringLiteral("features.block1.pool"));
}

// A replay cut short by a crash must not forget the model: the next restart replays it again (before, the
// next request met an engine with no model: "No model is loaded").
void EngineClientTest::killDuringReplayKeepsModel()
{
    EngineClient client;
    const QJsonObject loaded = wait(client, QStringLiteral("load"), {{QStringLiteral("path"), m_model}});
    QVERIFY(loaded.value(QStringLiteral("ok")).toBool());
    QProcess::execute(QStringLiteral("kill"), {QStringLiteral("-9"), QString::number(client.processId())});
    QTRY_COMPARE(client.processId(), qint64(0));

    const QJsonObject params = runParams(QStringLiteral("features.block1"), loaded);
    QJsonObject first;
    bool firstDone = false;
    const int runId = client.send(QStringLiteral("run"), params, [&](const QJsonObject& r) {
        first = r;
        firstDone = true;
    });
    // The restarted engine is replaying the load (the run waits behind it): kill it there.
    QTRY_VERIFY(client.processId() != 0 && client.currentRequest() != 0 && client.currentRequest() != runId);
    QProcess::execute(QStringLiteral("kill"), {QStringLiteral("-9"), QString::number(client.processId())});
    QTRY_VERIFY_WITH_TIMEOUT(firstDone, 30000);

    const QJsonObject again = wait(client, QStringLiteral("run"), params);
    QVERIFY2(again.value(QStringLiteral("ok")).toBool(), qPrintable(again.value(QStringLiteral("error")).toString()));
    QCOMPARE(again.value(QStringLiteral("outputs")).toArray().first().toObject().value(QStringLiteral("node")).toString(),
             QStringLiteral("features.block1.pool"));
}

// The typed calls the window uses: a run's tensors arrive decoded, with values that match the engine's
// statistics, and no file is involved.
void EngineClientTest::typedRunCarriesTheTensors()
{
    EngineClient client;
    featscope::protocol::LoadResult loaded;
    bool done = false;
    client.load({m_model, {}, {}, {}}, [&](const featscope::protocol::LoadResult& r) {
        loaded = r;
        done = true;
    });
    QTRY_VERIFY_WITH_TIMEOUT(done, 60000);
    QVERIFY2(loaded.status.ok, qPrintable(loaded.status.error));

    featscope::protocol::RunRequest request;
    request.image = QDir::cleanPath(QStringLiteral(FEATSCOPE_SOURCE_DIR "/resources/images/bag_18.png"));
    request.preprocessing = featscope::protocol::Preprocessing::fromRequest(loaded.model.value(QStringLiteral("preprocessing")).toObject());
    request.returnNodes = {{"features.block1", "b1"}, {"features.block2.conv", "c2"}};
    featscope::protocol::RunResult run;
    done = false;
    client.run(request, [&](const featscope::protocol::RunResult& r) {
        run = r;
        done = true;
    });
    QTRY_VERIFY_WITH_TIMEOUT(done, 60000);
    QVERIFY2(run.status.ok, qPrintable(run.status.error));
    QCOMPARE(run.inputShape, (QVector<qint64>{1, 1, 28, 28}));
    QCOMPARE(run.outputs.size(), 2);
    QCOMPARE(run.outputs[0].key, QStringLiteral("b1"));
    QCOMPARE(run.outputs[0].node, QStringLiteral("features.block1.pool"));
    QCOMPARE(run.outputs[0].shapeText(), QStringLiteral("1×32×14×14"));
    for (const featscope::protocol::TensorOutput& output : run.outputs) {
        QCOMPARE(output.values.size(), output.count() * qint64(sizeof(float)));
        const auto [lo, hi] = std::minmax_element(output.data(), output.data() + output.count());
        QCOMPARE(double(*lo), output.min);
        QCOMPARE(double(*hi), output.max);
    }
}

// A stream that breaks the framing cannot be read on: the client stops the engine and says so.
void EngineClientTest::brokenFramingIsAProtocolError()
{
    EngineClient client;
    client.setProgram(QStringLiteral("/bin/sh"));
    client.setArguments({QStringLiteral("-c"), QStringLiteral("read line; echo '{\"id\":1,\"ok\":true,\"payload\":[-8]}'; sleep 60")});
    QSignalSpy stopped(&client, &EngineClient::engineStopped);
    QElapsedTimer t;
    t.start();
    const QJsonObject r = wait(client, QStringLiteral("run"), {});
    QVERIFY(t.elapsed() < 10000);
    QCOMPARE(r.value(QStringLiteral("errorType")).toString(), QStringLiteral("protocol"));
    QVERIFY2(r.value(QStringLiteral("error")).toString().contains(QStringLiteral("-8 bytes")),
             qPrintable(r.value(QStringLiteral("error")).toString()));
    QCOMPARE(stopped.count(), 1);
    QVERIFY(!client.isBusy());
}

// 64 MB of values come in as QProcess reads them, piece by piece between other events, never as one block
// that holds the window.
void EngineClientTest::bigPayloadArrivesAcrossManyEventLoopTurns()
{
    constexpr qint64 kValues = 16 << 20;
    EngineClient client;
    client.setProgram(QStringLiteral("/bin/sh"));
    client.setArguments({QStringLiteral("-c"),
                         QStringLiteral("read line; echo '{\"id\":1,\"ok\":true,\"outputs\":[{\"key\":\"z\",\"shape\":[1,%1],"
                                        "\"dtype\":\"float32\"}],\"payload\":[%2]}'; head -c %2 /dev/zero; sleep 60")
                             .arg(kValues)
                             .arg(kValues * 4)});
    int turns = 0;
    QTimer ticker;
    ticker.setInterval(0);
    connect(&ticker, &QTimer::timeout, [&] { ++turns; });
    featscope::protocol::RunResult run;
    bool done = false;
    client.run({}, [&](const featscope::protocol::RunResult& r) {
        run = r;
        done = true;
        ticker.stop();
    });
    ticker.start();
    QTRY_VERIFY_WITH_TIMEOUT(done, 60000);
    QVERIFY2(run.status.ok, qPrintable(run.status.error));
    QCOMPARE(run.outputs.size(), 1);
    QCOMPARE(run.outputs[0].count(), kValues);
    QCOMPARE(run.outputs[0].data()[kValues - 1], 0.0f);
    QVERIFY2(turns > 50, qPrintable(QStringLiteral("%1 event-loop turns while 64 MB arrived").arg(turns)));
}

// A header line of megabytes (a 10,000-node model's load answer) is parsed on a worker; the answers still
// reach their requests whole and in order, and an answer the engine sent just before it ended itself (exit
// code 3: a request ran past its time cap) is delivered as that answer, not as a crash, whether or not its
// parse finished before the exit was seen.
void EngineClientTest::longHeaderIsReadOnAWorkerInOrder()
{
    const QString longAnswer = QStringLiteral("printf '{\"id\":%1,\"ok\":true,\"model\":\"'; head -c 4000000 /dev/zero | tr '\\0' n; "
                                              "printf '\"}\\n'; ");
    EngineClient client;
    client.setProgram(QStringLiteral("/bin/sh"));
    client.setArguments({QStringLiteral("-c"), QStringLiteral("read line; ") + longAnswer.arg(1) + QStringLiteral("read line; ")
                                                   + QStringLiteral("echo '{\"id\":2,\"ok\":true,\"path\":\"/x.pt\"}'; read line; ")
                                                   + longAnswer.arg(3) + QStringLiteral("exit 3")});
    QSignalSpy stopped(&client, &EngineClient::engineStopped);
    QList<QJsonObject> answers;
    for (int i = 0; i < 3; ++i)
        client.send(QStringLiteral("load"), {}, [&](const QJsonObject& r) { answers.append(r); });
    QTRY_VERIFY_WITH_TIMEOUT(answers.size() == 3, 60000);
    for (int i = 0; i < 3; ++i)
        QVERIFY2(answers[i].value(QStringLiteral("ok")).toBool(), qPrintable(answers[i].value(QStringLiteral("error")).toString()));
    QCOMPARE(answers[0].value(QStringLiteral("model")).toString().size(), 4000000);
    QCOMPARE(answers[1].value(QStringLiteral("path")).toString(), QStringLiteral("/x.pt"));
    QCOMPARE(answers[2].value(QStringLiteral("model")).toString().size(), 4000000);
    QCOMPARE(stopped.count(), 0);
    QVERIFY(!client.isBusy());
}

// Cancel asks the engine to stop the run: it answers "cancelled" at once and keeps its process and model, so
// the next run needs no restart and no replayed load.
void EngineClientTest::cancelKeepsTheEngineAndItsModel()
{
    EngineClient client;
    client.setArguments({QStringLiteral("--debug-run-delay-ms"), QStringLiteral("3000")});
    const QJsonObject loaded = wait(client, QStringLiteral("load"), {{QStringLiteral("path"), m_model}});
    QVERIFY(loaded.value(QStringLiteral("ok")).toBool());
    const qint64 pid = client.processId();
    QSignalSpy stopped(&client, &EngineClient::engineStopped);

    QJsonObject cancelled;
    bool done = false;
    const int runId = client.send(QStringLiteral("run"), runParams(QStringLiteral("features.block1"), loaded), [&](const QJsonObject& r) {
        cancelled = r;
        done = true;
    });
    QTRY_VERIFY(client.currentRequest() == runId);
    QTest::qWait(300);
    QElapsedTimer t;
    t.start();
    client.cancel(runId);
    QTRY_VERIFY_WITH_TIMEOUT(done, 5000);
    QVERIFY2(t.elapsed() < 1000, qPrintable(QString::number(t.elapsed())));
    QCOMPARE(cancelled.value(QStringLiteral("errorType")).toString(), QStringLiteral("cancelled"));
    QCOMPARE(client.processId(), pid);
    QCOMPARE(stopped.count(), 0);

    // The same engine serves the next run with the model it has (a replayed load would come first).
    const QJsonObject again = wait(client, QStringLiteral("run"), runParams(QStringLiteral("features.block1"), loaded));
    QVERIFY2(again.value(QStringLiteral("ok")).toBool(), qPrintable(again.value(QStringLiteral("error")).toString()));
    QCOMPARE(client.processId(), pid);
    QCOMPARE(again.value(QStringLiteral("id")).toInt(), runId + 1);
}

// An engine that ignores the cancel (an older one, or one stuck in a long op) is killed after the grace period.
void EngineClientTest::cancelKillsAnEngineThatDoesNotAnswer()
{
    EngineClient client;
    client.setProgram(QStringLiteral("/bin/sh"));
    client.setArguments({QStringLiteral("-c"), QStringLiteral("read line; sleep 60")});
    QSignalSpy stopped(&client, &EngineClient::engineStopped);
    QJsonObject result;
    bool done = false;
    const int runId = client.send(QStringLiteral("run"), {}, [&](const QJsonObject& r) {
        result = r;
        done = true;
    });
    QTRY_VERIFY(client.currentRequest() == runId && client.processId() != 0);
    QElapsedTimer t;
    t.start();
    client.cancel(runId);
    QTRY_VERIFY_WITH_TIMEOUT(done, 10000);
    QCOMPARE(result.value(QStringLiteral("errorType")).toString(), QStringLiteral("cancelled"));
    // Waited for the answer before killing (a coarse QTimer may fire up to 5% early).
    QVERIFY2(t.elapsed() >= EngineClient::kCancelGraceMs * 9 / 10,
             qPrintable(QStringLiteral("%1 ms: %2").arg(t.elapsed()).arg(result.value(QStringLiteral("error")).toString())));
    QCOMPARE(stopped.count(), 1);
    QTRY_COMPARE(client.processId(), qint64(0));
}

QTEST_GUILESS_MAIN(EngineClientTest)
#include "EngineClientTest.moc"
