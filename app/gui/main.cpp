// featscope: the desktop inspector. Models are loaded and run by featscope-engine (a separate process);
// this executable never links LibTorch.

#include "EngineClient.h"
#include "FeatureMapView.h"
#include "GraphPanel.h"
#include "MainWindow.h"
#include "ModelController.h"
#include "ModelDocument.h"
#include "NodeStatisticsModel.h"
#include "ResultsPanel.h"
#include "ReturnNodesModel.h"
#include "StatisticsPanel.h"
#include "TopImagesPanel.h"

#include <QApplication>
#include <QDebug>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QSaveFile>
#include <QTimer>

#include <cstdio>
#include <cstring>

using featscope::ui::MainWindow;

namespace {

/// Drives the window for `featscope MODEL --image IMG --select N --screenshot OUT.png`: open, select, run, save.
class HeadlessRun : public QObject {
public:
    HeadlessRun(MainWindow* window, QStringList selects, QString image, QString mode, QString screenshot, QString camNode,
                QString camMethod, int colourBy, QString compareImage, QString compareModel, QString topImagesFolder, int topChannel)
        : m_window(window), m_selects(std::move(selects)), m_image(std::move(image)), m_mode(std::move(mode)),
          m_screenshot(std::move(screenshot)), m_camNode(std::move(camNode)), m_camMethod(std::move(camMethod)),
          m_colourBy(colourBy), m_compareImage(std::move(compareImage)), m_compareModel(std::move(compareModel)),
          m_topImagesFolder(std::move(topImagesFolder)), m_topChannel(topChannel)
    {
        connect(window->topImagesPanel()->search(), &featscope::ui::TopImagesSearch::finished, this,
                [this](bool ok, const QString& message) {
                    if (!ok)
                        fail(message);
                    waitIdle([this] { finish(); });
                });
        connect(window, &MainWindow::comparisonFinished, this, [this](bool ok) {
            if (!ok)
                fail(m_window->lastError());
            waitIdle([this] { finish(); });
        });
        connect(window, &MainWindow::statisticsFinished, this, [this](bool ok) {
            if (!ok)
                fail(m_window->lastError());
            m_window->statisticsPanel()->setColouring(m_colourBy);
            waitIdle([this] { finish(); });
        });
        connect(window, &MainWindow::modelLoaded, this, &HeadlessRun::onLoaded);
        connect(window, &MainWindow::runFinished, this, [this](bool ok) {
            if (!ok)
                fail(m_window->lastError());
            m_ran = true;
            if (ok && !m_compareImage.isEmpty() && !m_compared) {
                // The first run is the reference; the second, on the other image, is shown as their difference.
                m_compared = true;
                waitIdle([this] {
                    m_window->results()->pinReference(QFileInfo(m_image).fileName());
                    m_window->setImage(m_compareImage);
                    m_window->run();
                });
                return;
            }
            if (ok && m_compared)
                for (int i = 0; i < m_window->results()->outputCount(); ++i)
                    m_window->results()->view(i)->setComparison(featscope::ui::Comparison::Difference);
            if (ok && !m_topImagesFolder.isEmpty())
                waitIdle([this] { findTopImages(); });
            else if (ok && !m_camNode.isEmpty())
                waitIdle([this] { m_window->controller()->explain(m_camNode, m_camMethod); });
            else if (ok && m_colourBy >= 0)
                waitIdle([this] { m_window->computeStatistics(); });
            else
                waitIdle([this] { finish(); });
        });
        connect(window->controller(), &featscope::ui::ModelController::camFinished, this, [this](bool ok) {
            if (!ok)
                fail(m_window->lastError());
            if (ok && m_colourBy >= 0)
                waitIdle([this] { m_window->computeStatistics(); });
            else
                waitIdle([this] { finish(); });
        });
        m_poll.setInterval(50);
        connect(&m_poll, &QTimer::timeout, this, &HeadlessRun::poll);
    }

    int exitCode() const { return m_exitCode; }

private:
    void onLoaded(bool ok)
    {
        if (!ok) {
            fail(m_window->lastError());
            finish();
            return;
        }
        if (!m_mode.isEmpty())
            m_window->setMode(featscope::ui::modeFromName(m_mode));
        if (!m_selects.isEmpty()) {
            m_window->document()->returnNodes()->clearAll();
            for (const QString& s : m_selects) {
                QString error;
                if (!m_window->addReturnNodeSpec(s, &error)) {
                    fail(QStringLiteral("--select %1: %2").arg(s, error));
                    finish();
                    return;
                }
            }
        }
        if (!m_image.isEmpty())
            m_window->setImage(m_image);
        waitIdle([this] {
            if (!m_image.isEmpty() && !m_window->document()->returnNodes()->entries().isEmpty())
                m_window->run();
            else if (!m_image.isEmpty() && m_colourBy >= 0)
                m_window->computeStatistics();
            else if (!m_image.isEmpty() && !m_compareModel.isEmpty())
                m_window->compareWithModel(m_compareModel);
            else
                finish();
        });
    }

    /// Shows the first output's channel m_topChannel large and ranks the folder's images by it.
    void findTopImages()
    {
        if (m_window->results()->outputCount() > 0)
            m_window->results()->view(0)->setLargeChannel(m_topChannel);
        auto* panel = m_window->topImagesPanel();
        panel->suggest({}, m_topChannel);
        panel->setFolder(m_topImagesFolder);
        m_window->showTopImages();
        if (!panel->find()) {
            fail(QStringLiteral("--top-images %1: the search could not start").arg(m_topImagesFolder));
            finish();
        }
    }

    void waitIdle(std::function<void()> then)
    {
        m_then = std::move(then);
        m_poll.start();
    }

    void poll()
    {
        if (m_window->graphPanel()->isLayingOut() || m_window->engine()->isBusy())
            return;
        m_poll.stop();
        auto then = std::move(m_then);
        m_then = nullptr;
        if (then)
            QTimer::singleShot(100, this, then); // let queued repaints settle
    }

    void fail(const QString& message)
    {
        std::fprintf(stderr, "featscope: %s\n", qPrintable(message));
        m_exitCode = 1;
    }

    void finish()
    {
        if (!m_screenshot.isEmpty()) {
            QSaveFile file(m_screenshot);
            if (!file.open(QIODevice::WriteOnly) || !m_window->grab().save(&file, "PNG") || !file.commit()) {
                fail(QStringLiteral("cannot write the screenshot %1: %2").arg(m_screenshot, file.errorString()));
            } else {
                std::printf("featscope: saved %s\n", qPrintable(QFileInfo(m_screenshot).absoluteFilePath()));
            }
        }
        m_window->saveSettings();
        QCoreApplication::exit(m_exitCode);
    }

    MainWindow* m_window;
    QStringList m_selects;
    QString m_image, m_mode, m_screenshot, m_camNode, m_camMethod;
    int m_colourBy = -1; ///< NodeStatisticsModel column, -1: no statistics run
    QString m_compareImage; ///< run again on this image, compared with the first run
    QString m_compareModel; ///< compare the model with this one (without a run)
    QString m_topImagesFolder; ///< after the run, rank this folder's images by channel m_topChannel of the first node
    int m_topChannel = 0;
    bool m_compared = false;
    QTimer m_poll;
    std::function<void()> m_then;
    bool m_ran = false;
    int m_exitCode = 0;
};

} // namespace

int main(int argc, char** argv)
{
    // Screenshots work without a display: use the offscreen platform unless one was chosen.
    // --screenshot, --help and --version need no window, so they also work without a display.
    bool headless = false;
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--screenshot") == 0 || std::strncmp(argv[i], "--screenshot=", 13) == 0
            || std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0
            || std::strcmp(argv[i], "--help-all") == 0 || std::strcmp(argv[i], "--version") == 0
            || std::strcmp(argv[i], "-v") == 0)
            headless = true;
    if (headless && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY")
        && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY"))
        qputenv("QT_QPA_PLATFORM", "offscreen");

    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("featscope"));
    QApplication::setOrganizationName(QStringLiteral("featscope"));
    QApplication::setApplicationVersion(QStringLiteral(FEATSCOPE_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "featscope: browse a TorchScript model's graph under torchvision's node names, pick return nodes, look at "
        "feature maps and export the pruned extractor.\n\nWith --screenshot it opens MODEL, selects the nodes, runs "
        "on the image, saves a PNG of the window and exits (non-zero when something failed)."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("MODEL.pt"), QStringLiteral("TorchScript model to open"));
    QCommandLineOption image(QStringLiteral("image"), QStringLiteral("Image to run the model on."), QStringLiteral("IMG"));
    QCommandLineOption select(QStringLiteral("select"),
                              QStringLiteral("Return node (a truncated name works), optionally with an output key; "
                                             "repeat for several."),
                              QStringLiteral("NODE[=KEY]"));
    QCommandLineOption mode(QStringLiteral("mode"), QStringLiteral("Graph and run mode: train or eval (default eval)."),
                            QStringLiteral("train|eval"));
    QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                  QStringLiteral("Save a PNG of the main window after opening (and running) and exit."),
                                  QStringLiteral("OUT.png"));
    QCommandLineOption allowUnsafeOps(QStringLiteral("allow-unsafe-ops"),
                                      QStringLiteral("With --screenshot: run the model even if its code touches files, "
                                                     "processes or the network (otherwise such a run is refused)."));
    QCommandLineOption cam(QStringLiteral("cam"),
                           QStringLiteral("With --screenshot: after the run, explain the prediction at NODE with a class "
                                          "activation map drawn over the input."),
                           QStringLiteral("NODE"));
    QCommandLineOption camMethod(QStringLiteral("cam-method"), QStringLiteral("gradcam (default), gradcam++ or gradxact."),
                                 QStringLiteral("METHOD"), QStringLiteral("gradcam"));
    QCommandLineOption colourBy(QStringLiteral("colour-by"),
                                QStringLiteral("With --screenshot: after the run, summarise every node and colour the graph by "
                                               "mean, std, max, zeros or dead (channels)."),
                                QStringLiteral("STAT"));
    QCommandLineOption compare(QStringLiteral("compare"),
                               QStringLiteral("With --screenshot: after the run, pin its maps, run on IMG too and show "
                                              "the difference of the two."),
                               QStringLiteral("IMG"));
    QCommandLineOption compareModel(QStringLiteral("compare-model"),
                                    QStringLiteral("With --screenshot and --image (no --select): compare MODEL with B.pt "
                                                   "node by node on the image."),
                                    QStringLiteral("B.pt"));
    QCommandLineOption topImages(QStringLiteral("top-images"),
                                 QStringLiteral("With --screenshot: after the run, find the images of FOLDER that excite "
                                                "channel --top-channel of the first --select most."),
                                 QStringLiteral("FOLDER"));
    QCommandLineOption topChannel(QStringLiteral("top-channel"), QStringLiteral("The channel --top-images ranks by (default 0)."),
                                  QStringLiteral("C"), QStringLiteral("0"));
    parser.addOptions({image, select, mode, screenshot, allowUnsafeOps, cam, camMethod, colourBy, compare, compareModel, topImages,
                       topChannel});
    parser.process(app);

    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        std::fprintf(stderr, "featscope: give one model file (see --help)\n");
        return 2;
    }
    if (parser.isSet(mode) && parser.value(mode) != QLatin1String("train") && parser.value(mode) != QLatin1String("eval")) {
        std::fprintf(stderr, "featscope: --mode must be train or eval\n");
        return 2;
    }
    const QStringList camMethods{QStringLiteral("gradcam"), QStringLiteral("gradcam++"), QStringLiteral("gradxact")};
    if (!camMethods.contains(parser.value(camMethod))) {
        std::fprintf(stderr, "featscope: --cam-method must be gradcam, gradcam++ or gradxact\n");
        return 2;
    }
    // --cam, --compare and --top-images act on what a headless run shows: they need its screenshot, image and node.
    const auto withoutARun = [&](const QCommandLineOption& option) {
        return parser.isSet(option) && !(parser.isSet(screenshot) && parser.isSet(image) && parser.isSet(select));
    };
    if (withoutARun(cam)) {
        std::fprintf(stderr, "featscope: --cam needs --screenshot, --image and a --select to run first (see --help)\n");
        return 2;
    }
    using featscope::ui::NodeStatisticsModel;
    const QHash<QString, int> statistics{{QStringLiteral("mean"), NodeStatisticsModel::MeanColumn},
                                         {QStringLiteral("std"), NodeStatisticsModel::StdColumn},
                                         {QStringLiteral("max"), NodeStatisticsModel::MaxColumn},
                                         {QStringLiteral("zeros"), NodeStatisticsModel::ZerosColumn},
                                         {QStringLiteral("dead"), NodeStatisticsModel::DeadColumn}};
    if (parser.isSet(colourBy) && (!statistics.contains(parser.value(colourBy)) || !parser.isSet(screenshot) || !parser.isSet(image))) {
        std::fprintf(stderr, "featscope: --colour-by takes mean, std, max, zeros or dead, with --screenshot and --image\n");
        return 2;
    }
    if (parser.isSet(compareModel) && (!parser.isSet(screenshot) || !parser.isSet(image) || parser.isSet(select))) {
        std::fprintf(stderr, "featscope: --compare-model needs --screenshot and --image, and no --select (see --help)\n");
        return 2;
    }
    if (withoutARun(compare)) {
        std::fprintf(stderr, "featscope: --compare needs --screenshot, --image and a --select to run first (see --help)\n");
        return 2;
    }
    bool channelOk = false;
    const int topChannelValue = parser.value(topChannel).toInt(&channelOk);
    if (withoutARun(topImages) || (parser.isSet(topImages) && (!channelOk || topChannelValue < 0))) {
        std::fprintf(stderr, "featscope: --top-images needs --screenshot, --image, a --select and a --top-channel of 0 or more\n");
        return 2;
    }
    if (parser.isSet(screenshot) && positional.isEmpty()) {
        std::fprintf(stderr, "featscope: --screenshot needs a model file (see --help)\n");
        return 2;
    }

    MainWindow window;
    std::unique_ptr<HeadlessRun> headlessRun;
    if (parser.isSet(screenshot)) {
        // No one can answer a dialog in a headless run: the command line decides.
        const bool allow = parser.isSet(allowUnsafeOps);
        window.setUnsafeOpsConfirmation([allow](const QStringList&) { return allow; });
    }
    if (parser.isSet(screenshot))
        headlessRun = std::make_unique<HeadlessRun>(&window, parser.values(select), parser.value(image), parser.value(mode),
                                                    parser.value(screenshot), parser.value(cam), parser.value(camMethod),
                                                    parser.isSet(colourBy) ? statistics.value(parser.value(colourBy)) : -1,
                                                    parser.value(compare), parser.value(compareModel), parser.value(topImages),
                                                    topChannelValue);
    window.show();
    if (!positional.isEmpty()) {
        if (!headlessRun) {
            // Interactive: apply the options once the model is open.
            const QStringList selects = parser.values(select);
            const QString img = parser.value(image), m = parser.value(mode);
            QObject::connect(&window, &MainWindow::modelLoaded, &window, [&window, selects, img, m](bool ok) {
                if (!ok)
                    return;
                if (!m.isEmpty())
                    window.setMode(featscope::ui::modeFromName(m));
                if (!selects.isEmpty()) {
                    window.document()->returnNodes()->clearAll();
                    for (const QString& s : selects) {
                        QString error;
                        if (!window.addReturnNodeSpec(s, &error))
                            qWarning().noquote() << QStringLiteral("featscope: --select %1: %2").arg(s, error);
                    }
                }
                if (!img.isEmpty())
                    window.setImage(img);
            }, Qt::SingleShotConnection);
        }
        window.openModel(positional.first());
    }
    return app.exec();
}
