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
#include <QTest>

using namespace featscope::ui;

class EngineClientTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void crashWhileLoadingIsReported();
    void hangIsKilledAtTimeout();
    void missingEngineIsReported();
    void realEngineRestartsAndReplaysModel();
    void killDuringReplayKeepsModel();

private:
    static QJsonObject wait(EngineClient& client, const QString& command, const QJsonObject& params, int timeoutMs = 0);
    /// A run of the bundled model on one image, asking for `node`: it needs the model to be loaded.
    static QJsonObject runParams(const QString& node, const QJsonObject& loaded, const QTemporaryDir& outputDir);

    const QString m_model = QDir::cleanPath(QStringLiteral(FEATSCOPE_SOURCE_DIR "/resources/models/fashion_cnn.pt"));
};

QJsonObject EngineClientTest::runParams(const QString& node, const QJsonObject& loaded, const QTemporaryDir& outputDir)
{
    return {{QStringLiteral("image"), QDir::cleanPath(QStringLiteral(FEATSCOPE_SOURCE_DIR "/resources/images/bag_18.png"))},
            {QStringLiteral("preprocessing"), loaded.value(QStringLiteral("preprocessing"))},
            {QStringLiteral("outputDir"), outputDir.path()},
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
    QTemporaryDir outputDir;
    const QJsonObject bad = wait(client, QStringLiteral("run"), runParams(QStringLiteral("nope"), loaded, outputDir));
    QCOMPARE(bad.value(QStringLiteral("errorType")).toString(), QStringLiteral("unknown_node"));
    // Kill it: the next request finds a fresh engine with the model loaded again.
    QProcess::execute(QStringLiteral("kill"), {QStringLiteral("-9"), QString::number(client.processId())});
    QTRY_COMPARE(client.processId(), qint64(0));
    const QJsonObject again = wait(client, QStringLiteral("run"), runParams(QStringLiteral("features.block1"), loaded, outputDir));
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

    QTemporaryDir outputDir;
    const QJsonObject params = runParams(QStringLiteral("features.block1"), loaded, outputDir);
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

QTEST_GUILESS_MAIN(EngineClientTest)
#include "EngineClientTest.moc"
