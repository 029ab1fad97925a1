// GUI tests of a session as a person has it: a fresh main window per test (offscreen), driven through its
// menus, buttons, keys and the wheel, against the real featscope-engine.

#include "FeatureMapView.h"
#include "GraphNodeItem.h"
#include "GraphPanel.h"
#include "GraphScene.h"
#include "GraphView.h"
#include "MainWindow.h"
#include "NodeTreeModel.h"
#include "PreprocessingWidget.h"
#include "ResultsPanel.h"
#include "ReturnNodesModel.h"

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

private:
    /// Opens `path` through File > Open (Ctrl+O) and its dialog, and waits for the graph.
    void openThroughMenu(const QString& path);
    QString copyModel(const QString& name);

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
    QCOMPARE(m_window->model().file, path);
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
    QStringList names = m_window->model().graph(Mode::Eval).names;
    QVERIFY(names.size() > 8);
    names = names.mid(1, 7);
    auto* add = m_window->findChild<QLineEdit*>(QStringLiteral("addNode"));
    QVERIFY(add);
    for (const QString& name : names)
        QVERIFY(typeNode(add, name));
    ReturnNodesModel* returns = m_window->returnNodes();
    QCOMPARE(returns->entries().size(), 7);
    QTRY_VERIFY_WITH_TIMEOUT(returns->entries().last().severity == 0, 30000);

    // Results, shapes on the graph, a search and a selected node: all belong to the first model.
    m_window->setImage(kImage);
    QSignalSpy finished(m_window.get(), &MainWindow::runFinished);
    QTest::mouseClick(m_window->runButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QVERIFY2(finished.first().first().toBool(), qPrintable(m_window->lastError()));
    QCOMPARE(m_window->results()->outputCount(), 7);
    QVERIFY(!m_window->graphPanel()->scene()->itemForNode(names.first())->shapeText().isEmpty());
    QTest::keyClicks(m_window->searchBox(), QStringLiteral("block"));
    m_window->nodeTree()->setCurrentIndex(
        m_window->nodeTreeProxy()->mapFromSource(m_window->nodeTreeModel()->indexForName(names.at(2))));
    QCOMPARE(m_window->graphPanel()->currentNode(), names.at(2));

    QTableView* table = m_window->returnNodesView();
    table->setCurrentIndex(returns->index(3, ReturnNodesModel::NodeColumn));
    wheelOver(table->viewport(), -3);
    wheelOver(table->viewport(), 2);

    openThroughMenu(second);
    // Nothing of the first model is left: rows (in the model and in the view), search, results, shapes, selection.
    QCOMPARE(returns->entries().size(), 0);
    QCOMPARE(table->verticalHeader()->count(), 0);
    QVERIFY(!table->currentIndex().isValid());
    QCOMPARE(m_window->searchBox()->text(), QString());
    QCOMPARE(m_window->nodeTreeProxy()->rowCount(), m_window->nodeTreeModel()->rowCount());
    QCOMPARE(m_window->results()->outputCount(), 0);
    QVERIFY(!m_window->nodeTree()->currentIndex().isValid());
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

QTEST_MAIN(InspectorSessionTest)
#include "InspectorSessionTest.moc"
