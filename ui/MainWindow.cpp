#include "MainWindow.h"

#include "DocumentPanels.h"
#include "EngineClient.h"
#include "FileKinds.h"
#include "GraphArea.h"
#include "GraphPanel.h"
#include "GraphView.h"
#include "InputPanel.h"
#include "ModelComparisonPanel.h"
#include "ModelController.h"
#include "ModelDocument.h"
#include "NodeFinder.h"
#include "NodeTreePanel.h"
#include "PreprocessingWidget.h"
#include "ResultsPanel.h"
#include "StatisticsPanel.h"
#include "TopImagesPanel.h"
#include "ReturnNodesModel.h"
#include "ReturnNodesPanel.h"
#include "WheelGuard.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QStatusBar>
#include <QVBoxLayout>

namespace featscope::ui {

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), m_document(new ModelDocument(this)), m_controller(new ModelController(m_document, &m_settings, this)),
      m_graph(new GraphPanel), m_tree(new NodeTreePanel), m_finder(new NodeFinder(this)),
      m_returnsPanel(new ReturnNodesPanel(m_document)), m_imagePanel(new ImagePanel(m_document)),
      m_preprocessing(new PreprocessingWidget), m_results(new ResultsPanel), m_inputPanel(new InputPanel(m_document)),
      m_statisticsPanel(new StatisticsPanel(m_document)), m_comparisonPanel(new ModelComparisonPanel(m_document)),
      m_topImagesPanel(new TopImagesPanel(m_document)), m_errorLabel(new QLabel),
      m_statusLabel(new QLabel), m_progress(new QProgressBar)
{
    setWindowTitle(tr("featscope"));
    setObjectName(QStringLiteral("mainWindow"));
    setAcceptDrops(true);
    resize(1500, 950);

    setCentralWidget(new GraphArea(m_graph, m_finder));
    QDockWidget* treeDock = addDock(tr("Nodes"), QStringLiteral("nodesDock"), m_tree, Qt::LeftDockWidgetArea);
    QDockWidget* sideDock = addDock(tr("Model and run"), QStringLiteral("sideDock"), createSidePanel(), Qt::RightDockWidgetArea);
    m_resultsDock = addDock(tr("Feature maps"), QStringLiteral("resultsDock"), m_results, Qt::BottomDockWidgetArea);
    m_inputDock = addDock(tr("Input"), QStringLiteral("inputDock"), m_inputPanel, Qt::BottomDockWidgetArea);
    splitDockWidget(m_resultsDock, m_inputDock, Qt::Horizontal);
    m_statisticsDock = addDock(tr("Statistics"), QStringLiteral("statisticsDock"), m_statisticsPanel, Qt::BottomDockWidgetArea);
    tabifyDockWidget(m_resultsDock, m_statisticsDock);
    m_comparisonDock = addDock(tr("Model comparison"), QStringLiteral("comparisonDock"), m_comparisonPanel, Qt::BottomDockWidgetArea);
    tabifyDockWidget(m_statisticsDock, m_comparisonDock);
    m_topImagesDock = addDock(tr("Top images"), QStringLiteral("topImagesDock"), m_topImagesPanel, Qt::BottomDockWidgetArea);
    tabifyDockWidget(m_comparisonDock, m_topImagesDock);
    resizeDocks({treeDock, sideDock}, {290, 400}, Qt::Horizontal);
    resizeDocks({m_resultsDock}, {360}, Qt::Vertical);

    m_progress->setMaximumWidth(180);
    m_progress->setRange(0, 0);
    m_progress->hide();
    statusBar()->addWidget(m_statusLabel, 1);
    statusBar()->addPermanentWidget(m_progress);
    m_statusLabel->setText(tr("Open a TorchScript model: File > Open (Ctrl+O) or drop a .pt file here."));

    createMenus();
    connectDocument();
    connectController();

    connect(m_graph, &GraphPanel::tickClicked, this, [this](const QString& name, bool) { toggleReturnNode(name); });
    connect(m_graph, &GraphPanel::itemClicked, this, [this](const QString& name, bool) {
        m_graph->setCurrentNode(name, false);
        m_tree->showNode(name);
    });
    connect(m_graph, &GraphPanel::message, this, &MainWindow::showError);
    connect(m_graph, &GraphPanel::layoutStarted, this, [this](int boxes) {
        m_progress->show();
        m_statusLabel->setText(tr("Laying out the graph (%n box(es))…", nullptr, boxes));
    });
    connect(m_graph, &GraphPanel::layoutFinished, this, &MainWindow::onLayoutFinished);
    connect(m_tree, &NodeTreePanel::checkToggled, this, &MainWindow::toggleReturnNode);
    connect(m_tree, &NodeTreePanel::currentNodeChanged, this, [this](const QString& name) { m_graph->setCurrentNode(name, true); });
    connect(m_finder, &NodeFinder::filterChanged, m_tree, &NodeTreePanel::setFilter);
    connect(m_finder, &NodeFinder::matchesChanged, m_graph, &GraphPanel::setMatches);
    connect(m_finder, &NodeFinder::matchChosen, this, &MainWindow::showNode);
    connect(m_finder, &NodeFinder::message, this, [this](const QString& text) { statusBar()->showMessage(text, 5000); });
    connect(m_returnsPanel, &ReturnNodesPanel::nodeSelected, this, [this](const QString& name) { m_graph->setCurrentNode(name, true); });
    connect(m_returnsPanel, &ReturnNodesPanel::message, this, [this](const QString& text) { statusBar()->showMessage(text, 8000); });
    connect(m_imagePanel, &ImagePanel::browseRequested, this, &MainWindow::browseImage);
    connect(m_imagePanel->runButton(), &QPushButton::clicked, this, &MainWindow::run);
    connect(m_imagePanel->cancelButton(), &QPushButton::clicked, this, &MainWindow::cancelRun);
    connect(m_preprocessing, &PreprocessingWidget::changed, this, [this] {
        QString problem;
        m_preprocessing->isValid(&problem);
        m_document->setPreprocessing(m_preprocessing->value(), problem);
    });
    connect(m_results, &ResultsPanel::layoutChosen, m_document, &ModelDocument::setLayout);
    connect(m_results, &ResultsPanel::overlayChanged, this, [this] {
        const MapOverlay overlay = m_results->currentOverlay();
        m_inputPanel->setOverlay(overlay);
        if (overlay.path.isEmpty()) // a part of a dict or tuple is not a node top-images can rank by
            m_topImagesPanel->suggest(overlay.node, overlay.channel);
    });
    connect(m_topImagesPanel, &TopImagesPanel::imageChosen, this, &MainWindow::setImage);
    connect(m_inputPanel, &InputPanel::explainRequested, m_controller, &ModelController::explain);
    connect(m_inputPanel, &InputPanel::receptiveRegionRequested, m_controller, &ModelController::findReceptiveRegion);
    connect(m_statisticsPanel, &StatisticsPanel::computeRequested, this, &MainWindow::computeStatistics);
    connect(m_statisticsPanel, &StatisticsPanel::nodeSelected, this, &MainWindow::showNode);
    connect(m_statisticsPanel, &StatisticsPanel::nodeColoursChanged, m_graph, &GraphPanel::setValueFills);
    connect(m_comparisonPanel, &ModelComparisonPanel::nodeSelected, this, &MainWindow::showNode);
    connect(m_comparisonPanel, &ModelComparisonPanel::nodeColoursChanged, m_graph, &GraphPanel::setValueFills);
    connect(m_document, &ModelDocument::comparisonChanged, this, [this] {
        if (!m_document->comparison().firstDivergent.isEmpty())
            showNode(m_document->comparison().firstDivergent);
    });
    connect(m_results, &ResultsPanel::displayChanged, this,
            [this] { m_document->setDisplay(m_results->gradientName(), int(m_results->normalisation())); });
    m_document->setDisplay(m_results->gradientName(), int(m_results->normalisation()));
    m_controller->setUnsafeOpsConfirmation([this](const QStringList& ops) { return askToRunUnsafeOps(ops); });

    takeWheelOnlyWhenFocused(this);
    restoreGeometry(m_settings.windowGeometry());
    restoreState(m_settings.windowState());
    // Until there are maps, the graph gets the room the maps would take.
    m_resultsDock->hide();
    m_inputDock->hide();
    m_statisticsDock->hide();
    m_comparisonDock->hide();
    m_topImagesDock->hide();
    updateRecentMenu();
    updateActions();
}

MainWindow::~MainWindow() = default;

QWidget* MainWindow::createSidePanel()
{
    auto* panel = new QWidget;
    auto* layout = new QVBoxLayout(panel);
    layout->setContentsMargins(6, 6, 6, 6);
    m_errorLabel->setObjectName(QStringLiteral("errorBanner"));
    m_errorLabel->setWordWrap(true);
    m_errorLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_errorLabel->setStyleSheet(QStringLiteral("background: #ffebee; color: #b71c1c; border: 1px solid #e57373; padding: 6px;"));
    m_errorLabel->hide();
    layout->addWidget(m_errorLabel);
    layout->addWidget(new ModelPanel(m_document));
    layout->addWidget(m_imagePanel);
    layout->addWidget(m_returnsPanel, 1);
    auto* prepBox = new QGroupBox(tr("Preprocessing"));
    auto* prepLayout = new QVBoxLayout(prepBox);
    prepLayout->addWidget(m_preprocessing);
    layout->addWidget(prepBox);

    auto* scroll = new QScrollArea;
    scroll->setWidget(panel);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setMinimumWidth(360);
    return scroll;
}

QDockWidget* MainWindow::addDock(const QString& title, const QString& objectName, QWidget* widget, Qt::DockWidgetArea area)
{
    auto* dock = new QDockWidget(title, this);
    dock->setObjectName(objectName);
    dock->setWidget(widget);
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable | QDockWidget::DockWidgetClosable);
    addDockWidget(area, dock);
    return dock;
}

void MainWindow::connectDocument()
{
    ReturnNodesModel* returns = m_document->returnNodes();
    connect(m_document, &ModelDocument::modelChanged, this, &MainWindow::onModelChanged);
    connect(m_document, &ModelDocument::modeChanged, this, [this] {
        if (m_document->hasModel())
            showModeGraph();
    });
    connect(m_document, &ModelDocument::imageChanged, this, &MainWindow::updateActions);
    connect(m_document, &ModelDocument::resultsChanged, this, [this] {
        if (!m_document->outputs().isEmpty())
            m_results->showResults(*m_document);
        m_graph->setShapes(m_document->shapes());
        m_tree->setShapes(m_document->shapes());
        updateActions();
    });
    connect(m_document, &ModelDocument::freshnessChanged, m_results, &ResultsPanel::setOutOfDate);
    connect(m_document, &ModelDocument::displayChanged, this, [this] {
        m_results->setGradientName(m_document->colourMap());
        m_results->setNormalisation(Normalisation(m_document->normalisation()));
    });
    connect(returns, &ReturnNodesModel::selectionEdited, this, [this] {
        updateTicks();
        updateActions();
    });
    connect(returns, &QAbstractItemModel::dataChanged, this, [this] {
        updateTicks();
        updateActions();
    });
    connect(returns, &QAbstractItemModel::modelReset, this, &MainWindow::updateActions);
    connect(returns, &QAbstractItemModel::rowsInserted, this, &MainWindow::updateActions);
    connect(returns, &QAbstractItemModel::rowsRemoved, this, &MainWindow::updateActions);
}

void MainWindow::connectController()
{
    connect(m_controller, &ModelController::busy, this, &MainWindow::setBusy);
    connect(m_controller, &ModelController::idle, this, &MainWindow::setIdle);
    connect(m_controller, &ModelController::note, this, [this](const QString& text, int ms) { statusBar()->showMessage(text, ms); });
    connect(m_controller, &ModelController::errorReported, this, &MainWindow::showError);
    connect(m_controller, &ModelController::errorCleared, this, &MainWindow::clearError);
    connect(m_controller, &ModelController::runningChanged, this, &MainWindow::updateActions);
    connect(m_controller, &ModelController::runStarted, this, [this] {
        if (m_resultsDock->isHidden() && !m_resultsDock->isFloating()) {
            m_resultsDock->show();
            m_inputDock->show();
            resizeDocks({m_resultsDock}, {height() * 2 / 5}, Qt::Vertical);
            resizeDocks({m_resultsDock, m_inputDock}, {width() * 3 / 4, width() / 4}, Qt::Horizontal);
        }
        m_results->showMessage(tr("Running…"), false);
    });
    connect(m_controller, &ModelController::runFailed, m_results, &ResultsPanel::showMessage);
    connect(m_controller, &ModelController::modelLoaded, this, [this](bool ok) {
        if (ok) {
            updateRecentMenu();
            m_timingOpen = true;
        }
    });
    connect(m_controller, &ModelController::modelLoaded, this, &MainWindow::modelLoaded);
    connect(m_controller, &ModelController::runFinished, this, &MainWindow::runFinished);
    connect(m_controller, &ModelController::statisticsFinished, this, &MainWindow::statisticsFinished);
    connect(m_controller, &ModelController::comparisonFinished, this, &MainWindow::comparisonFinished);
    connect(m_controller, &ModelController::exportFinished, this, &MainWindow::exportFinished);
}

void MainWindow::updateActions()
{
    const bool running = m_controller->isRunning();
    const ReturnNodesModel* returns = m_document->returnNodes();
    const QString invalid = returns->firstError();
    const bool canRun = m_document->hasModel() && !running && invalid.isEmpty();
    QPushButton* runButton = m_imagePanel->runButton();
    runButton->setEnabled(canRun);
    runButton->setToolTip(invalid.isEmpty() ? tr("Run the pruned extractor on the image (Ctrl+R)")
                                            : tr("Fix the return nodes first. %1").arg(invalid));
    m_imagePanel->cancelButton()->setEnabled(running);
    if (m_runAction)
        m_runAction->setEnabled(canRun);
    if (m_exportAction)
        m_exportAction->setEnabled(m_document->hasModel() && !returns->entries().isEmpty() && invalid.isEmpty());
    const bool hasResults = m_results->outputCount() > 0;
    if (m_exportPngAction)
        m_exportPngAction->setEnabled(hasResults);
    if (m_exportNpyAction)
        m_exportNpyAction->setEnabled(hasResults);
}

void MainWindow::showError(const QString& message)
{
    m_lastError = message;
    m_errorLabel->setText(message);
    m_errorLabel->show();
    statusBar()->showMessage(message.section(QLatin1Char('\n'), 0, 0), 10000);
    Q_EMIT errorReported(message);
}

void MainWindow::clearError()
{
    m_errorLabel->hide();
    m_errorLabel->clear();
}

void MainWindow::setBusy(const QString& message)
{
    m_statusLabel->setText(message);
    m_progress->show();
}

void MainWindow::setIdle(const QString& message)
{
    m_statusLabel->setText(message);
    if (!m_graph->isLayingOut())
        m_progress->hide();
}

void MainWindow::openModel(const QString& path) { m_controller->openModel(path); }

// Opening a model is one transaction: whatever the previous model's views showed goes, and every view
// hears about it. (A reset emitted under a QSignalBlocker once left the return-node table drawing rows its
// model no longer had, and QHeaderView then hung sizing them.)
void MainWindow::onModelChanged()
{
    m_finder->clear();
    m_results->clear();
    m_graph->clear();
    m_tree->clear();
    setWindowTitle(tr("%1 — featscope").arg(QFileInfo(m_document->model().file).fileName()));
    m_preprocessing->setValue(m_document->preprocessing());
    m_results->setGradientName(m_document->colourMap());
    m_results->setNormalisation(Normalisation(m_document->normalisation()));
    showModeGraph();
    updateActions();
}

void MainWindow::onLayoutFinished(qint64 ms, int boxes)
{
    if (!m_controller->isRunning() && !m_controller->engine()->isBusy())
        m_progress->hide();
    const ModelInfo& model = m_document->model();
    QString text = tr("%1 — %n box(es) drawn, layout %2 ms", nullptr, boxes).arg(QFileInfo(model.file).fileName()).arg(ms);
    if (m_timingOpen) {
        const qint64 total = m_controller->msSinceOpen();
        text += tr(", opened in %1 ms").arg(total);
        qInfo("featscope: opened %s in %lld ms (engine load %lld ms, GUI thread %lld ms, layout %lld ms in the "
              "background, %d boxes of %lld nodes)",
              qPrintable(model.file), static_cast<long long>(total), static_cast<long long>(m_controller->engineLoadMs()),
              static_cast<long long>(m_controller->guiLoadMs()), static_cast<long long>(ms), boxes,
              static_cast<long long>(m_document->graph().nodes.size()));
        m_timingOpen = false;
    }
    m_statusLabel->setText(text);
    Q_EMIT graphReady();
}

void MainWindow::showModeGraph()
{
    const ModeGraph& graph = m_document->graph();
    const Mode mode = m_document->mode();
    const Mode other = mode == Mode::Train ? Mode::Eval : Mode::Train;
    const QStringList& otherList = m_document->model().graph(other).names;
    // Empty: no node is marked "not in <other mode>" (the views' rule), as when the other mode has no graph.
    QSet<QString> otherNames;
    if (!m_document->model().modesHaveSameNames())
        otherNames = QSet<QString>(otherList.cbegin(), otherList.cend());
    if (!graph.error.isEmpty())
        showError(tr("The %1-mode graph could not be described: %2").arg(modeName(mode), graph.error));
    m_graph->setGraph(graph, otherNames, modeName(other));
    m_tree->build(graph, m_graph->moduleTree(), otherNames, modeName(other));
    m_tree->setShapes(m_document->shapes());
    m_graph->setShapes(m_document->shapes());
    m_returnsPanel->setCompletionNames(graph.names);
    updateTicks();
    m_finder->setNames(graph.names);
}

void MainWindow::setMode(Mode mode) { m_document->setMode(mode); }

void MainWindow::setImage(const QString& path) { m_document->setImagePath(QFileInfo(path).absoluteFilePath()); }

void MainWindow::addReturnNode(const QString& node, const QString& key)
{
    if (!node.isEmpty())
        m_document->returnNodes()->addNode(node, key);
}

bool MainWindow::addReturnNodeSpec(const QString& spec, QString* error) { return m_returnsPanel->addSpec(spec, error); }

void MainWindow::toggleReturnNode(const QString& name)
{
    ReturnNodesModel* returns = m_document->returnNodes();
    if (returns->resolvedNames().contains(name))
        returns->removeNode(name);
    else
        returns->addNode(name);
}

void MainWindow::updateTicks()
{
    const QSet<QString> names = m_document->returnNodes()->resolvedNames();
    m_graph->setTicked(names);
    m_tree->setChecked(names);
}

void MainWindow::showNode(const QString& name)
{
    m_graph->setCurrentNode(name, true);
    m_tree->showNode(name);
}

bool MainWindow::askToRunUnsafeOps(const QStringList& ops)
{
    const auto answer = QMessageBox::warning(
        this, tr("Run code that reaches outside the model?"),
        tr("%1 contains operations that can read or change files, talk to other machines, or run code "
           "featscope cannot inspect:\n\n%2\n\nRun it only if you trust the model's author.")
            .arg(QFileInfo(m_document->model().file).fileName(), ops.join(QStringLiteral("\n"))),
        QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
    return answer == QMessageBox::Yes;
}

void MainWindow::setUnsafeOpsConfirmation(std::function<bool(const QStringList& ops)> confirm)
{
    m_controller->setUnsafeOpsConfirmation(std::move(confirm));
}

EngineClient* MainWindow::engine() const { return m_controller->engine(); }

void MainWindow::run() { m_controller->run(); }

void MainWindow::cancelRun() { m_controller->cancelRun(); }

void MainWindow::compareWithModel(const QString& path)
{
    m_comparisonDock->show();
    m_comparisonDock->raise();
    m_controller->compareWithModel(path);
}

void MainWindow::computeStatistics()
{
    m_statisticsDock->show();
    m_statisticsDock->raise();
    m_controller->computeStatistics();
}

void MainWindow::showTopImages()
{
    m_topImagesDock->show();
    m_topImagesDock->raise();
}

void MainWindow::exportExtractor(const QString& path) { m_controller->exportExtractor(path); }

void MainWindow::saveSettings()
{
    m_settings.setWindowLayout(saveGeometry(), saveState());
    if (m_document->hasModel())
        m_settings.setModelState(m_document->model().file, m_document->saveState());
    m_settings.sync();
}

QString MainWindow::dialogDirectory() const
{
    const QString last = m_settings.lastDirectory();
    if (!last.isEmpty() && QFileInfo(last).isDir())
        return last;
    return m_document->hasModel() ? QFileInfo(m_document->model().file).absolutePath() : QDir::homePath();
}

void MainWindow::browseImage()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Image"), dialogDirectory(),
                                                      imageFileFilter());
    if (path.isEmpty())
        return;
    m_settings.setLastDirectory(path);
    setImage(path);
}

bool MainWindow::exportMapsPng(const QString& requested)
{
    // A name typed without a suffix still gets a PNG the system recognises.
    const QString path = QFileInfo(requested).suffix().compare(QLatin1String("png"), Qt::CaseInsensitive) == 0
                             ? requested
                             : requested + QStringLiteral(".png");
    QString error;
    const bool ok = m_results->exportPng(path, &error);
    if (ok)
        statusBar()->showMessage(tr("Saved the maps to %1.").arg(path), 5000);
    else
        showError(error);
    return ok;
}

bool MainWindow::exportTensors(const QString& directory)
{
    QString error;
    const QStringList written = m_results->exportNpy(directory, &error);
    if (!error.isEmpty()) {
        showError(error);
        return false;
    }
    statusBar()->showMessage(tr("Saved %n tensor(s) to %1.", nullptr, int(written.size())).arg(directory), 5000);
    return true;
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    saveSettings();
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasUrls())
        for (const QUrl& url : event->mimeData()->urls())
            if (url.isLocalFile() && (isModelFile(url.toLocalFile()) || isImageFile(url.toLocalFile()))) {
                event->acceptProposedAction();
                return;
            }
}

void MainWindow::dropEvent(QDropEvent* event)
{
    for (const QUrl& url : event->mimeData()->urls()) {
        const QString path = url.toLocalFile();
        if (isModelFile(path))
            openModel(path);
        else if (isImageFile(path))
            setImage(path);
    }
    event->acceptProposedAction();
}

} // namespace featscope::ui
