#include "MainWindow.h"

#include <featscope/Errors.h>
#include <featscope/NodeNames.h>
#include <featscope/ReturnNodes.h>

#include "EngineClient.h"
#include "GraphPanel.h"
#include "GraphScene.h"
#include "GraphView.h"
#include "NodeTreeModel.h"
#include "PreprocessingWidget.h"
#include "ResultsPanel.h"
#include "ReturnNodesModel.h"
#include "WheelGuard.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QCompleter>
#include <QDockWidget>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QRegularExpression>
#include <QPushButton>
#include <QScrollArea>
#include <QSortFilterProxyModel>
#include <QStatusBar>
#include <QStringListModel>
#include <QTableView>
#include <QToolBar>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>

#include <algorithm>
#include <functional>

namespace featscope::ui {

namespace {

// Backstops for an engine that stops answering; the engine's own caps (docs/engine-protocol.md) are shorter
// and answer with a message that names the limit.
constexpr int kLoadTimeoutMs = 600000;
constexpr int kExportTimeoutMs = 300000;

bool isModelFile(const QString& path)
{
    const QString suffix = QFileInfo(path).suffix().toLower();
    return suffix == QLatin1String("pt") || suffix == QLatin1String("pth") || suffix == QLatin1String("ptl")
        || suffix == QLatin1String("zip") || suffix == QLatin1String("torchscript");
}

bool isImageFile(const QString& path)
{
    static const QStringList suffixes{QStringLiteral("png"), QStringLiteral("jpg"), QStringLiteral("jpeg"),
                                      QStringLiteral("bmp"), QStringLiteral("gif"), QStringLiteral("webp"),
                                      QStringLiteral("pgm"), QStringLiteral("ppm")};
    return suffixes.contains(QFileInfo(path).suffix().toLower());
}

QString describe(const Preprocessing& p)
{
    QStringList parts;
    parts.append(p.resize > 0 ? QObject::tr("resize %1").arg(p.resize) : QObject::tr("no resize"));
    if (p.centerCrop > 0)
        parts.append(QObject::tr("crop %1").arg(p.centerCrop));
    parts.append(p.channels == 1 ? QObject::tr("grayscale") : QObject::tr("RGB"));
    return parts.join(QStringLiteral(", "));
}

QString errorText(const protocol::Status& status)
{
    QString message = status.error;
    // The engine's messages also serve the command line; advice to run featscope-cli does not help in the window.
    static const QRegularExpression cliAdvice(QStringLiteral("\\s*[^.]*`featscope-cli[^`]*`[^.]*\\."));
    message.remove(cliAdvice);
    if (!status.suggestions.isEmpty() && !message.contains(QLatin1String("closest names"), Qt::CaseInsensitive))
        message += QObject::tr(" Closest names: %1.").arg(status.suggestions.join(QStringLiteral(", ")));
    return message.isEmpty() ? QObject::tr("The engine gave no reason.") : message;
}

/// Shows rows whose name or path contains the search text, with their parents.
class NodeFilterModel : public QSortFilterProxyModel {
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;

protected:
    bool filterAcceptsRow(int row, const QModelIndex& parent) const override
    {
        if (filterRegularExpression().pattern().isEmpty())
            return true;
        const QModelIndex index = sourceModel()->index(row, 0, parent);
        return index.data(NodeTreeModel::NameRole).toString().contains(filterRegularExpression());
    }
};

} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), m_engine(new EngineClient(this)),
      m_graph(new GraphPanel), m_tree(new QTreeView), m_treeModel(new NodeTreeModel(this)),
      m_treeProxy(new NodeFilterModel(this)), m_returns(new ReturnNodesModel(this)), m_returnView(new QTableView),
      m_results(new ResultsPanel), m_preprocessing(new PreprocessingWidget), m_modelLabel(new QLabel),
      m_errorLabel(new QLabel), m_validation(new QLabel), m_statusLabel(new QLabel), m_progress(new QProgressBar), m_modeBox(new QComboBox),
      m_separate(new QCheckBox(tr("Separate train/eval selections"))), m_search(new QLineEdit), m_searchCount(new QLabel),
      m_addNode(new QLineEdit), m_image(new QLineEdit), m_runButton(new QPushButton(tr("Run"))),
      m_cancelButton(new QPushButton(tr("Cancel")))
{
    setWindowTitle(tr("featscope"));
    setObjectName(QStringLiteral("mainWindow"));
    setAcceptDrops(true);
    resize(1500, 950);

    // Centre: the graph with its toolbar.
    auto* graphBox = new QWidget;
    auto* graphLayout = new QVBoxLayout(graphBox);
    graphLayout->setContentsMargins(0, 0, 0, 0);
    graphLayout->setSpacing(0);
    auto* graphBar = new QToolBar;
    graphBar->setIconSize(QSize(16, 16));
    m_search->setPlaceholderText(tr("Find node (Ctrl+F)…"));
    m_search->setClearButtonEnabled(true);
    m_search->setObjectName(QStringLiteral("search"));
    m_search->setMaximumWidth(280);
    graphBar->addWidget(m_search);
    auto* previous = graphBar->addAction(tr("◀"), this, [this] { findNext(-1); });
    previous->setToolTip(tr("Previous match (Shift+F3)"));
    previous->setObjectName(QStringLiteral("findPrevious"));
    auto* next = graphBar->addAction(tr("▶"), this, [this] { findNext(1); });
    next->setToolTip(tr("Next match (F3, Enter)"));
    next->setObjectName(QStringLiteral("findNext"));
    m_searchCount->setObjectName(QStringLiteral("searchCount"));
    m_searchCount->setMinimumWidth(70);
    m_searchCount->setContentsMargins(6, 0, 6, 0);
    graphBar->addWidget(m_searchCount);
    graphBar->addSeparator();
    graphBar->addAction(tr("Zoom in"), m_graph->view(), &GraphView::zoomIn);
    graphBar->addAction(tr("Zoom out"), m_graph->view(), &GraphView::zoomOut);
    graphBar->addAction(tr("Fit"), m_graph->view(), &GraphView::fitAll)->setToolTip(tr("Show the whole graph (Ctrl+0)"));
    graphBar->addSeparator();
    graphBar->addAction(tr("Collapse all"), m_graph, &GraphPanel::collapseAll)->setToolTip(tr("One box per top-level module"));
    auto* depthButton = new QToolButton;
    depthButton->setText(tr("Expand to depth"));
    depthButton->setObjectName(QStringLiteral("expandDepth"));
    depthButton->setPopupMode(QToolButton::InstantPopup);
    depthButton->setMenu(createDepthMenu(depthButton));
    graphBar->addWidget(depthButton);
    graphBar->addAction(tr("Expand all"), m_graph, &GraphPanel::expandAll);
    graphLayout->addWidget(graphBar);
    graphLayout->addWidget(m_graph, 1);
    setCentralWidget(graphBox);

    // Left: node tree.
    m_treeProxy->setSourceModel(m_treeModel);
    m_treeProxy->setRecursiveFilteringEnabled(true);
    m_treeProxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_tree->setModel(m_treeProxy);
    m_tree->setObjectName(QStringLiteral("nodeTree"));
    m_tree->setUniformRowHeights(true);
    m_tree->setAlternatingRowColors(true);
    m_tree->header()->setSectionResizeMode(QHeaderView::Interactive);
    m_tree->setColumnWidth(0, 150);
    // Wide enough for the common layer types ("BatchNorm2d", "Conv2dNormActivation" is elided in the middle).
    m_tree->setColumnWidth(1, m_tree->fontMetrics().horizontalAdvance(QStringLiteral("BatchNorm2d")) + 24);
    auto* treeDock = new QDockWidget(tr("Nodes"), this);
    treeDock->setObjectName(QStringLiteral("nodesDock"));
    treeDock->setWidget(m_tree);
    treeDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable | QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::LeftDockWidgetArea, treeDock);

    // Right: model, return nodes, image, run.
    auto* sideDock = new QDockWidget(tr("Model and run"), this);
    sideDock->setObjectName(QStringLiteral("sideDock"));
    sideDock->setWidget(createSidePanel());
    sideDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable | QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::RightDockWidgetArea, sideDock);

    // Bottom: results.
    auto* resultsDock = new QDockWidget(tr("Feature maps"), this);
    m_resultsDock = resultsDock;
    resultsDock->setObjectName(QStringLiteral("resultsDock"));
    resultsDock->setWidget(m_results);
    resultsDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable | QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::BottomDockWidgetArea, resultsDock);
    resizeDocks({treeDock, sideDock}, {290, 400}, Qt::Horizontal);
    resizeDocks({resultsDock}, {360}, Qt::Vertical);
    m_graph->view()->setToolTip(tr("Tick a box to return that node. Double-click a module box to expand it, "
                                   "a module frame to collapse it. Wheel zooms, drag pans."));

    m_progress->setMaximumWidth(180);
    m_progress->setRange(0, 0);
    m_progress->hide();
    statusBar()->addWidget(m_statusLabel, 1);
    statusBar()->addPermanentWidget(m_progress);
    m_statusLabel->setText(tr("Open a TorchScript model: File > Open (Ctrl+O) or drop a .pt file here."));

    createMenus();

    connect(m_graph, &GraphPanel::tickClicked, this, [this](const QString& name, bool) { toggleReturnNode(name); });
    connect(m_graph, &GraphPanel::itemClicked, this, [this](const QString& name, bool) { onGraphItemClicked(name); });
    connect(m_graph, &GraphPanel::message, this, &MainWindow::showError);
    connect(m_graph, &GraphPanel::layoutStarted, this, [this](int boxes) {
        m_progress->show();
        m_statusLabel->setText(tr("Laying out the graph (%n box(es))…", nullptr, boxes));
    });
    connect(m_graph, &GraphPanel::layoutFinished, this, [this](qint64 ms, int boxes) {
        if (!isRunning() && !m_engine->isBusy())
            m_progress->hide();
        QString text = tr("%1 — %n box(es) drawn, layout %2 ms", nullptr, boxes).arg(QFileInfo(m_model.file).fileName()).arg(ms);
        if (m_timingOpen) {
            const qint64 total = m_openTimer.elapsed();
            text += tr(", opened in %1 ms").arg(total);
            qInfo("featscope: opened %s in %lld ms (engine load %lld ms, GUI thread %lld ms, layout %lld ms in the "
                  "background, %d boxes of %lld nodes)",
                  qPrintable(m_model.file), static_cast<long long>(total), static_cast<long long>(m_engineLoadMs),
                  static_cast<long long>(m_guiLoadMs), static_cast<long long>(ms), boxes,
                  static_cast<long long>(m_model.graph(m_mode).nodes.size()));
            m_timingOpen = false;
        }
        m_statusLabel->setText(text);
        Q_EMIT graphReady();
    });
    connect(m_treeModel, &NodeTreeModel::checkToggled, this, [this](const QString& name, bool) { toggleReturnNode(name); });
    connect(m_tree->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex& current) { onTreeCurrentChanged(current); });
    connect(m_returns, &ReturnNodesModel::selectionEdited, this, [this] {
        updateTicks();
        updateActions();
    });
    connect(m_returns, &QAbstractItemModel::dataChanged, this, [this] {
        updateTicks();
        updateValidation();
    });
    connect(m_returns, &QAbstractItemModel::modelReset, this, [this] { updateValidation(); });
    connect(m_returns, &QAbstractItemModel::rowsInserted, this, [this] { updateValidation(); });
    connect(m_returns, &QAbstractItemModel::rowsRemoved, this, [this] { updateValidation(); });
    connect(m_returnView->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& current) {
        if (!current.isValid())
            return;
        const auto& e = m_returns->entries().value(current.row());
        const QString name = e.resolved.isEmpty() ? e.node : e.resolved;
        m_graph->setCurrentNode(name, true);
    });
    connect(m_image, &QLineEdit::textChanged, this, &MainWindow::updateResultsFreshness);
    connect(m_preprocessing, &PreprocessingWidget::changed, this, &MainWindow::updateResultsFreshness);
    connect(m_search, &QLineEdit::textChanged, this, &MainWindow::onSearch);
    connect(m_search, &QLineEdit::returnPressed, this, [this] {
        // Enter before the pause shows the first match at once; after it, goes on to the next one.
        if (m_searchTimer.isActive()) {
            m_searchTimer.stop();
            showMatch();
        } else {
            findNext(1);
        }
    });
    m_searchTimer.setSingleShot(true);
    m_searchTimer.setInterval(200);
    connect(&m_searchTimer, &QTimer::timeout, this, &MainWindow::showMatch);
    connect(m_engine, &EngineClient::engineStopped, this, [this](const QString& message, protocol::ErrorKind kind) {
        if (kind != protocol::ErrorKind::Cancelled)
            showError(message);
    });

    // Start the engine now: loading LibTorch takes most of a second, better spent before the user opens a model.
    m_engine->send(QStringLiteral("hello"), {}, nullptr, 30000);

    takeWheelOnlyWhenFocused(this);
    updateValidation();
    restoreGeometry(m_settings.windowGeometry());
    restoreState(m_settings.windowState());
    // Until there are maps, the graph gets the room the maps would take.
    m_resultsDock->hide();
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

    auto* modelBox = new QGroupBox(tr("Model"));
    auto* modelLayout = new QVBoxLayout(modelBox);
    m_modelLabel->setObjectName(QStringLiteral("modelInfo"));
    m_modelLabel->setWordWrap(true);
    m_modelLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_modelLabel->setText(tr("No model open."));
    modelLayout->addWidget(m_modelLabel);
    auto* modeRow = new QHBoxLayout;
    m_modeBox->addItem(tr("eval"), int(Mode::Eval));
    m_modeBox->addItem(tr("train"), int(Mode::Train));
    m_modeBox->setObjectName(QStringLiteral("modeBox"));
    m_modeBox->setToolTip(tr("Graph, node names and run in training or evaluation mode"));
    modeRow->addWidget(new QLabel(tr("Mode:")));
    modeRow->addWidget(m_modeBox);
    modeRow->addStretch();
    modelLayout->addLayout(modeRow);
    layout->addWidget(modelBox);
    connect(m_modeBox, &QComboBox::currentIndexChanged, this, [this] { setMode(Mode(m_modeBox->currentData().toInt())); });

    auto* runBox = new QGroupBox(tr("Image"));
    auto* runLayout = new QVBoxLayout(runBox);
    auto* imageRow = new QHBoxLayout;
    m_image->setPlaceholderText(tr("PNG or JPEG image (or drop one here)"));
    m_image->setObjectName(QStringLiteral("imagePath"));
    auto* browse = new QPushButton(tr("Browse…"));
    imageRow->addWidget(m_image, 1);
    imageRow->addWidget(browse);
    runLayout->addLayout(imageRow);
    auto* runRow = new QHBoxLayout;
    m_runButton->setObjectName(QStringLiteral("runButton"));
    m_runButton->setStyleSheet(QStringLiteral("font-weight: bold;"));
    m_cancelButton->setObjectName(QStringLiteral("cancelButton"));
    m_cancelButton->setToolTip(tr("Stop the running model (Esc)"));
    m_cancelButton->setEnabled(false);
    runRow->addWidget(m_runButton, 1);
    runRow->addWidget(m_cancelButton);
    runLayout->addLayout(runRow);
    layout->addWidget(runBox);
    connect(browse, &QPushButton::clicked, this, &MainWindow::browseImage);
    connect(m_runButton, &QPushButton::clicked, this, &MainWindow::run);
    connect(m_cancelButton, &QPushButton::clicked, this, &MainWindow::cancelRun);
    connect(m_image, &QLineEdit::textChanged, this, [this] { updateActions(); });

    auto* returnBox = new QGroupBox(tr("Return nodes"));
    auto* returnLayout = new QVBoxLayout(returnBox);
    m_returnView->setModel(m_returns);
    m_returnView->setObjectName(QStringLiteral("returnNodes"));
    m_returnView->verticalHeader()->hide();
    m_returnView->horizontalHeader()->setStretchLastSection(true);
    m_returnView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_returnView->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed
                                  | QAbstractItemView::AnyKeyPressed);
    m_returnView->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_returnView->horizontalHeader()->setSectionResizeMode(ReturnNodesModel::StatusColumn, QHeaderView::ResizeToContents);
    m_returnView->horizontalHeader()->setStretchLastSection(false);
    m_returnView->setMinimumHeight(110);
    returnLayout->addWidget(m_returnView, 1);
    m_validation->setObjectName(QStringLiteral("validation"));
    m_validation->setWordWrap(true);
    m_validation->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::LinksAccessibleByMouse);
    m_validation->setTextFormat(Qt::RichText);
    connect(m_validation, &QLabel::linkActivated, this, [this](const QString& link) {
        const int colon = link.indexOf(QLatin1Char(':'));
        m_returns->replaceNode(link.left(colon).toInt(), link.mid(colon + 1));
    });
    auto* addRow = new QHBoxLayout;
    m_addNode->setPlaceholderText(tr("node or truncated name, e.g. layer1"));
    m_addNode->setObjectName(QStringLiteral("addNode"));
    auto* addButton = new QPushButton(tr("Add"));
    auto* removeButton = new QPushButton(tr("Remove"));
    addRow->addWidget(m_addNode, 1);
    addRow->addWidget(addButton);
    addRow->addWidget(removeButton);
    returnLayout->addLayout(addRow);
    returnLayout->addWidget(m_validation);
    m_separate->setToolTip(tr("Keep different return nodes for train and eval mode (exported together)"));
    returnLayout->addWidget(m_separate);
    layout->addWidget(returnBox, 1);
    auto add = [this] {
        const QString text = m_addNode->text().trimmed();
        if (text.isEmpty())
            return;
        QString error;
        if (!addReturnNodeSpec(text, &error)) {
            statusBar()->showMessage(error, 8000);
            return;
        }
        m_addNode->clear();
    };
    connect(m_addNode, &QLineEdit::returnPressed, this, add);
    connect(addButton, &QPushButton::clicked, this, add);
    removeButton->setToolTip(tr("Remove the selected rows (Delete)"));
    auto* removeAction = new QAction(tr("Remove Selected Return Nodes"), m_returnView);
    removeAction->setShortcuts({QKeySequence::Delete, QKeySequence(Qt::Key_Backspace)});
    removeAction->setShortcutContext(Qt::WidgetShortcut);
    m_returnView->addAction(removeAction);
    connect(removeAction, &QAction::triggered, this, &MainWindow::removeSelectedReturnNodes);
    connect(removeButton, &QPushButton::clicked, this, &MainWindow::removeSelectedReturnNodes);
    connect(m_separate, &QCheckBox::toggled, m_returns, &ReturnNodesModel::setSeparateModes);

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

void MainWindow::createMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open Model…"), QKeySequence::Open, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open TorchScript Model"), dialogDirectory(),
                                                          tr("TorchScript models (*.pt *.pth *.ptl *.zip);;All files (*)"));
        if (!path.isEmpty()) {
            m_settings.setLastDirectory(path);
            openModel(path);
        }
    });
    file->addAction(tr("Open &Image…"), QKeySequence(tr("Ctrl+I")), this, &MainWindow::browseImage);
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    file->addSeparator();
    m_exportAction = file->addAction(tr("&Export Extractor…"), QKeySequence(tr("Ctrl+E")), this, [this] {
        const QString base = QFileInfo(m_model.file).completeBaseName() + QStringLiteral("_extractor.pt");
        QString path = QFileDialog::getSaveFileName(this, tr("Export Feature Extractor"), QDir(dialogDirectory()).filePath(base),
                                                    tr("TorchScript models (*.pt)"));
        if (path.isEmpty())
            return;
        if (QFileInfo(path).suffix().isEmpty())
            path += QStringLiteral(".pt");
        m_settings.setLastDirectory(path);
        exportExtractor(path);
    });
    m_exportPngAction = file->addAction(tr("Export Shown Maps as &PNG…"), this, [this] {
        const QString base = QStringLiteral("%1_%2.png").arg(QFileInfo(m_model.file).completeBaseName(),
                                                             m_results->currentView() ? m_results->currentView()->output().key : QStringLiteral("maps"));
        const QString path = QFileDialog::getSaveFileName(this, tr("Export Maps"), QDir(dialogDirectory()).filePath(base),
                                                          tr("PNG images (*.png)"));
        if (path.isEmpty())
            return;
        m_settings.setLastDirectory(path);
        exportMapsPng(path);
    });
    m_exportNpyAction = file->addAction(tr("Export Tensors as .&npy…"), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Export Tensors to Folder"), dialogDirectory());
        if (dir.isEmpty())
            return;
        m_settings.setLastDirectory(dir);
        exportTensors(dir);
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(tr("Zoom &In"), QKeySequence::ZoomIn, m_graph->view(), &GraphView::zoomIn);
    view->addAction(tr("Zoom &Out"), QKeySequence::ZoomOut, m_graph->view(), &GraphView::zoomOut);
    view->addAction(tr("&Fit Graph"), QKeySequence(tr("Ctrl+0")), m_graph->view(), &GraphView::fitAll);
    view->addAction(tr("Actual &Size"), QKeySequence(tr("Ctrl+1")), m_graph->view(), &GraphView::resetZoom);
    view->addSeparator();
    view->addAction(tr("&Collapse All Modules"), m_graph, &GraphPanel::collapseAll);
    view->addMenu(createDepthMenu(view))->setText(tr("Expand to &Depth"));
    view->addAction(tr("&Expand All Modules"), m_graph, &GraphPanel::expandAll);
    view->addAction(tr("De&fault Collapsing"), m_graph, &GraphPanel::collapseToDefault);
    view->addSeparator();
    view->addAction(tr("Fin&d Node"), QKeySequence::Find, this, [this] {
        m_search->setFocus();
        m_search->selectAll();
    });
    view->addAction(tr("Find &Next"), QKeySequence::FindNext, this, [this] { findNext(1); });
    view->addAction(tr("Find &Previous"), QKeySequence::FindPrevious, this, [this] { findNext(-1); });
    view->addSeparator();
    for (QDockWidget* dock : findChildren<QDockWidget*>())
        view->addAction(dock->toggleViewAction());

    QMenu* runMenu = menuBar()->addMenu(tr("&Run"));
    m_runAction = runMenu->addAction(tr("&Run Extractor"), QKeySequence(tr("Ctrl+R")), this, &MainWindow::run);
    runMenu->addAction(tr("&Cancel Run"), QKeySequence(Qt::Key_Escape), this, &MainWindow::cancelRun);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About featscope"), this, [this] {
        QMessageBox::about(this, tr("About featscope"),
                           tr("<h3>featscope %1</h3><p>torchvision's feature extraction for TorchScript models: browse "
                              "the named graph, choose return nodes, look at feature maps and export the pruned "
                              "extractor.</p><p>Models are loaded and run in a separate engine process "
                              "(featscope-engine), so a broken model cannot take this window down.</p>")
                               .arg(QApplication::applicationVersion()));
    });
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

QMenu* MainWindow::createDepthMenu(QWidget* parent)
{
    auto* menu = new QMenu(tr("Expand to depth"), parent);
    // Filled when shown: the depths the open graph has.
    connect(menu, &QMenu::aboutToShow, this, [this, menu] {
        menu->clear();
        const int deepest = m_graph->maxDepth();
        for (int depth = 1; depth <= deepest; ++depth)
            menu->addAction(tr("Depth %1").arg(depth), this, [this, depth] { m_graph->expandToDepth(depth); });
        if (deepest == 0)
            menu->addAction(tr("(no modules)"))->setEnabled(false);
    });
    return menu;
}

void MainWindow::updateRecentMenu()
{
    m_recentMenu->clear();
    const QStringList files = m_settings.recentFiles();
    for (const QString& path : files)
        m_recentMenu->addAction(QFileInfo(path).fileName() + QStringLiteral("  —  ") + QFileInfo(path).absolutePath(), this,
                                [this, path] { openModel(path); });
    m_recentMenu->setEnabled(!files.isEmpty());
}

void MainWindow::updateActions()
{
    const bool running = isRunning();
    const QString invalid = m_returns->firstError();
    const bool canRun = m_hasModel && !running && invalid.isEmpty();
    m_runButton->setEnabled(canRun);
    m_runButton->setToolTip(invalid.isEmpty() ? tr("Run the pruned extractor on the image (Ctrl+R)")
                                              : tr("Fix the return nodes first. %1").arg(invalid));
    m_cancelButton->setEnabled(running);
    if (m_runAction)
        m_runAction->setEnabled(canRun);
    if (m_exportAction)
        m_exportAction->setEnabled(m_hasModel && !m_returns->entries().isEmpty() && invalid.isEmpty());
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

void MainWindow::openModel(const QString& path)
{
    if (isRunning())
        cancelRun();
    saveSettings();
    clearError();
    m_openTimer.start();
    m_timingOpen = false;
    setBusy(tr("Loading %1…").arg(QFileInfo(path).fileName()));
    const QString absolute = QFileInfo(path).absoluteFilePath();
    m_loadRequest = m_engine->load(protocol::LoadRequest{absolute, {}, {}},
                                   [this, absolute](const protocol::LoadResult& r) { onModelLoaded(r, absolute); }, kLoadTimeoutMs);
}

void MainWindow::onModelLoaded(const protocol::LoadResult& result, const QString& path)
{
    m_loadRequest = 0;
    if (!result.status.ok) {
        setIdle(tr("Could not open %1.").arg(QFileInfo(path).fileName()));
        showError(tr("Cannot open %1: %2").arg(QFileInfo(path).fileName(), errorText(result.status)));
        Q_EMIT modelLoaded(false);
        return;
    }
    m_engineLoadMs = qint64(result.elapsedMs);
    QElapsedTimer guiTimer;
    guiTimer.start();
    forgetModel();
    m_model = ModelInfo::fromJson(result.model);
    m_hasModel = true;
    m_returns->setGraphs(m_model.graph(Mode::Train).description, m_model.graph(Mode::Eval).description);
    m_unsafeOpsAllowed = m_model.unsafeOps.isEmpty();
    m_settings.addRecentFile(m_model.file);
    updateRecentMenu();
    setWindowTitle(tr("%1 — featscope").arg(QFileInfo(m_model.file).fileName()));

    const QJsonObject state = m_settings.modelState(m_model.file);
    m_preprocessing->setValue(m_model.preprocessing);
    restoreModelState(state);
    if (!m_model.warning.isEmpty())
        statusBar()->showMessage(m_model.warning, 8000);
    else
        statusBar()->showMessage(tr("Tick boxes in the graph to choose return nodes; double-click a module to expand it."), 8000);
    m_timingOpen = true;
    showModeGraph();
    updateModelPanel();
    updateActions();
    m_guiLoadMs = guiTimer.elapsed();
    Q_EMIT modelLoaded(true);
}

// Opening a model is one transaction: whatever the previous model's session held goes, and every view
// hears about it. (A reset emitted under a QSignalBlocker once left the return-node table drawing rows its
// model no longer had, and QHeaderView then hung sizing them.)
void MainWindow::forgetModel()
{
    ++m_modelGeneration; // answers to requests about the previous model are dropped
    m_returns->clearAll();
    m_returns->clearGraphs();
    m_search->clear();
    m_addNode->clear();
    m_shapes.clear();
    m_results->clear();
    m_graph->clear();
    m_tree->setCurrentIndex({});
}

QJsonObject MainWindow::runInputs() const
{
    return QJsonObject{{QStringLiteral("model"), m_model.file},
                       {QStringLiteral("mode"), modeName(m_mode)},
                       {QStringLiteral("image"), imagePath()},
                       {QStringLiteral("preprocessing"), m_preprocessing->value().toRequest()}};
}

void MainWindow::updateResultsFreshness()
{
    if (m_results->outputCount() == 0)
        return;
    const QJsonObject now = runInputs();
    auto changed = [&](const char* field) { return now.value(QLatin1String(field)) != m_resultsInputs.value(QLatin1String(field)); };
    QStringList reasons;
    if (m_lastRunFailed)
        reasons.append(tr("the last run failed."));
    if (changed("model"))
        reasons.append(tr("another model is open."));
    if (changed("mode"))
        reasons.append(tr("the mode is now %1.").arg(modeName(m_mode)));
    if (changed("image"))
        reasons.append(tr("the image is now %1.").arg(QFileInfo(imagePath()).fileName()));
    if (changed("preprocessing"))
        reasons.append(tr("the preprocessing changed (%1).").arg(describe(m_preprocessing->value())));
    m_results->setOutOfDate(reasons.join(QLatin1Char(' ')));
}

void MainWindow::restoreModelState(const QJsonObject& state)
{
    if (state.isEmpty())
        return;
    const QSignalBlocker blockSeparate(m_separate);
    m_returns->restoreState(state.value(QStringLiteral("returnNodes")).toObject());
    m_separate->setChecked(m_returns->separateModes());
    m_mode = modeFromName(state.value(QStringLiteral("mode")).toString(QStringLiteral("eval")));
    {
        const QSignalBlocker blockMode(m_modeBox);
        m_modeBox->setCurrentIndex(m_modeBox->findData(int(m_mode)));
    }
    m_returns->setMode(m_mode);
    if (state.contains(QStringLiteral("preprocessing")))
        m_preprocessing->setValue(preprocessingFromRequest(state.value(QStringLiteral("preprocessing")).toObject(),
                                                           m_model.preprocessing));
    const QString image = state.value(QStringLiteral("image")).toString();
    if (!image.isEmpty() && imagePath().isEmpty())
        m_image->setText(image);
    m_results->setGradientName(state.value(QStringLiteral("colourMap")).toString());
    if (state.contains(QStringLiteral("normalisation")))
        m_results->setNormalisation(Normalisation(state.value(QStringLiteral("normalisation")).toInt()));
}

QJsonObject MainWindow::modelState() const
{
    return QJsonObject{{QStringLiteral("returnNodes"), m_returns->saveState()},
                       {QStringLiteral("mode"), modeName(m_mode)},
                       {QStringLiteral("preprocessing"), m_preprocessing->value().toRequest()},
                       {QStringLiteral("image"), imagePath()},
                       {QStringLiteral("colourMap"), m_results->gradientName()},
                       {QStringLiteral("normalisation"), int(m_results->normalisation())}};
}

void MainWindow::saveSettings()
{
    m_settings.setWindowLayout(saveGeometry(), saveState());
    if (m_hasModel)
        m_settings.setModelState(m_model.file, modelState());
    m_settings.sync();
}

void MainWindow::updateModelPanel()
{
    const ModeGraph& train = m_model.graph(Mode::Train);
    const ModeGraph& eval = m_model.graph(Mode::Eval);
    const QSet<QString> trainNames(train.names.cbegin(), train.names.cend());
    const QSet<QString> evalNames(eval.names.cbegin(), eval.names.cend());
    const int onlyTrain = int((trainNames - evalNames).size()), onlyEval = int((evalNames - trainNames).size());
    QString text = tr("<b>%1</b><br>class %2<br>%3 parameters · inputs: %4<br>nodes: %5 train, %6 eval")
                       .arg(QFileInfo(m_model.file).fileName().toHtmlEscaped(), m_model.className.toHtmlEscaped(),
                            QLocale().toString(m_model.parameterCount), m_model.inputs.join(QStringLiteral(", ")).toHtmlEscaped())
                       .arg(train.names.size())
                       .arg(eval.names.size());
    if (onlyTrain || onlyEval)
        text += tr(" (%1 only in train, %2 only in eval)").arg(onlyTrain).arg(onlyEval);
    if (m_model.hasPreprocessing)
        text += tr("<br>preprocessing from the model file");
    if (!m_model.classes.isEmpty())
        text += tr("<br>%n class(es)", nullptr, int(m_model.classes.size()));
    m_modelLabel->setText(text);
    m_modelLabel->setToolTip(m_model.file);
}

void MainWindow::showModeGraph()
{
    const ModeGraph& graph = m_model.graph(m_mode);
    const Mode other = m_mode == Mode::Train ? Mode::Eval : Mode::Train;
    const QStringList& otherList = m_model.graph(other).names;
    QSet<QString> otherNames(otherList.cbegin(), otherList.cend());
    if (otherNames.isEmpty())
        otherNames = QSet<QString>(graph.names.cbegin(), graph.names.cend());
    if (!graph.error.isEmpty())
        showError(tr("The %1-mode graph could not be described: %2").arg(modeName(m_mode), graph.error));
    m_graph->setGraph(graph, otherNames, modeName(other));
    m_treeModel->build(graph, m_graph->moduleTree(), otherNames, modeName(other));
    if (graph.nodes.size() <= 300)
        m_tree->expandAll();
    else
        m_tree->expandToDepth(0);
    m_treeModel->setShapes(m_shapes);
    auto* completer = new QCompleter(graph.names, m_addNode);
    completer->setCaseSensitivity(Qt::CaseInsensitive);
    completer->setFilterMode(Qt::MatchContains);
    delete m_addNode->completer();
    m_addNode->setCompleter(completer);
    m_graph->setShapes(m_shapes);
    updateTicks();
    onSearch(m_search->text());
}

void MainWindow::setMode(Mode mode)
{
    if (m_modeBox->currentData().toInt() != int(mode)) {
        m_modeBox->setCurrentIndex(m_modeBox->findData(int(mode))); // comes back here
        return;
    }
    if (mode == m_mode)
        return;
    m_mode = mode;
    m_returns->setMode(mode);
    updateResultsFreshness();
    if (m_hasModel)
        showModeGraph();
}

QString MainWindow::imagePath() const { return m_image->text().trimmed(); }

void MainWindow::setImage(const QString& path)
{
    m_image->setText(QFileInfo(path).absoluteFilePath());
}

void MainWindow::addReturnNode(const QString& node, const QString& key)
{
    if (!node.isEmpty())
        m_returns->addNode(node, key);
}

bool MainWindow::addReturnNodeSpec(const QString& spec, QString* error)
{
    try {
        const featscope::ReturnNode node = featscope::parseReturnNodeSpec(spec.toStdString());
        addReturnNode(QString::fromStdString(node.node), QString::fromStdString(node.key));
        return true;
    } catch (const featscope::Error& e) {
        if (error)
            *error = QString::fromStdString(e.what());
        return false;
    }
}

void MainWindow::removeSelectedReturnNodes()
{
    QList<int> rows;
    for (const QModelIndex& index : m_returnView->selectionModel()->selectedRows())
        rows.append(index.row());
    if (rows.isEmpty() && m_returnView->currentIndex().isValid())
        rows.append(m_returnView->currentIndex().row());
    std::sort(rows.begin(), rows.end(), std::greater<int>());
    for (int row : rows)
        m_returns->removeRowAt(row);
}

void MainWindow::toggleReturnNode(const QString& name)
{
    if (m_returns->resolvedNames().contains(name))
        m_returns->removeNode(name);
    else
        m_returns->addNode(name);
}

void MainWindow::updateTicks()
{
    const QSet<QString> names = m_returns->resolvedNames();
    m_graph->setTicked(names);
    m_treeModel->setChecked(names);
}

void MainWindow::updateValidation()
{
    // A row's error lives in the row (status, colour, tooltip); here are only its fixes, as links.
    QStringList lines;
    const auto& entries = m_returns->entries();
    for (int row = 0; row < entries.size(); ++row) {
        if (entries[row].severity != 2 || entries[row].suggestions.isEmpty())
            continue;
        QStringList links;
        for (const QString& name : entries[row].suggestions)
            links.append(QStringLiteral("<a href=\"%1:%2\">%3</a>").arg(row).arg(name.toHtmlEscaped(), name.toHtmlEscaped()));
        lines.append(tr("Instead of <b>%1</b>: %2").arg(entries[row].node.toHtmlEscaped(), links.join(QStringLiteral(" · "))));
    }
    // Never empty, so the fields above it do not move when the first row arrives.
    if (lines.isEmpty())
        m_validation->setText(tr("<span style='color:#607d8b'>Tick boxes in the graph or the node list, or type a "
                                 "name above. Double-click a key to rename it.</span>"));
    else
        m_validation->setText(lines.join(QStringLiteral("<br>")));
    updateActions();
}

void MainWindow::onGraphItemClicked(const QString& name)
{
    m_graph->setCurrentNode(name, false);
    const QModelIndex source = m_treeModel->indexForName(name);
    if (!source.isValid())
        return;
    const QModelIndex index = m_treeProxy->mapFromSource(source);
    m_syncing = true;
    m_tree->setCurrentIndex(index);
    m_tree->scrollTo(index);
    m_syncing = false;
}

void MainWindow::onTreeCurrentChanged(const QModelIndex& current)
{
    if (m_syncing || !current.isValid())
        return;
    const QString name = current.siblingAtColumn(0).data(NodeTreeModel::NameRole).toString();
    m_graph->setCurrentNode(name, true);
}

void MainWindow::onSearch(const QString& text)
{
    const QString needle = text.trimmed();
    m_treeProxy->setFilterRegularExpression(QRegularExpression(QRegularExpression::escape(needle),
                                                               QRegularExpression::CaseInsensitiveOption));
    if (!needle.isEmpty())
        m_tree->expandAll();
    m_searchMatches.clear();
    if (!needle.isEmpty())
        for (const QString& name : m_model.graph(m_mode).names)
            if (name.contains(needle, Qt::CaseInsensitive))
                m_searchMatches.append(name);
    m_graph->setMatches(QSet<QString>(m_searchMatches.cbegin(), m_searchMatches.cend()));
    m_searchIndex = int(m_searchMatches.indexOf(preferredMatch(needle)));
    if (m_searchIndex < 0 && !m_searchMatches.isEmpty())
        m_searchIndex = 0;
    if (needle.isEmpty())
        m_searchCount->clear();
    else if (m_searchMatches.isEmpty())
        m_searchCount->setText(tr("no match"));
    else
        m_searchCount->setText(tr("%1 of %2").arg(m_searchIndex + 1).arg(m_searchMatches.size()));
    if (m_searchIndex >= 0)
        m_searchTimer.start(); // jump as you type, once the typing pauses (a jump may expand and lay out)
    else
        m_searchTimer.stop();
}

QString MainWindow::preferredMatch(const QString& text) const
{
    if (text.isEmpty())
        return {};
    std::vector<std::string> names;
    for (const QString& name : m_model.graph(m_mode).names)
        names.push_back(name.toStdString());
    // An exact or truncated name selects the node it resolves to, as a return node would.
    if (const auto target = featscope::resolveNodeName(names, text.toStdString()))
        return QString::fromStdString(*target);
    // A trailing part of a path ("block3" for "features.block3") selects like the full prefix.
    for (const QString& name : m_model.graph(m_mode).names) {
        const QString dotted = QLatin1Char('.') + name + QLatin1Char('.');
        const int at = int(dotted.indexOf(QLatin1Char('.') + text + QLatin1Char('.')));
        if (at >= 0) {
            const auto target = featscope::resolveNodeName(names, name.left(at + text.size()).toStdString());
            return target ? QString::fromStdString(*target) : QString();
        }
    }
    return {};
}

void MainWindow::findNext(int step)
{
    m_searchTimer.stop();
    if (m_searchMatches.isEmpty()) {
        if (!m_search->text().trimmed().isEmpty())
            statusBar()->showMessage(tr("No node matches \"%1\".").arg(m_search->text().trimmed()), 5000);
        return;
    }
    const int count = int(m_searchMatches.size());
    m_searchIndex = ((m_searchIndex + step) % count + count) % count;
    showMatch();
}

void MainWindow::showMatch()
{
    if (m_searchIndex < 0 || m_searchIndex >= m_searchMatches.size())
        return;
    const QString target = m_searchMatches.at(m_searchIndex);
    m_searchCount->setText(tr("%1 of %2").arg(m_searchIndex + 1).arg(m_searchMatches.size()));
    m_graph->setCurrentNode(target, true);
    const QModelIndex index = m_treeProxy->mapFromSource(m_treeModel->indexForName(target));
    m_syncing = true;
    m_tree->setCurrentIndex(index);
    m_tree->scrollTo(index);
    m_syncing = false;
}

// PyTorch's security policy: a TorchScript file is code. Running one that writes or reads files,
// talks to the network or calls unknown custom ops needs the user's word, once per opened model.
bool MainWindow::confirmUnsafeOps()
{
    if (m_unsafeOpsAllowed)
        return true;
    if (m_confirmUnsafeOps) {
        m_unsafeOpsAllowed = m_confirmUnsafeOps(m_model.unsafeOps);
        return m_unsafeOpsAllowed;
    }
    const auto answer = QMessageBox::warning(
        this, tr("Run code that reaches outside the model?"),
        tr("%1 contains operations that can read or change files, talk to other machines, or run code "
           "featscope cannot inspect:\n\n%2\n\nRun it only if you trust the model's author.")
            .arg(QFileInfo(m_model.file).fileName(), m_model.unsafeOps.join(QStringLiteral("\n"))),
        QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
    m_unsafeOpsAllowed = answer == QMessageBox::Yes;
    return m_unsafeOpsAllowed;
}

void MainWindow::run()
{
    if (isRunning())
        return;
    if (!m_hasModel) {
        showError(tr("Open a model first (File > Open)."));
        Q_EMIT runFinished(false);
        return;
    }
    if (m_returns->entries().isEmpty()) {
        showError(tr("Tick at least one return node in the graph or the node list, or type one under Return nodes."));
        Q_EMIT runFinished(false);
        return;
    }
    if (m_returns->hasErrors()) {
        showError(tr("Fix the return nodes first. %1").arg(m_returns->firstError()));
        Q_EMIT runFinished(false);
        return;
    }
    if (imagePath().isEmpty()) {
        showError(tr("Choose an image first: Browse…, File > Open Image (Ctrl+I) or drop one on the window."));
        Q_EMIT runFinished(false);
        return;
    }
    QString problem;
    if (!m_preprocessing->isValid(&problem)) {
        showError(problem);
        Q_EMIT runFinished(false);
        return;
    }
    if (!confirmUnsafeOps()) {
        showError(tr("Not run: the model's code reaches outside the model and you did not allow it."));
        Q_EMIT runFinished(false);
        return;
    }
    clearError();
    QElapsedTimer timer;
    timer.start();
    const protocol::RunRequest request{imagePath(), m_preprocessing->value(), m_mode, m_returns->returnNodes(m_mode),
                                       m_unsafeOpsAllowed};
    setBusy(tr("Running %1 on %2…").arg(QFileInfo(m_model.file).fileName(), QFileInfo(imagePath()).fileName()));
    if (m_resultsDock->isHidden() && !m_resultsDock->isFloating()) {
        m_resultsDock->show();
        resizeDocks({m_resultsDock}, {height() * 2 / 5}, Qt::Vertical);
    }
    m_results->showMessage(tr("Running…"), false);
    m_runRequest = m_engine->run(request, [this, timer, generation = m_modelGeneration,
                                           inputs = runInputs()](const protocol::RunResult& r) {
        m_runRequest = 0;
        updateActions();
        if (generation != m_modelGeneration) { // another model opened meanwhile; these outputs are not its
            setIdle(tr("Run of the previous model dropped."));
            Q_EMIT runFinished(false);
            return;
        }
        if (!r.status.ok) {
            const bool cancelled = r.status.errorKind == protocol::ErrorKind::Cancelled;
            setIdle(cancelled ? tr("Run cancelled.") : tr("Run failed."));
            m_results->showMessage(cancelled ? tr("Run cancelled.") : tr("Run failed: %1").arg(errorText(r.status)), !cancelled);
            if (!cancelled) {
                m_lastRunFailed = true;
                updateResultsFreshness();
                showError(tr("Run failed: %1").arg(errorText(r.status)));
            }
            Q_EMIT runFinished(false);
            return;
        }
        const QVector<RunOutput>& outputs = r.outputs;
        m_shapes.clear();
        for (const RunOutput& output : outputs)
            m_shapes.insert(output.node, output.shapeText());
        QStringList inputShape;
        for (qint64 d : r.inputShape)
            inputShape.append(QString::number(d));
        const QString summary = tr("%1 · %2 mode · %3 · %4 · input %5 · %n output(s) · engine %6 ms", nullptr, int(outputs.size()))
                                    .arg(QFileInfo(inputs.value(QStringLiteral("model")).toString()).fileName(),
                                         modeName(r.mode),
                                         QFileInfo(inputs.value(QStringLiteral("image")).toString()).fileName(),
                                         describe(preprocessingFromRequest(inputs.value(QStringLiteral("preprocessing")).toObject(), {})),
                                         inputShape.join(QChar(0x00D7)))
                                    .arg(qint64(r.elapsedMs));
        const bool ok = m_results->setResults(outputs, summary);
        m_resultsInputs = inputs;
        m_lastRunFailed = false;
        updateResultsFreshness();
        m_graph->setShapes(m_shapes);
        m_treeModel->setShapes(m_shapes);
        setIdle(tr("Ran in %1 ms.").arg(timer.elapsed()));
        updateActions();
        Q_EMIT runFinished(ok);
    }, m_runTimeoutMs);
    updateActions();
}

void MainWindow::cancelRun()
{
    if (m_runRequest != 0)
        m_engine->cancel(m_runRequest);
}

void MainWindow::exportExtractor(const QString& path)
{
    if (!m_hasModel || m_returns->entries().isEmpty()) {
        showError(tr("Open a model and choose return nodes before exporting."));
        Q_EMIT exportFinished(false, path);
        return;
    }
    if (!confirmUnsafeOps()) {
        showError(tr("Not exported: the model's code reaches outside the model and you did not allow it."));
        Q_EMIT exportFinished(false, path);
        return;
    }
    const bool separate = m_returns->separateModes();
    const protocol::ExportRequest request{QFileInfo(path).absoluteFilePath(), m_mode,
                                          m_returns->returnNodes(separate ? Mode::Train : m_mode),
                                          m_returns->returnNodes(separate ? Mode::Eval : m_mode), m_unsafeOpsAllowed};
    setBusy(tr("Exporting the extractor to %1…").arg(QFileInfo(path).fileName()));
    m_engine->exportExtractor(request, [this, path](const protocol::ExportResult& r) {
        const bool ok = r.status.ok;
        if (ok)
            setIdle(tr("Exported the extractor to %1.").arg(r.path));
        else {
            setIdle(tr("Export failed."));
            showError(tr("Cannot export the extractor: %1").arg(errorText(r.status)));
        }
        Q_EMIT exportFinished(ok, path);
    }, kExportTimeoutMs);
}

QString MainWindow::dialogDirectory() const
{
    const QString last = m_settings.lastDirectory();
    if (!last.isEmpty() && QFileInfo(last).isDir())
        return last;
    return m_hasModel ? QFileInfo(m_model.file).absolutePath() : QDir::homePath();
}

void MainWindow::browseImage()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Image"), dialogDirectory(),
                                                      tr("Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.pgm *.ppm)"));
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
