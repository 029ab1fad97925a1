// featscope-bench-gui MODEL.pt: opens MODEL.pt in the inspector's MainWindow exactly as `featscope MODEL.pt`
// does (QApplication, MainWindow, show, openModel), and measures from outside the ui/ code:
//
//   - when the first paint of the graph view finishes after MainWindow::graphReady (first drawn graph),
//   - the longest gap between ticks of a 1 ms heartbeat timer on the GUI thread (the longest time the
//     GUI thread did not return to its event loop), from QApplication start to 500 ms after that paint,
//   - the MainWindow's own "opened ... in N ms (engine load, GUI thread, layout ...)" log line.
//
// Prints one JSON object; times are CLOCK_MONOTONIC seconds (Python's time.monotonic()), so the
// driver can subtract the moment it started this process.

#include "GraphPanel.h"
#include "GraphView.h"
#include "MainWindow.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QTimer>

#include <chrono>
#include <cstdio>
#include <vector>

namespace {

double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

QString g_openedLine;

void messageHandler(QtMsgType type, const QMessageLogContext&, const QString& message)
{
    if (message.startsWith(QLatin1String("featscope: opened")))
        g_openedLine = message;
    if (type != QtDebugMsg)
        std::fprintf(stderr, "%s\n", qPrintable(message));
}

/// Records the end of the first paint of `viewport` once armed.
class PaintProbe : public QObject {
public:
    bool armed = false;
    double paintStart = 0, paintEnd = 0;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override
    {
        if (armed && paintStart == 0 && event->type() == QEvent::Paint) {
            paintStart = now();
            watched->removeEventFilter(this);
            // The filter runs before the paint; a zero timer fires once the paint has returned.
            QTimer::singleShot(0, this, [this] { paintEnd = now(); });
        }
        return false;
    }
};

} // namespace

int main(int argc, char** argv)
{
    const double processMain = now();
    if (argc < 2) {
        std::fprintf(stderr, "usage: featscope-bench-gui MODEL.pt [--timeout SECONDS]\n");
        return 2;
    }
    const QString model = QString::fromLocal8Bit(argv[1]);
    double timeoutSeconds = argc > 3 && QByteArray(argv[2]) == "--timeout" ? std::atof(argv[3]) : 120;
    qInstallMessageHandler(messageHandler);
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("featscope"));
    QApplication::setOrganizationName(QStringLiteral("featscope"));
    const double appReady = now();

    // Heartbeat: a 1 ms precise timer; a gap between two ticks is time the GUI thread spent elsewhere.
    double lastTick = now(), worstGap = 0, worstGapAt = 0;
    std::vector<double> gaps;
    QTimer heartbeat;
    heartbeat.setTimerType(Qt::PreciseTimer);
    heartbeat.setInterval(1);
    QObject::connect(&heartbeat, &QTimer::timeout, [&] {
        const double t = now();
        const double gap = t - lastTick;
        if (gap > worstGap) {
            worstGap = gap;
            worstGapAt = lastTick;
        }
        if (gap > 0.050)
            gaps.push_back(gap);
        lastTick = t;
    });
    heartbeat.start();

    featscope::ui::MainWindow window;
    PaintProbe probe;
    window.graphPanel()->view()->viewport()->installEventFilter(&probe);
    double loaded = 0, graphReady = 0, openCalled = 0;
    bool loadOk = false;
    QObject::connect(&window, &featscope::ui::MainWindow::modelLoaded, [&](bool ok) {
        loaded = now();
        loadOk = ok;
        if (!ok)
            QTimer::singleShot(0, &app, [] { QCoreApplication::exit(1); });
    });
    QObject::connect(&window, &featscope::ui::MainWindow::graphReady, [&] {
        if (graphReady == 0) {
            graphReady = now();
            probe.armed = true;
            window.graphPanel()->view()->viewport()->update();
        }
    });
    // Stop 500 ms after the first drawn graph, so blocks right after it are seen too.
    QTimer finishPoll;
    finishPoll.setInterval(20);
    QObject::connect(&finishPoll, &QTimer::timeout, [&] {
        if (probe.paintEnd > 0 && now() - probe.paintEnd > 0.5)
            QCoreApplication::exit(0);
        if (now() - processMain > timeoutSeconds)
            QCoreApplication::exit(3);
    });
    finishPoll.start();

    window.show();
    openCalled = now();
    window.openModel(model);
    lastTick = now(); // window construction above is start-up, reported separately (open_called - app_ready)
    const int code = app.exec();
    heartbeat.stop();

    std::printf("{\"ok\": %s, \"exit\": %d, \"process_main\": %.6f, \"app_ready\": %.6f, \"open_called\": %.6f, "
                "\"model_loaded\": %.6f, \"graph_ready\": %.6f, \"paint_start\": %.6f, \"first_drawn\": %.6f, "
                "\"longest_block_s\": %.6f, \"longest_block_at\": %.6f, \"blocks_over_50ms\": %d, \"boxes\": %d, "
                "\"opened_line\": \"%s\"}\n",
                loadOk && code == 0 ? "true" : "false", code, processMain, appReady, openCalled, loaded, graphReady,
                probe.paintStart, probe.paintEnd, worstGap, worstGapAt, int(gaps.size()),
                window.graphPanel()->visibleBoxes(), qPrintable(QString(g_openedLine).replace(QLatin1Char('"'), QLatin1Char('\''))));
    std::fflush(stdout);
    return code;
}
