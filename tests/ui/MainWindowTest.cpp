// GUI tests: drive the real main window (offscreen) against the real featscope-engine. Every test gets a
// fresh window with the bundled model open and settings of its own, so each one runs alone
// (featscope_ui_mainwindow_test NAME) and none depends on what another left behind.

#include "EngineClient.h"
#include "FeatureMapView.h"
#include "InputPanel.h"
#include "GraphNodeItem.h"
#include "GraphPanel.h"
#include "GraphScene.h"
#include "GraphView.h"
#include "DocumentPanels.h"
#include "MainWindow.h"
#include "ModelController.h"
#include "ModelDocument.h"
#include "NodeFinder.h"
#include "NodeTreeModel.h"
#include "NodeTreePanel.h"
#include "PreprocessingWidget.h"
#include "ResultsPanel.h"
#include "ReturnNodesModel.h"
#include "ReturnNodesPanel.h"
#include "StatisticsPanel.h"
#include "TopImagesPanel.h"
#include "ModelComparisonPanel.h"
#include <QTableWidget>
#include "LoadOptionsDialog.h"
#include "NodeStatisticsModel.h"

#include <QApplication>
#include <QDir>
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QSlider>
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QProcess>
#include <QSignalSpy>
#include <QSpinBox>
#include <QListWidget>
#include <QSortFilterProxyModel>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QTreeView>

#include <qcustomplot.h>

#include <cmath>
#include <cstring>
#include <csignal>
#include <memory>

using namespace featscope::ui;

namespace {

const QString kModel = QDir::cleanPath(QStringLiteral(FEATSCOPE_SOURCE_DIR "/resources/models/fashion_cnn.pt"));
const QString kImage = QDir::cleanPath(QStringLiteral(FEATSCOPE_SOURCE_DIR "/resources/images/bag_18.png"));
const QString kNode = QStringLiteral("features.block1.conv");

} // namespace

class MainWindowTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();
    void openModelDrawsGraphAndTree();
    void clickGraphNodeAddsReturnNode();
    void treeAndGraphSelectionFollowEachOther();
    void editKey();
    void typedTruncatedNameResolves();
    void searchFiltersAndJumps();
    void runShowsHeatmaps();
    void classScoresNameTheClassAndLayoutsAreRemembered();
    void inputShowsTheShownMapOverTheImage();
    void camAtAReturnNodeEqualsTheCommandLines();
    void statisticsColourTheGraphAndAgreeWithTheMaps();
    void aPinnedRunComparesTwoImages();
    void topImagesOfAFolderWithTheirMaps();
    void compareWithModelListsEveryNode();
    void exportAndLoadBack();
    void engineKilledMidRunKeepsWindow();
    void cancelStopsRunWithinASecond();
    void hungRunTimesOut();
    void engineTimeCapAnswersOnceAndRecovers();
    void brokenModelFileGivesError();
    void aFileThatCrashesLibTorchIsTheReadersErrorInAFreshWindow();
    void restartRestoresSelection();
    void separateTrainEvalExport();
    void unsafeModelAsksBeforeRunning();
    void invalidPreprocessingIsRefusedByTheEnginesRule();
    void structuredOutputsShowEachTensorAndTheRestAsText();
    void loadOptionsActionReloadsWithLeafFunctionsAndLibraries();

private:
    /// A small scripted model (made by /usr/bin/python3) whose nodes return a dict of tensors (`fpn`, a
    /// torchvision FeaturePyramidNetwork with a pool level), a Tuple[Tensor, Optional[Tensor]] (`attn`, a
    /// MultiheadAttention without weights), an int (`size`), and a helper function `scale` (mul, add).
    QString makeStructuredModel();
    /// Writes `script` to m_dir/`name` and runs it with /usr/bin/python3 and `arguments`; false (its stderr
    /// logged) when it fails.
    bool runPython(const QString& name, const QString& script, const QStringList& arguments);
    void showNewWindow();
    void openAndWait(const QString& path);
    GraphNodeItem* graphItem(const QString& name);
    /// The window's action with shortcut `keys`, as a user reaches it from the keyboard; null when none.
    QAction* actionWithShortcut(const QString& keys) const;
    /// The selection most tests work on: block1's conv as "conv1" and block2 (truncated) as "block2", and an image.
    void chooseTwoOutputsAndImage();
    void runAndWait();
    /// Kills the engine so that the next request starts one with `arguments`.
    void restartEngineWith(const QStringList& arguments);

    std::unique_ptr<QTemporaryDir> m_dirHolder;
    QDir m_dir;
    std::unique_ptr<MainWindow> m_window;
};

void MainWindowTest::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY2(QFile::exists(kModel), qPrintable(kModel));
}

void MainWindowTest::init()
{
    // Never touch the user's settings, nor another test's.
    m_dirHolder = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dirHolder->isValid());
    m_dir = QDir(m_dirHolder->path());
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_dir.filePath(QStringLiteral("settings")));
    showNewWindow();
    openAndWait(kModel);
}

void MainWindowTest::cleanup()
{
    m_window.reset();
    m_dirHolder.reset();
}

void MainWindowTest::showNewWindow()
{
    m_window = std::make_unique<MainWindow>();
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
}

void MainWindowTest::chooseTwoOutputsAndImage()
{
    m_window->addReturnNode(kNode, QStringLiteral("conv1"));
    m_window->addReturnNode(QStringLiteral("features.block2"), QStringLiteral("block2"));
    QCOMPARE(m_window->document()->returnNodes()->entries().size(), 2);
    QVERIFY(!m_window->document()->returnNodes()->hasErrors());
    m_window->setImage(kImage);
}

void MainWindowTest::runAndWait()
{
    QSignalSpy finished(m_window.get(), &MainWindow::runFinished);
    m_window->run();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QVERIFY2(finished.first().first().toBool(), qPrintable(m_window->lastError()));
}

void MainWindowTest::restartEngineWith(const QStringList& arguments)
{
    EngineClient* engine = m_window->engine();
    engine->setArguments(arguments);
    if (engine->processId() != 0)
        ::kill(pid_t(engine->processId()), SIGKILL);
    QTRY_COMPARE(engine->processId(), qint64(0));
}

void MainWindowTest::openAndWait(const QString& path)
{
    QSignalSpy loaded(m_window.get(), &MainWindow::modelLoaded);
    QSignalSpy drawn(m_window.get(), &MainWindow::graphReady);
    m_window->openModel(path);
    QTRY_VERIFY_WITH_TIMEOUT(loaded.count() == 1, 60000);
    QVERIFY2(loaded.first().first().toBool(), qPrintable(m_window->lastError()));
    QTRY_VERIFY_WITH_TIMEOUT(drawn.count() >= 1 && !m_window->graphPanel()->isLayingOut(), 30000);
}

QAction* MainWindowTest::actionWithShortcut(const QString& keys) const
{
    for (QAction* action : m_window->findChildren<QAction*>())
        if (action->shortcut() == QKeySequence(keys))
            return action;
    return nullptr;
}

GraphNodeItem* MainWindowTest::graphItem(const QString& name)
{
    GraphNodeItem* item = m_window->graphPanel()->scene()->itemForNode(name);
    if (item)
        m_window->graphPanel()->view()->centerOn(item);
    return item;
}

void MainWindowTest::openModelDrawsGraphAndTree()
{
    QVERIFY(m_window->document()->hasModel());
    QCOMPARE(m_window->document()->model().className, QStringLiteral("FashionCNN"));
    QVERIFY(m_window->document()->model().hasPreprocessing);
    QCOMPARE(m_window->preprocessing()->value().channels, 1);
    QVERIFY(m_window->document()->model().graph(Mode::Eval).names.contains(kNode));
    QVERIFY(m_window->graphPanel()->scene()->nodeItems().size() >= 10);
    QVERIFY(graphItem(kNode) != nullptr);
    QVERIFY(m_window->nodeTreePanel()->model()->indexForName(kNode).isValid());
}

void MainWindowTest::clickGraphNodeAddsReturnNode()
{
    GraphNodeItem* item = graphItem(kNode);
    QVERIFY(item);
    GraphView* view = m_window->graphPanel()->view();
    const QPoint box = view->mapFromScene(item->checkBoxRect().center());
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, box);
    QCOMPARE(m_window->document()->returnNodes()->entries().size(), 1);
    QCOMPARE(m_window->document()->returnNodes()->entries().first().node, kNode);
    QVERIFY(item->isTicked());
    const QModelIndex index = m_window->nodeTreePanel()->model()->indexForName(kNode);
    QCOMPARE(index.data(Qt::CheckStateRole).toInt(), int(Qt::Checked));
    // Checked in the window, at once: no round trip to the engine.
    QCOMPARE(m_window->document()->returnNodes()->entries().first().resolved, kNode);
    QCOMPARE(m_window->document()->returnNodes()->entries().first().severity, 0);

    // Clicking the tick box again removes it.
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, view->mapFromScene(graphItem(kNode)->checkBoxRect().center()));
    QCOMPARE(m_window->document()->returnNodes()->entries().size(), 0);
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, view->mapFromScene(graphItem(kNode)->checkBoxRect().center()));
    QCOMPARE(m_window->document()->returnNodes()->entries().size(), 1);
}

void MainWindowTest::treeAndGraphSelectionFollowEachOther()
{
    const QString other = QStringLiteral("features.block2.relu");
    GraphNodeItem* item = graphItem(other);
    QVERIFY(item);
    GraphView* view = m_window->graphPanel()->view();
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, view->mapFromScene(item->rect().center() + QPointF(10, 0)));
    const QModelIndex current = m_window->nodeTreePanel()->view()->currentIndex();
    QCOMPARE(current.data(NodeTreeModel::NameRole).toString(), other);

    // And back: choosing a tree row highlights the box.
    const QModelIndex row = m_window->nodeTreePanel()->proxy()->mapFromSource(m_window->nodeTreePanel()->model()->indexForName(kNode));
    m_window->nodeTreePanel()->view()->setCurrentIndex(row);
    QTRY_VERIFY(graphItem(kNode) && graphItem(kNode)->isVisible());
}

void MainWindowTest::editKey()
{
    m_window->addReturnNode(kNode);
    QTableView* table = m_window->returnNodesPanel()->view();
    const QModelIndex key = m_window->document()->returnNodes()->index(0, ReturnNodesModel::KeyColumn);
    const QList<QLineEdit*> before = table->viewport()->findChildren<QLineEdit*>();
    table->setCurrentIndex(key);
    table->edit(key);
    QLineEdit* editor = nullptr;
    for (QLineEdit* e : table->viewport()->findChildren<QLineEdit*>())
        if (!before.contains(e) && e->isVisible())
            editor = e;
    QVERIFY(editor);
    editor->selectAll();
    QTest::keyClicks(editor, QStringLiteral("conv1"));
    QTest::keyClick(editor, Qt::Key_Return); // the delegate commits through a queued call
    QTRY_COMPARE(m_window->document()->returnNodes()->entries().first().key, QStringLiteral("conv1"));
}

void MainWindowTest::typedTruncatedNameResolves()
{
    m_window->addReturnNode(kNode);
    m_window->setImage(kImage);
    auto* add = m_window->findChild<QLineEdit*>(QStringLiteral("addNode"));
    QVERIFY(add);
    add->setFocus();
    QTest::keyClicks(add, QStringLiteral("features.block2=block2"));
    QTest::keyClick(add, Qt::Key_Return);
    QCOMPARE(m_window->document()->returnNodes()->entries().size(), 2);
    QCOMPARE(m_window->document()->returnNodes()->entries().at(1).resolved, QStringLiteral("features.block2.pool"));
    QCOMPARE(m_window->document()->returnNodes()->entries().at(1).key, QStringLiteral("block2"));
    // NODE=KEY is parsed by the CLI's rule: a spec without a node adds nothing and keeps the text to fix.
    QTest::keyClicks(add, QStringLiteral("=oops"));
    QTest::keyClick(add, Qt::Key_Return);
    QCOMPARE(m_window->document()->returnNodes()->entries().size(), 2);
    QCOMPARE(add->text(), QStringLiteral("=oops"));
    add->clear();
    // A misspelt name is marked at once, with the closest names as fixes.
    m_window->addReturnNode(QStringLiteral("features.blok1.conv"));
    QCOMPARE(m_window->document()->returnNodes()->entries().at(2).severity, 2);
    QVERIFY(m_window->document()->returnNodes()->entries().at(2).message.contains(kNode));
    QCOMPARE(m_window->document()->returnNodes()->entries().at(2).suggestions.first(), kNode);
    QVERIFY(!m_window->imagePanel()->runButton()->isEnabled());
    m_window->document()->returnNodes()->removeRowAt(2);
    QVERIFY(m_window->imagePanel()->runButton()->isEnabled());
}

void MainWindowTest::searchFiltersAndJumps()
{
    QLineEdit* search = m_window->finder()->searchBox();
    search->setFocus();
    QTest::keyClicks(search, QStringLiteral("block3"));
    // The tree keeps only matching rows (and their parents).
    QSortFilterProxyModel* proxy = m_window->nodeTreePanel()->proxy();
    QVERIFY(proxy->mapFromSource(m_window->nodeTreePanel()->model()->indexForName(QStringLiteral("features.block3.bn"))).isValid());
    QVERIFY(!proxy->mapFromSource(m_window->nodeTreePanel()->model()->indexForName(kNode)).isValid());
    // Enter on a truncated name jumps to the node it selects.
    QTest::keyClick(search, Qt::Key_Return);
    QCOMPARE(m_window->nodeTreePanel()->view()->currentIndex().data(NodeTreeModel::NameRole).toString(),
             QStringLiteral("features.block3.pool"));
    search->clear();
    QVERIFY(proxy->mapFromSource(m_window->nodeTreePanel()->model()->indexForName(kNode)).isValid());
}

void MainWindowTest::runShowsHeatmaps()
{
    chooseTwoOutputsAndImage();
    QSignalSpy finished(m_window.get(), &MainWindow::runFinished);
    QTest::mouseClick(m_window->imagePanel()->runButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QVERIFY2(finished.first().first().toBool(), qPrintable(m_window->lastError()));
    ResultsPanel* results = m_window->results();
    QCOMPARE(results->outputCount(), 2);
    FeatureMapView* conv = results->view(0);
    QCOMPARE(conv->output().key, QStringLiteral("conv1"));
    QCOMPARE(conv->output().shapeText(), QStringLiteral("1×32×28×28"));
    QCOMPARE(conv->shownMaps(), 32);
    QCOMPARE(conv->tensor().height(), 28);
    QCOMPARE(results->view(1)->output().node, QStringLiteral("features.block2.pool"));
    // Output shapes appear on the graph.
    QCOMPARE(graphItem(kNode)->shapeText(), QStringLiteral("1×32×28×28"));
    // The enlarged map has square cells and axes that span the map only (it was stretched, then padded
    // with an axis running past the map).
    QCustomPlot* large = conv->largePlot();
    QTRY_VERIFY_WITH_TIMEOUT(large->axisRect()->rect().width() > 0
                                 && std::abs(large->axisRect()->rect().width() - large->axisRect()->rect().height()) <= 2,
                             5000);
    QCOMPARE(large->xAxis->range().lower, -0.5);
    QCOMPARE(large->xAxis->range().upper, 27.5);
    QCOMPARE(large->yAxis->range().upper, 27.5);
    // Normalisation and channel views work on the shown maps.
    results->setNormalisation(Normalisation::Global);
    conv->setLargeChannel(-1);
    QCOMPARE(conv->largeChannel(), -1);
}

// The bundled model's featscope.json names its ten classes: the classifier's output is drawn as scores with
// the winning class named (it was a 10x1 strip), and a layout chosen for a node survives a restart.
void MainWindowTest::classScoresNameTheClassAndLayoutsAreRemembered()
{
    const QStringList classes = m_window->document()->model().classes;
    QCOMPARE(classes.size(), 10);
    m_window->addReturnNode(QStringLiteral("classifier.fc"), QStringLiteral("scores"));
    m_window->addReturnNode(kNode, QStringLiteral("conv1"));
    m_window->setImage(kImage);
    runAndWait();
    // Outputs come in graph order: the conv first.
    FeatureMapView* scores = m_window->results()->view(1);
    QCOMPARE(scores->output().key, QStringLiteral("scores"));
    QVERIFY(!scores->vectorPlot()->isHidden()); // (its tab is not the current one)
    QVERIFY(scores->largePlot()->isHidden());
    const QVector<float>& values = scores->tensor().data();
    const int best = int(std::max_element(values.cbegin(), values.cend()) - values.cbegin());
    QVERIFY2(scores->prediction().startsWith(classes.at(best) + QStringLiteral(" (")), qPrintable(scores->prediction()));
    QVERIFY(scores->findChild<QLabel*>(QStringLiteral("topEntries"))->text().contains(classes.at(best)));
    bool summarised = false;
    for (QLabel* label : m_window->results()->findChildren<QLabel*>())
        summarised = summarised || label->text().contains(QStringLiteral("scores predicts %1").arg(classes.at(best)));
    QVERIFY(summarised);

    // Read block1's conv as channels-last, as a user forcing the layout would; it is kept with the model.
    FeatureMapView* conv = m_window->results()->view(0);
    auto* layout = conv->findChild<QComboBox*>(QStringLiteral("layout"));
    const int nhwc = layout->findData(QStringLiteral("nhwc"));
    layout->setCurrentIndex(nhwc);
    Q_EMIT layout->activated(nhwc);
    QCOMPARE(conv->maps().channels(), 28);
    QCOMPARE(m_window->document()->layouts().value(kNode), QStringLiteral("nhwc"));
    m_window->close();
    m_window.reset();
    showNewWindow();
    openAndWait(kModel);
    runAndWait();
    QCOMPARE(m_window->results()->view(0)->layoutChoice(), QStringLiteral("nhwc"));
    QCOMPARE(m_window->results()->view(0)->maps().height(), 32);
}

// The input as the model sees it (the bundled model resizes and crops to 28 x 28, grayscale), with the large
// map of the current output over it, cell for cell; a clicked cell is outlined over its share of the input.
void MainWindowTest::inputShowsTheShownMapOverTheImage()
{
    chooseTwoOutputsAndImage();
    runAndWait();
    InputPanel* input = m_window->inputPanel();
    QVERIFY(input->isVisible());
    QCOMPARE(input->problem(), QString());
    QCOMPARE(input->shownImage().size(), QSize(28, 28));
    QCOMPARE(input->shownImage().format(), QImage::Format_Grayscale8);

    FeatureMapView* conv = m_window->results()->view(0);
    conv->setLargeChannel(5);
    const MapOverlay overlay = conv->overlay();
    QCOMPARE(overlay.colours.size(), QSize(28, 28));
    QVERIFY(overlay.title.contains(QLatin1String("channel 5")));
    input->findChild<QSlider*>(QStringLiteral("overlayOpacity"))->setValue(100);
    input->findChild<QCheckBox*>(QStringLiteral("smoothOverlay"))->setChecked(false);
    const QImage drawn = input->render(QSize(28, 28));
    for (const QPoint p : {QPoint(0, 0), QPoint(13, 7), QPoint(27, 27)})
        QCOMPARE(drawn.pixel(p), overlay.colours.pixel(p));

    // A clicked cell asks the engine which input pixels it depends on: for the 3x3 convolution (padding 1),
    // cell (5, 5) sees pixels 4..6, drawn dashed over them.
    QSignalSpy regions(m_window->controller(), &ModelController::receptiveRegionFinished);
    conv->setSelectedCell(QPoint(5, 5));
    QTRY_VERIFY_WITH_TIMEOUT(regions.count() == 1, 60000);
    QVERIFY2(regions.last().first().toBool(), qPrintable(m_window->lastError()));
    QCOMPARE(m_window->document()->receptiveRegion().inInput, QRect(4, 4, 3, 3));
    QCOMPARE(input->receptiveRect(QSize(280, 280)), QRectF(40, 40, 30, 30));

    // block2's pool is 7 x 7: cell (1, 2) covers input pixels 4..7 x 8..11 in proportion, 40 x 40 at ten times
    // the size; through conv, pool, conv, pool it depends on columns 1..10 and rows 5..14.
    m_window->results()->tabs()->setCurrentIndex(1);
    FeatureMapView* pool = m_window->results()->view(1);
    pool->setSelectedCell(QPoint(1, 2));
    QCOMPARE(pool->maps().width(), 7);
    QCOMPARE(input->cellRect(QPoint(1, 2), QSize(280, 280)), QRectF(40, 80, 40, 40));
    QTRY_VERIFY_WITH_TIMEOUT(regions.count() == 2, 60000);
    QCOMPARE(m_window->document()->receptiveRegion().inInput, QRect(1, 5, 10, 10));
    QVERIFY(input->findChild<QLabel*>(QStringLiteral("inputCaption"))->text().contains(QLatin1String("cell (1, 2) looks at 10 x 10")));

    // A wide image: resized to 42 x 28, cropped from x = 7, so the input is the original's (10, 0, 40 x 40).
    // Shown as the original at ten times its size, the map lies over that square, not over the whole picture.
    QImage wide(60, 40, QImage::Format_RGB888);
    wide.fill(Qt::gray);
    const QString widePath = m_dir.filePath(QStringLiteral("wide.png"));
    QVERIFY(wide.save(widePath));
    m_window->setImage(widePath);
    runAndWait();
    m_window->results()->tabs()->setCurrentIndex(1);
    m_window->results()->view(1)->setSelectedCell(QPoint(0, 0));
    input->findChild<QComboBox*>(QStringLiteral("inputView"))->setCurrentIndex(1);
    QCOMPARE(input->shownImage().size(), QSize(60, 40));
    const QRectF cell = input->cellRect(QPoint(0, 0), QSize(600, 400));
    QCOMPARE(cell.topLeft(), QPointF(100, 0));
    QVERIFY(qAbs(cell.width() - 400.0 / 7) < 1e-9);
}

namespace {

/// The float32 values of a .npy file featscope wrote (little-endian, C order).
QVector<float> npyValues(const QString& path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    const QByteArray bytes = file.readAll();
    const qsizetype start = bytes.indexOf('\n') + 1;
    QVector<float> values((bytes.size() - start) / 4);
    std::memcpy(values.data(), bytes.constData() + start, size_t(values.size()) * 4);
    return values;
}

} // namespace

// Explain in the Input dock: a Grad-CAM at a return node, the same numbers featscope-cli cam gives, drawn over
// the input with the top classes named, saved as .npy and PNG.
void MainWindowTest::camAtAReturnNodeEqualsTheCommandLines()
{
    chooseTwoOutputsAndImage();
    runAndWait();
    InputPanel* input = m_window->inputPanel();
    auto* node = input->findChild<QComboBox*>(QStringLiteral("camNode"));
    QCOMPARE(node->count(), 2);
    node->setCurrentIndex(node->findText(QStringLiteral("features.block2.pool")));
    auto* method = input->findChild<QComboBox*>(QStringLiteral("camMethod"));
    method->setCurrentIndex(method->findData(QStringLiteral("gradcam++"))); // plain Grad-CAM is zero here
    QSignalSpy explained(m_window->controller(), &ModelController::camFinished);
    QTest::mouseClick(input->findChild<QPushButton*>(QStringLiteral("explain")), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(explained.count() == 1, 60000);
    QVERIFY2(explained.first().first().toBool(), qPrintable(m_window->lastError()));
    const CamMap& cam = m_window->document()->cam();
    QCOMPARE(cam.node, QStringLiteral("features.block2.pool"));
    QCOMPARE(cam.method, QStringLiteral("gradcam++"));
    QVERIFY(*std::max_element(cam.values.cbegin(), cam.values.cend()) > 0);
    QCOMPARE(cam.width, 7);
    QCOMPARE(cam.height, 7);
    QCOMPARE(cam.top.size(), 5);
    QCOMPARE(cam.classIndex, cam.top.first().index);
    QCOMPARE(input->overlaySource(), InputPanel::Overlay::Cam);
    const QString className = m_window->document()->model().classes.at(cam.classIndex);
    QVERIFY(input->findChild<QLabel*>(QStringLiteral("inputCaption"))->text().contains(className));

    const QString cliNpy = m_dir.filePath(QStringLiteral("cli.npy"));
    QProcess cli;
    cli.start(QCoreApplication::applicationDirPath() + QStringLiteral("/featscope-cli"),
              {QStringLiteral("cam"), kModel, kImage, QStringLiteral("--node"), QStringLiteral("features.block2.pool"),
               QStringLiteral("--method"), QStringLiteral("gradcam++"), QStringLiteral("-o"), cliNpy});
    QVERIFY(cli.waitForFinished(60000));
    QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());
    const QString guiNpy = m_dir.filePath(QStringLiteral("gui.npy"));
    QString error;
    QVERIFY2(input->exportCam(guiNpy, &error), qPrintable(error));
    const QVector<float> expected = npyValues(cliNpy), saved = npyValues(guiNpy);
    QCOMPARE(saved.size(), 49);
    QCOMPARE(expected.size(), 49);
    for (int i = 0; i < 49; ++i) {
        QVERIFY2(std::abs(saved[i] - expected[i]) <= 1e-5f * std::max(1.f, std::abs(expected[i])), qPrintable(QString::number(i)));
        QCOMPARE(cam.values[i], saved[i]);
    }
    const QString png = m_dir.filePath(QStringLiteral("cam.png"));
    QVERIFY2(input->exportCam(png, &error), qPrintable(error));
    QCOMPARE(QImage(png).size(), QSize(28, 28));
    QVERIFY(!input->exportCam(m_dir.filePath(QStringLiteral("cam.jpg")), &error));
    QVERIFY(error.contains(QLatin1String(".npy")));
}

// Run > Compute Statistics (Ctrl+Shift+R): every node summarised in the Statistics dock, the same numbers as
// the maps of a run, the graph coloured by a statistic, a row click jumps to its node.
void MainWindowTest::statisticsColourTheGraphAndAgreeWithTheMaps()
{
    m_window->addReturnNode(QStringLiteral("features.block1.relu"), QStringLiteral("relu1"));
    m_window->setImage(kImage);
    runAndWait();
    const FeatureTensor& relu = m_window->results()->view(0)->tensor();

    QSignalSpy finished(m_window.get(), &MainWindow::statisticsFinished);
    QAction* compute = actionWithShortcut(QStringLiteral("Ctrl+Shift+R"));
    QVERIFY(compute);
    compute->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QVERIFY2(finished.first().first().toBool(), qPrintable(m_window->lastError()));
    StatisticsPanel* panel = m_window->statisticsPanel();
    QVERIFY(panel->isVisible());
    const QStringList names = m_window->document()->model().graph(featscope::Mode::Eval).names;
    QCOMPARE(panel->model()->rowCount(), names.size()); // every node of this CNN is a tensor
    int row = -1;
    for (int r = 0; r < panel->model()->rowCount(); ++r)
        if (panel->model()->nodes()[r].name == QLatin1String("features.block1.relu"))
            row = r;
    QVERIFY(row >= 0);
    const NodeSummary& summary = panel->model()->nodes()[row];
    const auto range = relu.range();
    QCOMPARE(summary.shape, relu.shape());
    QVERIFY(std::abs(*summary.max - range.second) < 1e-5);
    QCOMPARE(*summary.min, 0.0);
    const qint64 zeros = std::count(relu.data().cbegin(), relu.data().cend(), 0.f);
    QVERIFY(std::abs(*summary.zeros - double(zeros) / relu.data().size()) < 1e-9);

    panel->setColouring(NodeStatisticsModel::ZerosColumn);
    QVERIFY(graphItem(QStringLiteral("features.block1.relu"))->valueFill().isValid());
    QVERIFY(graphItem(QStringLiteral("features.block1.relu"))->valueFill() != graphItem(kNode)->valueFill());
    panel->setColouring(-1);
    QVERIFY(!graphItem(QStringLiteral("features.block1.relu"))->valueFill().isValid());

    QTableView* table = panel->table();
    table->setCurrentIndex(table->model()->index(3, 0));
    const QString chosen = table->model()->index(3, 0).data().toString();
    QCOMPARE(m_window->graphPanel()->currentNode(), chosen);
    QCOMPARE(panel->histogram()->plottableCount(), 1);
}

// Top images: Run > Find Top Images shows the dock; Find ranks a folder's images by one channel in
// featscope-cli, with progress; the thumbnails come best first, and the map the CLI gave the best one is
// the map a run of the engine shows for that channel on that image. A double-click opens the image.
void MainWindowTest::topImagesOfAFolderWithTheirMaps()
{
    const QString node = QStringLiteral("features.block3.relu");
    const int channel = 29;
    const QDir images(m_dir.filePath(QStringLiteral("images")));
    QVERIFY(QDir().mkpath(images.path()));
    const QDir samples(QStringLiteral(FEATSCOPE_SOURCE_DIR "/resources/images"));
    for (const QString& name : samples.entryList({QStringLiteral("*.png")}, QDir::Files))
        QVERIFY(QFile::copy(samples.filePath(name), images.filePath(name)));
    const int imageCount = int(images.entryList(QDir::Files).size());
    QVERIFY(imageCount >= 5);

    m_window->addReturnNode(node, QStringLiteral("block3"));
    m_window->setImage(kImage);
    runAndWait();
    QAction* findTopImages = actionWithShortcut(QStringLiteral("Ctrl+Shift+T"));
    QVERIFY(findTopImages);
    findTopImages->trigger();
    TopImagesPanel* panel = m_window->topImagesPanel();
    QVERIFY(panel->isVisible());
    panel->search()->setCacheFolder(m_dir.filePath(QStringLiteral("cache")));
    m_window->results()->view(0)->setLargeChannel(channel); // the shown channel is the one suggested
    panel->setFolderChooser([&] { return images.path(); });
    QTest::mouseClick(panel->findChildren<QPushButton*>().first(), Qt::LeftButton); // Browse…
    auto* count = panel->findChildren<QSpinBox*>().at(1);
    count->setValue(3);

    QSignalSpy progress(panel->search(), &TopImagesSearch::progress);
    QSignalSpy changed(m_window->document(), &ModelDocument::topImagesChanged);
    QTest::mouseClick(panel->findChild<QPushButton*>(QStringLiteral("findTopImages")), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(changed.count() == 1, 120000);
    QVERIFY(!progress.isEmpty());
    QCOMPARE(progress.last().at(0).toInt(), imageCount);
    QCOMPARE(progress.last().at(1).toInt(), imageCount);

    const TopImages& top = m_window->document()->topImages();
    QCOMPARE(top.node, node);
    QCOMPARE(top.channel, channel);
    QCOMPARE(top.imagesRanked, imageCount);
    QCOMPARE(top.top.size(), 3);
    QCOMPARE(panel->thumbnails()->count(), 3);
    for (int i = 1; i < top.top.size(); ++i)
        QVERIFY(top.top[i - 1].score >= top.top[i].score);

    // The best image's map from the CLI equals the engine's map of that channel on that image.
    const TopImages::Image best = top.top.first();
    const QPoint first = panel->thumbnails()->visualItemRect(panel->thumbnails()->item(0)).center();
    QTest::mouseClick(panel->thumbnails()->viewport(), Qt::LeftButton, {}, first);
    QTest::mouseDClick(panel->thumbnails()->viewport(), Qt::LeftButton, {}, first);
    QCOMPARE(m_window->document()->imagePath(), QFileInfo(best.path).absoluteFilePath());
    runAndWait();
    const FeatureTensor& maps = m_window->results()->view(0)->tensor();
    QCOMPARE(maps.height(), best.height);
    QCOMPARE(maps.width(), best.width);
    double largest = 0, mean = 0;
    for (int i = 0; i < best.height * best.width; ++i) {
        largest = std::max(largest, double(std::abs(maps.plane(channel)[i] - best.map[i])));
        mean += maps.plane(channel)[i];
    }
    QVERIFY2(largest < 1e-4, qPrintable(QString::number(largest)));
    QVERIFY(std::abs(mean / (best.height * best.width) - best.score) < 1e-4);

    // The CLI's refusal reaches the panel, and the last result stays.
    QSignalSpy finished(panel->search(), &TopImagesSearch::finished);
    panel->findChildren<QComboBox*>().first()->setCurrentText(QStringLiteral("no.such.node"));
    QVERIFY(panel->find());
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QVERIFY(!finished.first().first().toBool());
    QVERIFY2(finished.first().at(1).toString().contains(QStringLiteral("There is no node 'no.such.node'")),
             qPrintable(finished.first().at(1).toString()));
    QCOMPARE(m_window->document()->topImages().top.size(), 3);

    // Opening another model starts the panel over: no result, and no node of the last model, neither the one
    // typed nor one of the maps shown (two tabs, so that closing one would make the other current).
    m_window->addReturnNode(QStringLiteral("features.block1.relu"), QStringLiteral("block1"));
    runAndWait();
    QCOMPARE(m_window->results()->outputCount(), 2);
    const QString other = makeStructuredModel();
    QVERIFY(!other.isEmpty());
    openAndWait(other);
    QVERIFY(m_window->document()->topImages().isEmpty());
    QCOMPARE(panel->thumbnails()->count(), 0);
    const QString nodeAfter = panel->findChildren<QComboBox*>().first()->currentText();
    QVERIFY2(nodeAfter != QStringLiteral("no.such.node") && !nodeAfter.startsWith(QStringLiteral("features.")), qPrintable(nodeAfter));
}

// Compare two images: pin the maps of one, run on the other, look at their difference on one scale.
void MainWindowTest::aPinnedRunComparesTwoImages()
{
    chooseTwoOutputsAndImage();
    runAndWait();
    const QVector<float> bag = m_window->results()->view(0)->largeValues();
    QTest::mouseClick(m_window->results()->findChild<QPushButton*>(QStringLiteral("pinReference")), Qt::LeftButton);
    QVERIFY(m_window->results()->hasReference());
    m_window->setImage(QDir::cleanPath(QStringLiteral(FEATSCOPE_SOURCE_DIR "/resources/images/sneaker_9.png")));
    runAndWait();
    FeatureMapView* conv = m_window->results()->view(0);
    QVERIFY(conv->hasReference());
    const QVector<float> sneaker = conv->largeValues();
    QVERIFY(sneaker != bag);
    conv->setComparison(Comparison::Reference);
    QCOMPARE(conv->largeValues(), bag);
    conv->setComparison(Comparison::Difference);
    const QVector<float> difference = conv->largeValues();
    for (qsizetype i = 0; i < difference.size(); ++i)
        QCOMPARE(difference[i], sneaker[i] - bag[i]);
    QTest::mouseClick(m_window->results()->findChild<QPushButton*>(QStringLiteral("unpinReference")), Qt::LeftButton);
    QVERIFY(!conv->hasReference());
}

// File > Compare with Model: the same file compared with itself agrees on every node; a file that is no model
// gets an error naming it, and the window goes on.
void MainWindowTest::compareWithModelListsEveryNode()
{
    m_window->setImage(kImage);
    QSignalSpy finished(m_window.get(), &MainWindow::comparisonFinished);
    m_window->compareWithModel(kModel);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QVERIFY2(finished.first().first().toBool(), qPrintable(m_window->lastError()));
    const ModelComparison& comparison = m_window->document()->comparison();
    QCOMPARE(comparison.nodes.size(), m_window->document()->model().graph(featscope::Mode::Eval).names.size());
    QCOMPARE(comparison.firstDivergent, QString());
    for (const ModelComparison::Node& node : comparison.nodes) {
        QCOMPARE(*node.maxAbs, 0.0);
        QVERIFY(!node.divergent);
    }
    QVERIFY(m_window->comparisonPanel()->isVisible());
    QCOMPARE(m_window->comparisonPanel()->table()->rowCount(), comparison.nodes.size());
    QCOMPARE(graphItem(kNode)->valueFill(), m_window->comparisonPanel()->nodeColours().value(kNode));
    QVERIFY(graphItem(kNode)->valueFill().isValid());

    const QString notAModel = m_dir.filePath(QStringLiteral("notes.pt"));
    QFile file(notAModel);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("not a model");
    file.close();
    m_window->compareWithModel(notAModel);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 2, 60000);
    QVERIFY(!finished.last().first().toBool());
    QVERIFY2(m_window->lastError().contains(QLatin1String("notes.pt")), qPrintable(m_window->lastError()));
    QVERIFY(m_window->document()->hasModel());
}

void MainWindowTest::exportAndLoadBack()
{
    chooseTwoOutputsAndImage();
    runAndWait();
    const QString png = m_dir.filePath(QStringLiteral("maps.png"));
    QVERIFY(m_window->exportMapsPng(png));
    QVERIFY(!QImage(png).isNull());
    QVERIFY(m_window->exportTensors(m_dir.path()));
    QFile npy(m_dir.filePath(QStringLiteral("conv1.npy")));
    QVERIFY(npy.open(QIODevice::ReadOnly));
    const QByteArray head = npy.read(128);
    QVERIFY(head.startsWith("\x93NUMPY"));
    QVERIFY(head.contains("'shape': (1, 32, 28, 28)"));
    QCOMPARE(npy.size(), qint64(128 + 32 * 28 * 28 * 4));

    const QString extractor = m_dir.filePath(QStringLiteral("extractor.pt"));
    QSignalSpy exported(m_window.get(), &MainWindow::exportFinished);
    m_window->exportExtractor(extractor);
    QTRY_VERIFY_WITH_TIMEOUT(exported.count() == 1, 60000);
    QVERIFY2(exported.first().first().toBool(), qPrintable(m_window->lastError()));
    QVERIFY(QFile::exists(extractor));

    // The exported extractor opens through the engine like any model, then go back.
    openAndWait(extractor);
    QCOMPARE(m_window->document()->model().file, extractor);
    QVERIFY(m_window->document()->model().graph(Mode::Eval).names.contains(kNode));
    QVERIFY(!m_window->document()->model().graph(Mode::Eval).names.contains(QStringLiteral("classifier.fc")));
    openAndWait(kModel);
    QCOMPARE(m_window->document()->returnNodes()->entries().size(), 2); // restored from the settings
}

void MainWindowTest::engineKilledMidRunKeepsWindow()
{
    chooseTwoOutputsAndImage();
    EngineClient* engine = m_window->engine();
    restartEngineWith({QStringLiteral("--debug-run-delay-ms"), QStringLiteral("20000")});
    const int nodesBefore = int(m_window->graphPanel()->scene()->nodeItems().size());
    QSignalSpy finished(m_window.get(), &MainWindow::runFinished);
    m_window->run();
    QVERIFY(m_window->controller()->isRunning());
    // Wait until the engine is serving the run itself, not the replay of the model load before it.
    QTRY_VERIFY_WITH_TIMEOUT(engine->processId() != 0 && m_window->controller()->isRunning()
                                 && engine->currentRequest() == m_window->controller()->runRequestId() && finished.isEmpty(), 30000);
    QTest::qWait(1500); // inside the run's sleep
    QVERIFY(finished.isEmpty());
    ::kill(pid_t(engine->processId()), SIGKILL);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5000);
    QCOMPARE(finished.first().first().toBool(), false);
    QVERIFY2(m_window->lastError().contains(QStringLiteral("crashed")), qPrintable(m_window->lastError()));
    QVERIFY(m_window->isVisible());
    QCOMPARE(m_window->document()->returnNodes()->entries().size(), 2);
    QCOMPARE(int(m_window->graphPanel()->scene()->nodeItems().size()), nodesBefore);
    QVERIFY(m_window->findChild<QLabel*>(QStringLiteral("errorBanner"))->isVisible());

    // The engine restarts for the next request and the model is back.
    engine->setArguments({});
    finished.clear();
    m_window->run();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QVERIFY2(finished.first().first().toBool(), qPrintable(m_window->lastError()));
    QCOMPARE(m_window->results()->outputCount(), 2);
}

void MainWindowTest::cancelStopsRunWithinASecond()
{
    chooseTwoOutputsAndImage();
    EngineClient* engine = m_window->engine();
    restartEngineWith({QStringLiteral("--debug-run-delay-ms"), QStringLiteral("20000")});
    QSignalSpy finished(m_window.get(), &MainWindow::runFinished);
    m_window->run();
    QTRY_VERIFY_WITH_TIMEOUT(m_window->imagePanel()->cancelButton()->isEnabled() && engine->processId() != 0
                                 && engine->currentRequest() == m_window->controller()->runRequestId(), 30000);
    QTest::qWait(1500);
    QElapsedTimer timer;
    timer.start();
    QTest::mouseClick(m_window->imagePanel()->cancelButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 1000);
    QVERIFY(timer.elapsed() < 1000);
    QCOMPARE(finished.first().first().toBool(), false);
    QVERIFY(!m_window->controller()->isRunning());
    QVERIFY(m_window->imagePanel()->runButton()->isEnabled());
}

void MainWindowTest::hungRunTimesOut()
{
    chooseTwoOutputsAndImage();
    restartEngineWith({QStringLiteral("--debug-run-delay-ms"), QStringLiteral("20000")});
    m_window->controller()->setRunTimeout(3000);
    QSignalSpy finished(m_window.get(), &MainWindow::runFinished);
    m_window->run();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 15000);
    QCOMPARE(finished.first().first().toBool(), false);
    QVERIFY2(m_window->lastError().contains(QStringLiteral("did not answer")), qPrintable(m_window->lastError()));
}

void MainWindowTest::engineTimeCapAnswersOnceAndRecovers()
{
    chooseTwoOutputsAndImage();
    EngineClient* engine = m_window->engine();
    restartEngineWith({QStringLiteral("--debug-run-delay-ms"), QStringLiteral("20000"), QStringLiteral("--run-seconds"),
                       QStringLiteral("2")});
    QSignalSpy finished(m_window.get(), &MainWindow::runFinished);
    m_window->run();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 30000);
    QCOMPARE(finished.first().first().toBool(), false);
    const QString error = m_window->lastError();
    QVERIFY2(error.contains(QStringLiteral("FEATSCOPE_RUN_SECONDS")), qPrintable(error));
    // The engine ends itself after answering; that exit is expected and must not replace the message.
    QTRY_COMPARE_WITH_TIMEOUT(engine->processId(), qint64(0), 5000);
    QTest::qWait(300);
    QCOMPARE(m_window->lastError(), error);
    QCOMPARE(m_window->document()->returnNodes()->entries().size(), 2);

    engine->setArguments({});
    finished.clear();
    m_window->run();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QVERIFY2(finished.first().first().toBool(), qPrintable(m_window->lastError()));
}

void MainWindowTest::brokenModelFileGivesError()
{
    chooseTwoOutputsAndImage();
    const QString broken = m_dir.filePath(QStringLiteral("broken.pt"));
    QFile f(broken);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray(4096, '\x42'));
    f.close();
    QSignalSpy loaded(m_window.get(), &MainWindow::modelLoaded);
    m_window->openModel(broken);
    QTRY_VERIFY_WITH_TIMEOUT(loaded.count() == 1, 30000);
    QCOMPARE(loaded.first().first().toBool(), false);
    QVERIFY(m_window->lastError().contains(QStringLiteral("broken.pt")));
    // The previous model is still open and usable.
    QCOMPARE(m_window->document()->model().file, kModel);
    QSignalSpy finished(m_window.get(), &MainWindow::runFinished);
    m_window->run();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QVERIFY2(finished.first().first().toBool(), qPrintable(m_window->lastError()));
}

// A window's first model is read by its engine alone (readInEngine); a file that crashes LibTorch then crashes
// that engine, which held nothing, and the load is asked again through the reader: the user sees the reader's
// error naming the file, not an engine crash, and the next model opens as usual.
void MainWindowTest::aFileThatCrashesLibTorchIsTheReadersErrorInAFreshWindow()
{
    const QString crashing = m_dir.filePath(QStringLiteral("deep_nesting.pt"));
    const QString script = QStringLiteral(
        "import sys\n"
        "sys.path.insert(0, sys.argv[3])\n"
        "import make_bad_models as bad\n"
        "bad.rewrite_archive(sys.argv[1], sys.argv[2], {'data.pkl': bad.deep_list_pickle(2_000_000)})\n");
    QVERIFY(runPython(QStringLiteral("make_crashing.py"), script,
                      {kModel, crashing, QStringLiteral(FEATSCOPE_SOURCE_DIR "/tests/reliability")}));
    m_window.reset();
    showNewWindow();
    QSignalSpy loaded(m_window.get(), &MainWindow::modelLoaded);
    QSignalSpy stopped(m_window->engine(), &EngineClient::engineStopped);
    m_window->openModel(crashing);
    QTRY_VERIFY_WITH_TIMEOUT(loaded.count() == 1, 60000);
    QCOMPARE(loaded.first().first().toBool(), false);
    QVERIFY2(m_window->lastError().contains(QStringLiteral("LibTorch crashed while reading it")), qPrintable(m_window->lastError()));
    QVERIFY2(m_window->lastError().contains(crashing), qPrintable(m_window->lastError()));
    QVERIFY2(!m_window->lastError().contains(QStringLiteral("engine crashed")), qPrintable(m_window->lastError()));
    QCOMPARE(stopped.count(), 0);
    openAndWait(kModel);
    QCOMPARE(m_window->document()->model().file, kModel);
}

void MainWindowTest::unsafeModelAsksBeforeRunning()
{
    const QString model = m_dir.filePath(QStringLiteral("saver.pt"));
    const QString canary = m_dir.filePath(QStringLiteral("canary.pt"));
    const QString script = QStringLiteral(
        "import sys, torch\n"
        "class Saver(torch.nn.Module):\n"
        "    def __init__(self, canary: str):\n"
        "        super().__init__(); self.conv = torch.nn.Conv2d(3, 2, 3); self.canary = canary\n"
        "    def forward(self, x):\n"
        "        y = self.conv(x)\n"
        "        torch.save(y, self.canary)\n"
        "        return y\n"
        "torch.jit.script(Saver(sys.argv[2])).save(sys.argv[1])\n");
    QVERIFY(runPython(QStringLiteral("make_saver.py"), script, {model, canary}));

    openAndWait(model);
    QVERIFY(!m_window->document()->model().unsafeOps.isEmpty());
    QVERIFY(m_window->document()->model().unsafeOps.first().contains(QStringLiteral("aten::save")));
    m_window->document()->returnNodes()->clearAll();
    m_window->addReturnNode(QStringLiteral("conv"));
    m_window->setImage(kImage);

    QStringList asked;
    m_window->setUnsafeOpsConfirmation([&asked](const QStringList& ops) { asked = ops; return false; });
    QSignalSpy finished(m_window.get(), &MainWindow::runFinished);
    m_window->run();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 30000);
    QCOMPARE(finished.first().first().toBool(), false);
    QVERIFY(!asked.isEmpty());
    QVERIFY(m_window->lastError().contains(QStringLiteral("did not allow")));
    QVERIFY(!QFile::exists(canary));

    m_window->setUnsafeOpsConfirmation([](const QStringList&) { return true; });
    m_window->run();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 2, 60000);
    QVERIFY2(finished.last().first().toBool(), qPrintable(m_window->lastError()));
    QVERIFY(QFile::exists(canary));
}

void MainWindowTest::restartRestoresSelection()
{
    chooseTwoOutputsAndImage();
    const auto before = m_window->document()->returnNodes()->entries();
    m_window->preprocessing()->setValue([] {
        Preprocessing p;
        p.resize = 32;
        p.centerCrop = 28;
        p.channels = 1;
        p.mean = {0.25};
        p.std = {0.5};
        return p;
    }());
    m_window->close(); // saves the settings, like a user quitting
    m_window.reset();

    showNewWindow();
    openAndWait(kModel);
    const auto after = m_window->document()->returnNodes()->entries();
    QCOMPARE(after.size(), before.size());
    for (int i = 0; i < after.size(); ++i) {
        QCOMPARE(after[i].node, before[i].node);
        QCOMPARE(after[i].key, before[i].key);
    }
    QCOMPARE(m_window->document()->returnNodes()->entries().first().key, QStringLiteral("conv1"));
    QCOMPARE(m_window->document()->imagePath(), kImage);
    QCOMPARE(m_window->preprocessing()->value().resize, 32);
    QVERIFY(m_window->preprocessing()->value().mean == std::vector<double>{0.25});
    QTRY_VERIFY(graphItem(kNode) && graphItem(kNode)->isTicked());
}

void MainWindowTest::separateTrainEvalExport()
{
    // Separate selections: eval keeps block1's conv, train gets block3; the export carries both.
    m_window->addReturnNode(kNode, QStringLiteral("early"));
    m_window->findChild<QCheckBox*>()->setChecked(true);
    QVERIFY(m_window->document()->returnNodes()->separateModes());
    m_window->setMode(Mode::Train);
    QCOMPARE(m_window->document()->returnNodes()->entries().size(), 1); // both lists start from the shared one
    m_window->addReturnNode(QStringLiteral("features.block3"), QStringLiteral("late"));
    QCOMPARE(m_window->document()->returnNodes()->entries(Mode::Train).size(), 2);
    QCOMPARE(m_window->document()->returnNodes()->entries(Mode::Eval).size(), 1);
    const QString extractor = m_dir.filePath(QStringLiteral("separate.pt"));
    QSignalSpy exported(m_window.get(), &MainWindow::exportFinished);
    m_window->exportExtractor(extractor);
    QTRY_VERIFY_WITH_TIMEOUT(exported.count() == 1, 60000);
    QVERIFY2(exported.first().first().toBool(), qPrintable(m_window->lastError()));
    // Train mode runs through block3, eval mode only to block1: the train graph is longer.
    openAndWait(extractor);
    QVERIFY(m_window->document()->model().graph(Mode::Train).names.contains(QStringLiteral("features.block3.pool")));
    QVERIFY(!m_window->document()->model().graph(Mode::Eval).names.contains(QStringLiteral("features.block3.pool")));
}


// The window checks preprocessing with protocol::Preprocessing::validate, the rule the engine and the CLI
// apply, so a value the engine would refuse never reaches it.
void MainWindowTest::invalidPreprocessingIsRefusedByTheEnginesRule()
{
    chooseTwoOutputsAndImage();
    Preprocessing p = m_window->preprocessing()->value();
    p.std = {0.0};
    m_window->preprocessing()->setValue(p);
    QSignalSpy finished(m_window.get(), &MainWindow::runFinished);
    m_window->run();
    QCOMPARE(finished.count(), 1);
    QCOMPARE(finished.first().first().toBool(), false);
    QVERIFY2(m_window->lastError().contains(QStringLiteral("std values must be finite and non-zero")),
             qPrintable(m_window->lastError()));
}

QString MainWindowTest::makeStructuredModel()
{
    const QString model = m_dir.filePath(QStringLiteral("structured.pt"));
    const QString script = QStringLiteral(
        "import sys, torch, torchvision\n"
        "from collections import OrderedDict\n"
        "from torchvision.ops.feature_pyramid_network import LastLevelMaxPool\n"
        "def scale(x):\n"
        "    return x * 2 + 1\n"
        "class Structured(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.stem = torch.nn.Conv2d(3, 4, 3, stride=4, padding=1)\n"
        "        self.down = torch.nn.Conv2d(4, 8, 3, stride=2, padding=1)\n"
        "        self.fpn = torchvision.ops.FeaturePyramidNetwork([4, 8], 4, extra_blocks=LastLevelMaxPool())\n"
        "        self.attn = torch.nn.MultiheadAttention(4, 1, batch_first=True)\n"
        "    def forward(self, x):\n"
        "        c1 = self.stem(x)\n"
        "        levels = self.fpn(OrderedDict([('0', c1), ('1', self.down(c1))]))\n"
        "        tokens = levels['pool'].flatten(2).transpose(1, 2)\n"
        "        attended = self.attn(tokens, tokens, tokens, need_weights=False)\n"
        "        return scale(attended[0].sum(1)) * tokens.size(1)\n"
        "torch.manual_seed(0)\n"
        "torch.jit.script(Structured().eval()).save(sys.argv[1])\n");
    return runPython(QStringLiteral("make_structured.py"), script, {model}) ? model : QString();
}

bool MainWindowTest::runPython(const QString& name, const QString& script, const QStringList& arguments)
{
    // torch.jit.script reads the class's source, so the script must be a file.
    const QString scriptPath = m_dir.filePath(name);
    QFile scriptFile(scriptPath);
    if (!scriptFile.open(QIODevice::WriteOnly))
        return false;
    scriptFile.write(script.toUtf8());
    scriptFile.close();
    QProcess python;
    python.start(QStringLiteral("/usr/bin/python3"), QStringList{scriptPath} + arguments);
    if (!python.waitForFinished(120000) || python.exitStatus() != QProcess::NormalExit || python.exitCode() != 0) {
        qWarning() << python.readAllStandardError();
        return false;
    }
    return true;
}

// torchvision returns any node; the window shows every tensor of a node's value as maps of its own and the
// rest as text, with the same rule for the return-node rows as the engine's.
void MainWindowTest::structuredOutputsShowEachTensorAndTheRestAsText()
{
    const QString model = makeStructuredModel();
    QVERIFY(!model.isEmpty());
    openAndWait(model);
    ReturnNodesModel* returns = m_window->document()->returnNodes();
    returns->clearAll();
    m_window->addReturnNode(QStringLiteral("fpn"), QStringLiteral("levels"));
    m_window->addReturnNode(QStringLiteral("attn"));
    m_window->addReturnNode(QStringLiteral("size"));
    for (const auto& entry : returns->entries())
        QVERIFY2(entry.severity == 0, qPrintable(entry.message)); // no "not a tensor" refusal
    m_window->setImage(kImage);
    runAndWait();

    // 224 px in (ImageNet's preprocessing): stem 56, down 28, the pool level 14.
    ResultsPanel* results = m_window->results();
    QStringList keys;
    for (int i = 0; i < results->outputCount(); ++i)
        keys.append(results->view(i)->output().key);
    QCOMPARE(keys, (QStringList{QStringLiteral("levels['0']"), QStringLiteral("levels['1']"), QStringLiteral("levels['pool']"),
                                QStringLiteral("attn[0]")}));
    const FeatureMapView* pool = results->view(2);
    QCOMPARE(pool->output().node, QStringLiteral("fpn"));
    QCOMPARE(pool->output().path, QStringLiteral("['pool']"));
    QCOMPARE(pool->output().shapeText(), QStringLiteral("1×4×14×14"));
    QCOMPARE(pool->shownMaps(), 4);
    QCOMPARE(results->view(0)->tensor().height(), 56);
    QCOMPARE(results->view(3)->output().shapeText(), QStringLiteral("1×196×4"));
    QCOMPARE(results->tabs()->tabText(0), QStringLiteral("levels['0']  [1×4×56×56]"));

    // What is no tensor is listed as text, in a last tab: the attention's weights (None) and the token count.
    QTableWidget* texts = results->textOutputs();
    QVERIFY(texts);
    QCOMPARE(results->tabs()->count(), 5);
    QCOMPARE(results->tabs()->widget(4), texts);
    QCOMPARE(texts->rowCount(), 2);
    QCOMPARE(texts->item(0, 0)->text(), QStringLiteral("attn[1]"));
    QCOMPARE(texts->item(0, 2)->text(), QStringLiteral("NoneType"));
    QCOMPARE(texts->item(0, 3)->text(), QStringLiteral("None"));
    QCOMPARE(texts->item(1, 0)->text(), QStringLiteral("size"));
    QCOMPARE(texts->item(1, 2)->text(), QStringLiteral("int"));
    QCOMPARE(texts->item(1, 3)->text(), QStringLiteral("196"));
    // The graph says what each node gave.
    QCOMPARE(graphItem(QStringLiteral("fpn"))->shapeText(), QStringLiteral("3 values"));
    QCOMPARE(graphItem(QStringLiteral("size"))->shapeText(), QStringLiteral("196"));
    // A CAM needs maps: only tensor nodes are offered (none here).
    QCOMPARE(m_window->inputPanel()->findChild<QPushButton*>(QStringLiteral("explain"))->isEnabled(), false);

    // Layouts, PNG and .npy work per tab as for any output.
    results->tabs()->setCurrentIndex(2);
    QVERIFY(results->currentView()->setLayout(QStringLiteral("nchw")));
    QCOMPARE(results->currentView()->layoutChoice(), QStringLiteral("nchw"));
    QVERIFY(m_window->exportMapsPng(m_dir.filePath(QStringLiteral("pool.png"))));
    QVERIFY(!QImage(m_dir.filePath(QStringLiteral("pool.png"))).isNull());
    QVERIFY(m_window->exportTensors(m_dir.path()));
    QFile npy(m_dir.filePath(QStringLiteral("levels__pool__.npy")));
    QVERIFY(npy.open(QIODevice::ReadOnly));
    QVERIFY(npy.read(128).contains("'shape': (1, 4, 14, 14)"));
    QVERIFY(QFile::exists(m_dir.filePath(QStringLiteral("attn_0_.npy"))));
}

// Model > Load Options, as a person uses it: the dialog warns that an op library is trusted native code, and
// loading again with a leaf function makes its call one node; the options stay with the file.
void MainWindowTest::loadOptionsActionReloadsWithLeafFunctionsAndLibraries()
{
    const QString model = makeStructuredModel();
    QVERIFY(!model.isEmpty());
    openAndWait(model);
    QVERIFY(!m_window->document()->model().graph(Mode::Eval).names.contains(QStringLiteral("scale")));
    QAction* action = nullptr;
    for (QAction* candidate : m_window->findChildren<QAction*>())
        if (candidate->text() == QStringLiteral("&Load Options…"))
            action = candidate;
    QVERIFY(action);

    // Answers the dialog the action opens (it blocks in exec()) with `fill`, then accepts it.
    QString warning;
    const auto answerDialog = [&warning](std::function<void(LoadOptionsDialog*)> fill) {
        auto* poll = new QTimer;
        poll->setInterval(20);
        QObject::connect(poll, &QTimer::timeout, [poll, fill, &warning] {
            auto* dialog = qobject_cast<LoadOptionsDialog*>(QApplication::activeModalWidget());
            if (!dialog || !dialog->isVisible())
                return;
            poll->stop();
            poll->deleteLater();
            warning = dialog->findChild<QLabel*>(QStringLiteral("trustWarning"))->text();
            fill(dialog);
            dialog->accept();
        });
        poll->start();
    };

    QSignalSpy loaded(m_window.get(), &MainWindow::modelLoaded);
    answerDialog([](LoadOptionsDialog* dialog) {
        dialog->findChild<QPlainTextEdit*>(QStringLiteral("leafFunctions"))->setPlainText(QStringLiteral(" scale \n\nscale"));
    });
    action->trigger();
    QVERIFY(warning.contains(QStringLiteral("native code")));
    QTRY_VERIFY_WITH_TIMEOUT(loaded.count() == 1, 60000);
    QVERIFY2(loaded.last().first().toBool(), qPrintable(m_window->lastError()));
    QCOMPARE(m_window->document()->loadOptions().leafFunctions, QStringList{QStringLiteral("scale")});
    QVERIFY(m_window->document()->model().graph(Mode::Eval).names.contains(QStringLiteral("scale")));

    // A library that is not there: the load fails naming it, and the model and its options stay.
    const QString missing = m_dir.filePath(QStringLiteral("libmissing_ops.so"));
    answerDialog([missing](LoadOptionsDialog* dialog) {
        dialog->findChild<QPlainTextEdit*>(QStringLiteral("opsLibraries"))->setPlainText(missing);
    });
    action->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(loaded.count() == 2, 60000);
    QCOMPARE(loaded.last().first().toBool(), false);
    QVERIFY2(m_window->lastError().contains(QStringLiteral("libmissing_ops.so")), qPrintable(m_window->lastError()));
    QCOMPARE(m_window->document()->model().file, model);
    QCOMPARE(m_window->document()->loadOptions().opsLibraries, QStringList());

    // torchvision's op library, chosen by hand: loaded as trusted, said so in the Model panel.
    const QStringList torchvisionOps = QDir(QStringLiteral("/usr/lib/python3/dist-packages/torchvision"))
                                           .entryList({QStringLiteral("_C*.so")}, QDir::Files);
    QVERIFY2(!torchvisionOps.isEmpty(), "python3-torchvision's op library (scripts/setup.sh installs it)");
    const QString library = QStringLiteral("/usr/lib/python3/dist-packages/torchvision/") + torchvisionOps.first();
    answerDialog([library](LoadOptionsDialog* dialog) {
        dialog->findChild<QPlainTextEdit*>(QStringLiteral("opsLibraries"))->setPlainText(library);
    });
    action->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(loaded.count() == 3, 60000);
    QVERIFY2(loaded.last().first().toBool(), qPrintable(m_window->lastError()));
    QCOMPARE(m_window->document()->model().opsLibraries.size(), 1);
    QVERIFY(m_window->document()->model().opsLibraries.first().contains(QStringLiteral("chosen in the inspector")));
    QVERIFY(m_window->findChild<QLabel*>(QStringLiteral("modelInfo"))->text().contains(QStringLiteral("trusted op libraries")));

    // The options stay with the file: opened again (another model in between), it gets them without asking.
    openAndWait(kModel);
    QVERIFY(m_window->document()->loadOptions().isEmpty());
    openAndWait(model);
    QCOMPARE(m_window->document()->loadOptions().leafFunctions, QStringList{QStringLiteral("scale")});
    QCOMPARE(m_window->document()->loadOptions().opsLibraries, QStringList{library});
    QVERIFY(m_window->document()->model().graph(Mode::Eval).names.contains(QStringLiteral("scale")));
}

QTEST_MAIN(MainWindowTest)
#include "MainWindowTest.moc"
