// TopImagesSearch against stand-ins for featscope-cli (shell scripts set through $FEATSCOPE_CLI), as
// EngineClientTest does with stand-in engines: progress lines, a search that hangs and is cancelled, one
// that crashes, one that refuses with a message, and result files that are not top-images' JSON.

#include "TopImagesSearch.h"

#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using namespace featscope::ui;

class TopImagesSearchTest : public QObject {
    Q_OBJECT

    /// Makes `body` the stand-in CLI: a shell script whose arguments are those of featscope-cli top-images.
    void standIn(const QByteArray& body)
    {
        const QString path = m_dir->filePath(QStringLiteral("featscope-cli"));
        QFile script(path);
        QVERIFY(script.open(QIODevice::WriteOnly | QIODevice::Truncate));
        script.write("#!/bin/sh\n" + body + "\n");
        script.close();
        script.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
        qputenv("FEATSCOPE_CLI", path.toUtf8());
    }

    TopImagesRequest request() const
    {
        TopImagesRequest r;
        r.model = m_dir->filePath(QStringLiteral("model.pt"));
        r.node = QStringLiteral("layer1");
        r.channel = 2;
        r.folder = m_dir->path();
        return r;
    }

    std::unique_ptr<QTemporaryDir> m_dir;

private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
    }

    void cleanup() { qunsetenv("FEATSCOPE_CLI"); }

    void progressAndCancel()
    {
        standIn("echo 'progress 3 10' >&2; echo 'progress 4 10' >&2; exec sleep 30");
        TopImagesSearch search;
        search.setCacheFolder(m_dir->filePath(QStringLiteral("cache")));
        QSignalSpy progress(&search, &TopImagesSearch::progress);
        QSignalSpy finished(&search, &TopImagesSearch::finished);
        search.start(request());
        QTRY_COMPARE_WITH_TIMEOUT(progress.size(), 2, 10000);
        QCOMPARE(progress.last().at(0).toInt(), 4);
        QCOMPARE(progress.last().at(1).toInt(), 10);
        QVERIFY(search.isRunning());
        QElapsedTimer timer;
        timer.start();
        search.cancel();
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 5000);
        QVERIFY(timer.elapsed() < 4000);
        QVERIFY(!finished.first().at(0).toBool());
        QVERIFY(finished.first().at(1).toString().startsWith(QStringLiteral("Cancelled")));
        QVERIFY(!search.isRunning());
    }

    void crashAndRefusal()
    {
        standIn("kill -SEGV $$");
        TopImagesSearch search;
        search.setCacheFolder(m_dir->filePath(QStringLiteral("cache")));
        QSignalSpy finished(&search, &TopImagesSearch::finished);
        search.start(request());
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 10000);
        QVERIFY(finished.first().at(1).toString().contains(QStringLiteral("stopped unexpectedly")));

        standIn("echo 'featscope-cli top-images: There is no node layer1 in eval mode.' >&2; exit 1");
        search.start(request());
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 2, 10000);
        QCOMPARE(finished.last().at(1).toString(), QStringLiteral("There is no node layer1 in eval mode."));
    }

    void resultIsRead()
    {
        // The stand-in writes its -o file: two images of channel 2 with 1 x 2 maps, one of another channel.
        standIn("while [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then out=$2; fi; shift; done; "
                "printf '%s' '{\"format\":\"featscope-top-images/1\",\"model\":\"m.pt\",\"node\":\"layer1\",\"score\":\"mean\","
                "\"k\":2,\"images\":5,\"channels\":[{\"channel\":2,\"top\":[{\"image\":\"a.png\",\"score\":3,\"map\":{\"height\":1,"
                "\"width\":2,\"values\":[1,2]}},{\"image\":\"b.png\",\"score\":1,\"map\":{\"height\":1,\"width\":2,\"values\":[0,1]}}]},"
                "{\"channel\":7,\"top\":[]}]}' > \"$out\"");
        TopImagesSearch search;
        search.setCacheFolder(m_dir->filePath(QStringLiteral("cache")));
        QSignalSpy finished(&search, &TopImagesSearch::finished);
        search.start(request());
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 10000);
        QVERIFY2(finished.first().at(0).toBool(), qPrintable(finished.first().at(1).toString()));
        const TopImages top = finished.first().at(2).value<TopImages>();
        QCOMPARE(top.node, QStringLiteral("layer1"));
        QCOMPARE(top.channel, 2);
        QCOMPARE(top.imagesRanked, 5);
        QCOMPARE(top.top.size(), 2);
        QCOMPARE(top.top[0].path, QStringLiteral("a.png"));
        QCOMPARE(top.top[0].map, (QVector<float>{1, 2}));
        QCOMPARE(top.folder, m_dir->path());
    }

    void malformedResultsAreRefused()
    {
        QString error;
        QVERIFY(readTopImages("{\"format\": \"other\"}", 0, &error).isEmpty());
        QVERIFY(error.contains(QStringLiteral("not featscope-cli top-images")));
        error.clear();
        const QByteArray wrongSize = "{\"format\":\"featscope-top-images/1\",\"channels\":[{\"channel\":0,\"top\":[{\"image\":\"a.png\","
                                     "\"score\":1,\"map\":{\"height\":2,\"width\":2,\"values\":[1]}}]}]}";
        QVERIFY(readTopImages(wrongSize, 0, &error).isEmpty());
        QVERIFY(error.contains(QStringLiteral("1 values for 2 x 2 cells")));
        error.clear();
        QVERIFY(readTopImages("{\"format\":\"featscope-top-images/1\",\"channels\":[]}", 3, &error).isEmpty());
        QVERIFY(error.contains(QStringLiteral("no image for channel 3")));
    }
};

QTEST_GUILESS_MAIN(TopImagesSearchTest)
#include "TopImagesSearchTest.moc"
