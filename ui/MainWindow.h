#pragma once

#include "ModelInfo.h"
#include "SettingsStore.h"

#include <QMainWindow>

#include <functional>

class QAction;
class QDockWidget;
class QLabel;
class QMenu;
class QProgressBar;

namespace featscope::ui {

class EngineClient;
class GraphPanel;
class ImagePanel;
class ModelComparisonPanel;
class TopImagesPanel;
class InputPanel;
class ModelController;
class ModelDocument;
class NodeFinder;
class NodeTreePanel;
class PreprocessingWidget;
class ResultsPanel;
class ReturnNodesPanel;
class StatisticsPanel;

/// featscope's main window: the docks around one ModelDocument (node tree, graph, model and run, feature
/// maps) and the named actions of its menus. State lives in the document, engine work in the
/// ModelController; the public methods are what the menus call, without dialogs, so tests and headless
/// mode drive the same paths.
class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Actions without dialogs.
    void openModel(const QString& path);
    void setImage(const QString& path);
    void setMode(Mode mode);
    /// Adds a return node (a possibly truncated name) with an optional key.
    void addReturnNode(const QString& node, const QString& key = {});
    /// Adds "NODE" or "NODE=KEY" (featscope::parseReturnNodeSpec, the CLI's rule); false with the reason
    /// in `error` when the text is no such spec.
    bool addReturnNodeSpec(const QString& spec, QString* error = nullptr);
    void run();
    void cancelRun();
    /// Summarises every node on the image (Run > Compute Statistics) into the Statistics dock.
    void computeStatistics();
    /// Shows the Top images dock in front (Run > Find Top Images).
    void showTopImages();
    /// Runs the model at `path` beside the open one and compares them node by node (File > Compare with Model).
    void compareWithModel(const QString& path);
    void exportExtractor(const QString& path);
    /// Saves the current output's maps as PNG with a title; ".png" is appended when `path` lacks it.
    bool exportMapsPng(const QString& path);
    bool exportTensors(const QString& directory);
    /// Asks whether to run a model whose code reaches outside it (test hook; default: a dialog).
    void setUnsafeOpsConfirmation(std::function<bool(const QStringList& ops)> confirm);
    /// Saves the window layout and the current model's state to the settings now.
    void saveSettings();

    /// The open model's state.
    ModelDocument* document() const { return m_document; }
    ModelController* controller() const { return m_controller; }
    EngineClient* engine() const;
    /// The message shown in the error banner (the last one reported).
    QString lastError() const { return m_lastError; }

    // The window's parts.
    GraphPanel* graphPanel() const { return m_graph; }
    NodeTreePanel* nodeTreePanel() const { return m_tree; }
    NodeFinder* finder() const { return m_finder; }
    ReturnNodesPanel* returnNodesPanel() const { return m_returnsPanel; }
    ImagePanel* imagePanel() const { return m_imagePanel; }
    PreprocessingWidget* preprocessing() const { return m_preprocessing; }
    ResultsPanel* results() const { return m_results; }
    InputPanel* inputPanel() const { return m_inputPanel; }
    StatisticsPanel* statisticsPanel() const { return m_statisticsPanel; }
    ModelComparisonPanel* comparisonPanel() const { return m_comparisonPanel; }
    TopImagesPanel* topImagesPanel() const { return m_topImagesPanel; }

Q_SIGNALS:
    /// A load finished (ok or not); the graph may still be laying out.
    void modelLoaded(bool ok);
    /// The graph of the current model is drawn.
    void graphReady();
    void runFinished(bool ok);
    void statisticsFinished(bool ok);
    void comparisonFinished(bool ok);
    void exportFinished(bool ok, const QString& path);
    void errorReported(const QString& message);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    QWidget* createSidePanel();
    QDockWidget* addDock(const QString& title, const QString& objectName, QWidget* widget, Qt::DockWidgetArea area);
    void createMenus();
    void connectDocument();
    void connectController();
    /// Where file dialogs open: the last folder used, else the model's folder.
    QString dialogDirectory() const;
    void browseImage();
    bool askToRunUnsafeOps(const QStringList& ops);
    void showError(const QString& message);
    void clearError();
    void setBusy(const QString& message);
    void setIdle(const QString& message);
    void onModelChanged();
    void onLayoutFinished(qint64 ms, int boxes);
    /// The graph, the tree, the search and the add field follow the current mode's graph.
    void showModeGraph();
    void updateTicks();
    void toggleReturnNode(const QString& name);
    void showNode(const QString& name);
    void updateRecentMenu();
    void updateActions();

    SettingsStore m_settings;
    ModelDocument* m_document;
    ModelController* m_controller;
    QString m_lastError;
    bool m_timingOpen = false; ///< the next finished layout completes an open

    GraphPanel* m_graph;
    NodeTreePanel* m_tree;
    NodeFinder* m_finder;
    ReturnNodesPanel* m_returnsPanel;
    ImagePanel* m_imagePanel;
    PreprocessingWidget* m_preprocessing;
    ResultsPanel* m_results;
    InputPanel* m_inputPanel;
    StatisticsPanel* m_statisticsPanel;
    ModelComparisonPanel* m_comparisonPanel;
    TopImagesPanel* m_topImagesPanel;
    QLabel* m_errorLabel;
    QLabel* m_statusLabel;
    QProgressBar* m_progress;
    QDockWidget* m_resultsDock = nullptr;
    QDockWidget* m_inputDock = nullptr;
    QDockWidget* m_statisticsDock = nullptr;
    QDockWidget* m_comparisonDock = nullptr;
    QDockWidget* m_topImagesDock = nullptr;
    QMenu* m_recentMenu = nullptr;
    QAction* m_exportAction = nullptr;
    QAction* m_exportPngAction = nullptr;
    QAction* m_exportNpyAction = nullptr;
    QAction* m_runAction = nullptr;
};

} // namespace featscope::ui
