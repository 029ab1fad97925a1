// GUI tests of a session as a person has it: a fresh main window per test (offscreen), driven through its
// menus, buttons, keys and the wheel, against the real featscope-engine.

#include "FeatureMapView.h"
#include "GraphNodeItem.h"
#include "GraphPanel.h"
#include "GraphScene.h"
#include "GraphView.h"
#include "DocumentPanels.h"
#include "EngineClient.h"
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

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QCompleter>
#include <QAbstractItemView>
#include <QDockWidget>
#include <QLabel>
#include <QMenu>
#include <QRegularExpression>
#include <QSpinBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QHeaderView>
#include <QLineEdit>
#include <QMenuBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QThreadPool>
#include <QTest>
#include <QTimer>
#include <QTreeView>
#include <QWheelEvent>

#include <memory>

using namespace featscope::ui;

namespace {

const QString kModel = QDir::cleanPath(QStringLiteral(FEATSCOPE_SOURCE_DIR "/resources/models/fashion_cnn.pt"));
const QString kImage = QDir::cleanPath(QStringLiteral(FEATSCOPE_SOURCE_DIR "/resources/images/bag_18.png"));

/// The menu action whose shortcut is `keys`, as the key press would find it.
QAction* actionFor(QWidget* window, const QKeySequence& keys)
{
    for (QAction* action : window->findChildren<QAction*>())
        if (action->shortcut() == keys)
            return action;
    return nullptr;
}

/// Answers the next file dialog with `path` once it is shown (the action that opens it blocks in exec()).
void answerNextFileDialog(const QString& path)
{
    auto* poll = new QTimer;
    poll->setInterval(50);
    auto answered = std::make_shared<bool>(false);
    QObject::connect(poll, &QTimer::timeout, [poll, path, answered] {
        auto* dialog = qobject_cast<QFileDialog*>(QApplication::activeModalWidget());
        if (!dialog || !dialog->isVisible()) {
            if (*answered) {
                poll->stop();
                poll->deleteLater();
            }
            return;
        }
        // The dialog reads its folder in the background; type the full path, as a person would, until it takes it.
        *answered = true;
        auto* name = dialog->findChild<QLineEdit*>(QStringLiteral("fileNameEdit"));
        if (name)
            name->setText(path);
        else
            dialog->selectFile(path);
        static_cast<QDialog*>(dialog)->accept(); // public in QDialog
    });
    poll->start();
}

/// Types `text` into the add-node field and presses Enter, then closes the completer's popup as a click elsewhere
/// would (offscreen it stays the active window and keeps the keys). False when the window does not get the keys back.
bool typeNode(QLineEdit* add, const QString& text)
{
    add->setFocus();
    QTest::keyClicks(add, text);
    QTest::keyClick(add, Qt::Key_Return);
    if (add->completer() && add->completer()->popup()->isVisible())
        add->completer()->popup()->hide();
    add->window()->activateWindow();
    return QTest::qWaitForWindowActive(add->window());
}

void wheelOver(QWidget* widget, int steps)
{
    const QPointF at(widget->width() / 2.0, widget->height() / 2.0);
    for (int i = 0; i < std::abs(steps); ++i) {
        QWheelEvent event(at, widget->mapToGlobal(at), QPoint(), QPoint(0, steps > 0 ? 120 : -120), Qt::NoButton,
                          Qt::NoModifier, Qt::NoScrollPhase, false);
        QApplication::sendEvent(widget, &event);
    }
}

} // namespace

class InspectorSessionTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();
    void openingAnotherModelReplacesEverythingOfTheFirst();
    void openingTwoModelsQuicklyShowsWhatTheEngineHolds();
    void wheelChangesNoUnfocusedField();
    void resultsCarryTheirInputsAndRunKeepsTheView();
    void returnNodeErrorLivesInItsRow();
    void graphFitsCollapsesAndExpands();
    void findJumpsAsYouTypeWithNextAndPrevious();
    void docksToggleAndMapsAppearWithResults();
    void exportedMapsAndSmallerFixes();

private:
    /// Opens `path` through File > Open (Ctrl+O) and its dialog, and waits for the graph.
    void openThroughMenu(const QString& path);
    QString copyModel(const QString& name);
    /// Opens a fresh copy of the bundled model with `nodes` as return nodes and the sample image.
    void openWithNodes(const QStringList& nodes);
    bool runAndWait();

    QTemporaryDir m_settingsDir;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<MainWindow> m_window;
};

void InspectorSessionTest::initTestCase()
{
    // Never touch the user's settings.
    QStandardPaths::setTestModeEnabled(true);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_settingsDir.filePath(QStringLiteral("settings")));
    QVERIFY2(QFile::exists(kModel), qPrintable(kModel));
}

void InspectorSessionTest::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_window = std::make_unique<MainWindow>();
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    QApplication::setActiveWindow(m_window.get()); // menu shortcuts need an active window
    QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
}

void InspectorSessionTest::cleanup()
{
    m_window.reset();
    m_dir.reset();
}

QString InspectorSessionTest::copyModel(const QString& name)
{
    // Each test opens its own files, so no test sees state another saved for the same path.
    const QString path = m_dir->filePath(name);
    QFile::copy(kModel, path);
    return path;
}

void InspectorSessionTest::openThroughMenu(const QString& path)
{
    QAction* open = actionFor(m_window.get(), QKeySequence::Open);
    QVERIFY(open);
    QSignalSpy loaded(m_window.get(), &MainWindow::modelLoaded);
    QSignalSpy drawn(m_window.get(), &MainWindow::graphReady);
    answerNextFileDialog(path);
    open->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(loaded.count() == 1, 60000);
    QVERIFY2(loaded.first().first().toBool(), qPrintable(m_window->lastError()));
    QTRY_VERIFY_WITH_TIMEOUT(drawn.count() >= 1 && !m_window->graphPanel()->isLayingOut(), 30000);
    QCOMPARE(m_window->document()->model().file, path);
    // Offscreen, the closed dialog hands the activation back only when asked; keys and focus need it.
    QApplication::setActiveWindow(m_window.get());
    QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
}

// Issue 17 (1) and (2): seven return nodes, the wheel over their table, Ctrl+O another model, type a node,
// Enter. The old window kept the first model's rows in the table (its reset was emitted under a signal
// blocker) and then hung in QHeaderView sizing the Status column.
void InspectorSessionTest::openingAnotherModelReplacesEverythingOfTheFirst()
{
    const QString first = copyModel(QStringLiteral("first.pt"));
    const QString second = copyModel(QStringLiteral("second.pt"));
    openThroughMenu(first);

    // Seven return nodes, as with --select seven times.
    QStringList names = m_window->document()->model().graph(Mode::Eval).names;
    QVERIFY(names.size() > 8);
    names = names.mid(1, 7);
    auto* add = m_window->findChild<QLineEdit*>(QStringLiteral("addNode"));
    QVERIFY(add);
    for (const QString& name : names)
        QVERIFY(typeNode(add, name));
    ReturnNodesModel* returns = m_window->document()->returnNodes();
    QCOMPARE(returns->entries().size(), 7);
    QTRY_VERIFY_WITH_TIMEOUT(returns->entries().last().severity == 0, 30000);

    // Results, shapes on the graph, a search and a selected node: all belong to the first model.
    m_window->setImage(kImage);
    QSignalSpy finished(m_window.get(), &MainWindow::runFinished);
    QTest::mouseClick(m_window->imagePanel()->runButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QVERIFY2(finished.first().first().toBool(), qPrintable(m_window->lastError()));
    QCOMPARE(m_window->results()->outputCount(), 7);
    QVERIFY(!m_window->graphPanel()->scene()->itemForNode(names.first())->shapeText().isEmpty());
    QTest::keyClicks(m_window->finder()->searchBox(), QStringLiteral("block"));
    m_window->nodeTreePanel()->view()->setCurrentIndex(
        m_window->nodeTreePanel()->proxy()->mapFromSource(m_window->nodeTreePanel()->model()->indexForName(names.at(2))));
    QCOMPARE(m_window->graphPanel()->currentNode(), names.at(2));

    QTableView* table = m_window->returnNodesPanel()->view();
    table->setCurrentIndex(returns->index(3, ReturnNodesModel::NodeColumn));
    wheelOver(table->viewport(), -3);
    wheelOver(table->viewport(), 2);

    openThroughMenu(second);
    // Nothing of the first model is left: rows (in the model and in the view), search, results, shapes, selection.
    QCOMPARE(returns->entries().size(), 0);
    QCOMPARE(table->verticalHeader()->count(), 0);
    QVERIFY(!table->currentIndex().isValid());
    QCOMPARE(m_window->finder()->searchBox()->text(), QString());
    QCOMPARE(m_window->nodeTreePanel()->proxy()->rowCount(), m_window->nodeTreePanel()->model()->rowCount());
    QCOMPARE(m_window->results()->outputCount(), 0);
    QVERIFY(!m_window->nodeTreePanel()->view()->currentIndex().isValid());
    QCOMPARE(m_window->graphPanel()->currentNode(), QString());
    for (const auto* item : m_window->graphPanel()->scene()->nodeItems())
        QVERIFY2(item->shapeText().isEmpty() && !item->isTicked(), qPrintable(item->name()));

    // Typing a node and Enter: one row, drawn as that row, sized without hanging.
    QVERIFY(typeNode(add, QStringLiteral("features.block2=b2")));
    QCOMPARE(returns->entries().size(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(returns->entries().first().resolved, QStringLiteral("features.block2.pool"), 30000);
    QCOMPARE(table->verticalHeader()->count(), 1);
    QCOMPARE(table->model()->index(0, ReturnNodesModel::KeyColumn).data().toString(), QStringLiteral("b2"));
    wheelOver(table->viewport(), -2);
    QVERIFY(!m_window->grab().isNull()); // paints the table, header sizing included
    QVERIFY(table->horizontalHeader()->sectionSize(ReturnNodesModel::StatusColumn) > 0);
}

// The window reads a load reply's model on a worker and shows it when read. Replies come in the order of the
// loads, reads may not: whatever order they finish in, the window ends up showing the model the engine holds,
// the last one that loaded, and a failed load still reports at once and keeps the model before it.
void InspectorSessionTest::openingTwoModelsQuicklyShowsWhatTheEngineHolds()
{
    const QString first = copyModel(QStringLiteral("first.pt"));
    const QString second = copyModel(QStringLiteral("second.pt"));
    const QString broken = m_dir->filePath(QStringLiteral("broken.pt"));
    QFile file(broken);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("not a TorchScript archive");
    file.close();
    auto settle = [] { // every read finished and its result handed to the GUI thread
        QThreadPool::globalInstance()->waitForDone();
        QCoreApplication::processEvents();
    };

    QSignalSpy loaded(m_window.get(), &MainWindow::modelLoaded);
    m_window->openModel(first);
    m_window->openModel(second);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->document()->model().file == second, 60000);
    QTRY_VERIFY_WITH_TIMEOUT(!m_window->engine()->isBusy(), 60000);
    settle();
    QCOMPARE(m_window->document()->model().file, second);
    QVERIFY(m_window->windowTitle().startsWith(QLatin1String("second.pt")));
    QVERIFY(m_window->nodeTreePanel()->model()->indexForName(QStringLiteral("features.block2.pool")).isValid());
    QVERIFY(loaded.count() >= 1 && loaded.count() <= 2);
    for (const QList<QVariant>& signal : loaded)
        QVERIFY(signal.first().toBool());

    loaded.clear();
    m_window->openModel(first);
    m_window->openModel(broken);
    QTRY_VERIFY_WITH_TIMEOUT(loaded.count() == 2, 60000);
    settle();
    QCOMPARE(m_window->document()->model().file, first);
    QVERIFY2(m_window->lastError().contains(QLatin1String("broken.pt")), qPrintable(m_window->lastError()));
    QCOMPARE(loaded.count(), 2);
}

void InspectorSessionTest::openWithNodes(const QStringList& nodes)
{
    openThroughMenu(copyModel(QStringLiteral("model.pt")));
    for (const QString& node : nodes)
        m_window->addReturnNode(node);
    m_window->setImage(kImage);
    QTRY_VERIFY_WITH_TIMEOUT(nodes.isEmpty()
                                 || (m_window->imagePanel()->runButton()->isEnabled() && !m_window->document()->returnNodes()->entries().isEmpty()
                                     && m_window->document()->returnNodes()->entries().last().severity == 0),
                             30000);
}

bool InspectorSessionTest::runAndWait()
{
    QSignalSpy finished(m_window.get(), &MainWindow::runFinished);
    QTest::mouseClick(m_window->imagePanel()->runButton(), Qt::LeftButton);
    if (!QTest::qWaitFor([&] { return finished.count() == 1; }, 60000))
        return false;
    return finished.first().first().toBool();
}

void InspectorSessionTest::wheelChangesNoUnfocusedField()
{
    openWithNodes({QStringLiteral("features.block1.conv")});
    auto* resize = m_window->preprocessing()->findChild<QSpinBox*>(QStringLiteral("resize"));
    auto* mode = m_window->findChild<QComboBox*>(QStringLiteral("modeBox"));
    QVERIFY(resize && mode);
    const int before = resize->value();
    const int modeBefore = mode->currentIndex();
    m_window->finder()->searchBox()->setFocus(); // focus elsewhere, as after typing in another field
    wheelOver(resize, -3);
    wheelOver(mode, -2);
    QCOMPARE(resize->value(), before);
    QCOMPARE(mode->currentIndex(), modeBefore);
    QVERIFY(!resize->hasFocus()); // the wheel does not take the focus either
    // Clicked into (focused), the field takes the wheel as usual.
    resize->setFocus();
    QTRY_VERIFY(resize->hasFocus());
    wheelOver(resize, 1);
    QCOMPARE(resize->value(), before + 1);
    // The same holds for the spin boxes of the feature maps, made after a run.
    QVERIFY(runAndWait());
    auto* channel = m_window->results()->view(0)->findChild<QSpinBox*>(QStringLiteral("channel"));
    QVERIFY(channel);
    const int channelBefore = channel->value();
    m_window->finder()->searchBox()->setFocus();
    wheelOver(channel, 3);
    QCOMPARE(channel->value(), channelBefore);
}

void InspectorSessionTest::resultsCarryTheirInputsAndRunKeepsTheView()
{
    openWithNodes({QStringLiteral("features.block1.conv"), QStringLiteral("features.block2")});
    QVERIFY(runAndWait());
    ResultsPanel* results = m_window->results();
    const QList<QLabel*> summary = results->findChildren<QLabel*>();
    QString summaryText;
    for (QLabel* label : summary)
        if (label->text().contains(QStringLiteral("output")))
            summaryText = label->text();
    QVERIFY2(summaryText.contains(QStringLiteral("model.pt")) && summaryText.contains(QStringLiteral("eval"))
                 && summaryText.contains(QStringLiteral("bag_18.png")) && summaryText.contains(QStringLiteral("resize")),
             qPrintable(summaryText));
    auto* banner = results->findChild<QLabel*>(QStringLiteral("staleBanner"));
    QVERIFY(banner && !banner->isVisible() && !results->isOutOfDate());

    // The user looks at the second output's mean, and the first output's channel 5.
    results->tabs()->setCurrentIndex(0);
    results->view(0)->findChild<QSpinBox*>(QStringLiteral("channel"))->setValue(5);
    results->tabs()->setCurrentIndex(1);
    results->view(1)->findChild<QCheckBox*>()->click();
    QCOMPARE(results->view(1)->largeChannel(), -1);

    // Another image: the maps say they are out of date, and why.
    m_window->setImage(QDir::cleanPath(QStringLiteral(FEATSCOPE_SOURCE_DIR "/resources/images/ankle_boot_0.png")));
    QVERIFY(results->isOutOfDate());
    QVERIFY(banner->isVisible());
    QVERIFY2(results->outOfDateReason().contains(QStringLiteral("ankle_boot_0.png")), qPrintable(results->outOfDateReason()));

    // Run again: up to date, same tab, same views.
    QVERIFY(runAndWait());
    QVERIFY(!results->isOutOfDate());
    QVERIFY(!banner->isVisible());
    QCOMPARE(results->tabs()->currentIndex(), 1);
    QCOMPARE(results->view(1)->largeChannel(), -1);
    QCOMPARE(results->view(0)->largeChannel(), 5);

    // Mode and preprocessing changes mark them too; going back clears the mark.
    m_window->setMode(Mode::Train);
    QVERIFY2(results->outOfDateReason().contains(QStringLiteral("train")), qPrintable(results->outOfDateReason()));
    m_window->setMode(Mode::Eval);
    QVERIFY(!results->isOutOfDate());
    auto* resize = m_window->preprocessing()->findChild<QSpinBox*>(QStringLiteral("resize"));
    resize->setValue(resize->value() + 2);
    QVERIFY2(results->outOfDateReason().contains(QStringLiteral("preprocessing")), qPrintable(results->outOfDateReason()));
    resize->setValue(resize->value() - 2);
    QVERIFY(!results->isOutOfDate());

    // A failed run leaves the earlier maps, marked.
    m_window->setImage(m_dir->filePath(QStringLiteral("missing.png")));
    QVERIFY(!runAndWait());
    QVERIFY2(results->outOfDateReason().contains(QStringLiteral("failed")), qPrintable(results->outOfDateReason()));
    QCOMPARE(results->outputCount(), 2);
}

void InspectorSessionTest::returnNodeErrorLivesInItsRow()
{
    openWithNodes({QStringLiteral("features.block1.conv")});
    ReturnNodesModel* returns = m_window->document()->returnNodes();
    auto* add = m_window->findChild<QLineEdit*>(QStringLiteral("addNode"));
    QVERIFY(typeNode(add, QStringLiteral("features.blok2.conv")));
    QTRY_COMPARE_WITH_TIMEOUT(returns->entries().at(1).severity, 2, 30000);

    // The row carries the message; Run is off and says why; the banner stays empty.
    const QString tip = returns->index(1, ReturnNodesModel::KeyColumn).data(Qt::ToolTipRole).toString();
    QVERIFY2(tip.contains(QStringLiteral("features.blok2.conv")), qPrintable(tip));
    QVERIFY(!m_window->imagePanel()->runButton()->isEnabled());
    QVERIFY2(m_window->imagePanel()->runButton()->toolTip().contains(QStringLiteral("Row 2")), qPrintable(m_window->imagePanel()->runButton()->toolTip()));
    QVERIFY(!m_window->findChild<QLabel*>(QStringLiteral("errorBanner"))->isVisible());
    auto* fixes = m_window->findChild<QLabel*>(QStringLiteral("validation"));
    QVERIFY(fixes->isVisible());
    QVERIFY2(!fixes->text().contains(QStringLiteral("No node")), qPrintable(fixes->text())); // the message is not repeated
    QVERIFY2(!fixes->text().contains(QStringLiteral("featscope-cli")), qPrintable(fixes->text()));

    // Taking a suggestion fixes the row.
    const QRegularExpression href(QStringLiteral("href=\"([^\"]+)\""));
    const QString link = href.match(fixes->text()).captured(1);
    QVERIFY2(link.endsWith(QStringLiteral("features.block2.conv")), qPrintable(fixes->text()));
    Q_EMIT fixes->linkActivated(link);
    QTRY_COMPARE_WITH_TIMEOUT(returns->entries().at(1).severity, 0, 30000);
    QCOMPARE(returns->entries().at(1).node, QStringLiteral("features.block2.conv"));
    QTRY_VERIFY(m_window->imagePanel()->runButton()->isEnabled());
    QVERIFY(!fixes->text().contains(QStringLiteral("href")));

    // Delete removes the selected rows.
    QTableView* table = m_window->returnNodesPanel()->view();
    // Click the first row, as a person would, then Delete.
    QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, table->visualRect(returns->index(0, 0)).center());
    QTRY_VERIFY(table->hasFocus());
    QVERIFY(table->selectionModel()->isRowSelected(0, {}));
    QTest::keyClick(table, Qt::Key_Delete);
    QCOMPARE(returns->entries().size(), 1);
    QCOMPARE(returns->entries().first().node, QStringLiteral("features.block2.conv"));

    // An engine message meant for the command line loses its CLI advice in the window (export while the
    // row is still being checked reaches the engine's own check).
    m_window->addReturnNode(QStringLiteral("features.blok3"));
    QSignalSpy exported(m_window.get(), &MainWindow::exportFinished);
    m_window->exportExtractor(m_dir->filePath(QStringLiteral("x.pt")));
    QTRY_VERIFY_WITH_TIMEOUT(exported.count() == 1, 60000);
    QCOMPARE(exported.first().first().toBool(), false);
    const QString error = m_window->lastError();
    QVERIFY2(error.contains(QStringLiteral("features.blok3")), qPrintable(error));
    QVERIFY2(!error.contains(QStringLiteral("featscope-cli")), qPrintable(error));
    QVERIFY2(error.count(QStringLiteral("losest names"), Qt::CaseInsensitive) <= 1, qPrintable(error));
}

void InspectorSessionTest::graphFitsCollapsesAndExpands()
{
    openThroughMenu(copyModel(QStringLiteral("model.pt")));
    GraphPanel* graph = m_window->graphPanel();
    const int nodes = int(m_window->document()->model().graph(Mode::Eval).names.size());
    auto waitLayout = [&](QAction* action) {
        QSignalSpy done(graph, &GraphPanel::layoutFinished);
        action->trigger();
        return QTest::qWaitFor([&] { return done.count() >= 1 && !graph->isLayingOut(); }, 30000);
    };
    auto viewAction = [&](const QString& text) -> QAction* {
        for (QAction* a : m_window->menuBar()->findChildren<QAction*>())
            if (a->text().remove(QLatin1Char('&')) == text)
                return a;
        return nullptr;
    };
    QAction* collapseAll = viewAction(QStringLiteral("Collapse All Modules"));
    QAction* expandAll = viewAction(QStringLiteral("Expand All Modules"));
    QAction* fit = viewAction(QStringLiteral("Fit Graph"));
    QVERIFY(collapseAll && expandAll && fit);

    QVERIFY(waitLayout(collapseAll));
    const QSet<QString> topLevel = [&] {
        QSet<QString> s;
        for (const QString& name : m_window->document()->model().graph(Mode::Eval).names)
            s.insert(name.section(QLatin1Char('.'), 0, 0));
        return s;
    }();
    QCOMPARE(int(graph->scene()->nodeItems().size()), int(topLevel.size()));
    for (const auto* item : graph->scene()->nodeItems())
        QVERIFY2(!item->name().contains(QLatin1Char('.')), qPrintable(item->name()));

    QVERIFY(waitLayout(expandAll));
    QVERIFY(graph->scene()->nodeItems().size() >= nodes - 1);
    for (const auto* item : graph->scene()->nodeItems())
        QVERIFY2(!item->isModule(), qPrintable(item->name()));

    // Depth 1: the top-level modules open, the ones inside them closed.
    QVERIFY(waitLayout(collapseAll));
    auto* depthMenu = viewAction(QStringLiteral("Expand to Depth"))->menu();
    Q_EMIT depthMenu->aboutToShow();
    QVERIFY(!depthMenu->actions().isEmpty());
    QVERIFY(waitLayout(depthMenu->actions().first()));
    for (const auto* item : graph->scene()->nodeItems())
        QVERIFY2(item->name().count(QLatin1Char('.')) <= 1, qPrintable(item->name()));
    QVERIFY(graph->scene()->nodeItems().size() > topLevel.size());

    // Fit shows all of it, even when that is below a readable size.
    QVERIFY(waitLayout(expandAll));
    graph->view()->zoomBy(4);
    fit->trigger();
    const QRectF visible = graph->view()->mapToScene(graph->view()->viewport()->rect()).boundingRect();
    QVERIFY(visible.adjusted(-1, -1, 1, 1).contains(graph->scene()->sceneRect()));
}

void InspectorSessionTest::findJumpsAsYouTypeWithNextAndPrevious()
{
    openThroughMenu(copyModel(QStringLiteral("model.pt")));
    QLineEdit* search = m_window->finder()->searchBox();
    search->setFocus();
    QTest::keyClicks(search, QStringLiteral("block3"));
    auto current = [&] { return m_window->nodeTreePanel()->view()->currentIndex().data(NodeTreeModel::NameRole).toString(); };
    // Without Enter: the first match (the node "block3" selects) is shown and highlighted once typing pauses.
    QTRY_COMPARE(current(), QStringLiteral("features.block3.pool"));
    QCOMPARE(m_window->graphPanel()->currentNode(), QStringLiteral("features.block3.pool"));
    const QStringList matches = m_window->finder()->matches();
    QVERIFY(matches.size() >= 3);
    const int at = m_window->finder()->currentIndex();
    QCOMPARE(matches.at(at), QStringLiteral("features.block3.pool"));
    auto* count = m_window->findChild<QLabel*>(QStringLiteral("searchCount"));
    QCOMPARE(count->text(), QStringLiteral("%1 of %2").arg(at + 1).arg(matches.size()));

    // Enter and F3 go to the next match, Shift+F3 back.
    QTest::keyClick(search, Qt::Key_Return);
    QCOMPARE(current(), matches.at((at + 1) % matches.size()));
    QTest::keyClick(search, Qt::Key_F3, Qt::ShiftModifier);
    QCOMPARE(current(), matches.at(at));
    auto* next = m_window->findChild<QAction*>(QStringLiteral("findNext"));
    QVERIFY(next);
    next->trigger();
    next->trigger();
    QCOMPARE(current(), matches.at((at + 2) % matches.size()));
    QCOMPARE(m_window->graphPanel()->currentNode(), matches.at((at + 2) % matches.size()));
}

void InspectorSessionTest::docksToggleAndMapsAppearWithResults()
{
    auto* results = m_window->findChild<QDockWidget*>(QStringLiteral("resultsDock"));
    auto* nodes = m_window->findChild<QDockWidget*>(QStringLiteral("nodesDock"));
    QVERIFY(results && nodes);
    // Before any result, the maps' dock is closed and the graph takes its room.
    QVERIFY(!results->isVisible());
    QVERIFY(nodes->toggleViewAction()->isEnabled());
    nodes->toggleViewAction()->trigger();
    QVERIFY(!nodes->isVisible());
    nodes->toggleViewAction()->trigger();
    QVERIFY(nodes->isVisible());
    QVERIFY(nodes->features().testFlag(QDockWidget::DockWidgetMovable));

    openWithNodes({QStringLiteral("features.block1.conv")});
    const int graphHeight = m_window->graphPanel()->height();
    QVERIFY2(graphHeight > m_window->height() * 2 / 3, qPrintable(QString::number(graphHeight)));
    QVERIFY(runAndWait());
    QVERIFY(results->isVisible());
    QVERIFY(results->toggleViewAction()->isEnabled());
}

void InspectorSessionTest::exportedMapsAndSmallerFixes()
{
    auto* add = m_window->findChild<QLineEdit*>(QStringLiteral("addNode"));
    openWithNodes({});
    // The add field stays where it is when the first row arrives.
    const int addY = add->mapTo(m_window.get(), QPoint()).y();
    QVERIFY(typeNode(add, QStringLiteral("features.block1.conv")));
    QVERIFY(typeNode(add, QStringLiteral("classifier")));
    QTRY_VERIFY_WITH_TIMEOUT(m_window->imagePanel()->runButton()->isEnabled(), 30000);
    QCOMPARE(add->mapTo(m_window.get(), QPoint()).y(), addY);
    QVERIFY(runAndWait());

    // Global colours span the feature maps, not the logits' scale.
    ResultsPanel* results = m_window->results();
    results->setNormalisation(Normalisation::Global);
    FeatureMapView* conv = results->view(0);
    const auto convRange = conv->tensor().range();
    const QCPRange shown = conv->largePlot()->plottable(0) ? qobject_cast<QCPColorMap*>(conv->largePlot()->plottable(0))->dataRange() : QCPRange();
    QCOMPARE(float(shown.lower), convRange.first);
    QCOMPARE(float(shown.upper), convRange.second);

    // Export without a suffix: a PNG named .png, with a title band above the maps.
    const QString base = m_dir->filePath(QStringLiteral("maps"));
    QVERIFY(m_window->exportMapsPng(base));
    QVERIFY(!QFile::exists(base));
    const QImage image(base + QStringLiteral(".png"));
    QVERIFY(!image.isNull());
    QVERIFY(image.height() > conv->renderImage().height());

    // Shape badges wider than their box are not clipped.
    for (const auto* item : m_window->graphPanel()->scene()->nodeItems())
        if (!item->shapeText().isEmpty()) {
            QFont badgeFont;
            badgeFont.setPointSizeF(7.5);
            const qreal badgeWidth = QFontMetricsF(badgeFont).horizontalAdvance(item->shapeText());
            QVERIFY(item->boundingRect().contains(QPointF(item->rect().right() - badgeWidth, item->rect().bottom() + 8)));
            QVERIFY(item->boundingRect().contains(QPointF(item->rect().right(), item->rect().bottom() + 8)));
        }

    // File dialogs open in the last folder used.
    QString shownDirectory;
    auto* poll = new QTimer(this);
    poll->setInterval(20);
    connect(poll, &QTimer::timeout, this, [poll, &shownDirectory] {
        auto* dialog = qobject_cast<QFileDialog*>(QApplication::activeModalWidget());
        if (!dialog || !dialog->isVisible())
            return;
        poll->stop();
        shownDirectory = dialog->directory().absolutePath();
        dialog->reject();
    });
    poll->start();
    actionFor(m_window.get(), QKeySequence::Open)->trigger();
    QCOMPARE(QDir(shownDirectory).canonicalPath(), QDir(m_dir->path()).canonicalPath());
}

QTEST_MAIN(InspectorSessionTest)
#include "InspectorSessionTest.moc"
