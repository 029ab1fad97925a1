#pragma once

#include <functional>

#include "ModelInfo.h"
#include "SettingsStore.h"

#include <QElapsedTimer>
#include <QHash>
#include <QMainWindow>
#include <QTimer>

class QAction;
class QCheckBox;
class QComboBox;
class QDockWidget;
class QLabel;
class QLineEdit;
class QMenu;
class QProgressBar;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;
class QTreeView;

namespace featscope::ui {

class EngineClient;
class GraphPanel;
class NodeTreeModel;
class PreprocessingWidget;
class ResultsPanel;
class ReturnNodesModel;

/// featscope's main window: model panel, graph, node tree, return nodes, preprocessing and results.
/// Public methods are what the menus call, without dialogs, so tests and headless mode drive the same paths.
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
    void exportExtractor(const QString& path);
    /// Saves the current output's maps as PNG with a title; ".png" is appended when `path` lacks it.
    bool exportMapsPng(const QString& path);
    bool exportTensors(const QString& directory);
    /// Asks whether to run a model whose code reaches outside it (test hook; default: a dialog).
    void setUnsafeOpsConfirmation(std::function<bool(const QStringList& ops)> confirm) { m_confirmUnsafeOps = std::move(confirm); }
    /// Longest a run may take before the engine is stopped (test hook; default 5 minutes).
    void setRunTimeout(int milliseconds) { m_runTimeoutMs = milliseconds; }
    /// Saves the window layout and the current model's state to the settings now.
    void saveSettings();

    // State, for tests and headless use.
    bool hasModel() const { return m_hasModel; }
    const ModelInfo& model() const { return m_model; }
    Mode mode() const { return m_mode; }
    QString imagePath() const;
    bool isRunning() const { return m_runRequest != 0; }
    /// The engine request id of the run in progress, 0 when none (test hook).
    int runRequestId() const { return m_runRequest; }
    QString lastError() const { return m_lastError; }
    EngineClient* engine() const { return m_engine; }
    GraphPanel* graphPanel() const { return m_graph; }
    QTreeView* nodeTree() const { return m_tree; }
    NodeTreeModel* nodeTreeModel() const { return m_treeModel; }
    QSortFilterProxyModel* nodeTreeProxy() const { return m_treeProxy; }
    ReturnNodesModel* returnNodes() const { return m_returns; }
    QTableView* returnNodesView() const { return m_returnView; }
    ResultsPanel* results() const { return m_results; }
    PreprocessingWidget* preprocessing() const { return m_preprocessing; }
    QLineEdit* searchBox() const { return m_search; }
    /// Search matches in graph order, and the one shown (-1: none).
    const QStringList& searchMatches() const { return m_searchMatches; }
    int searchIndex() const { return m_searchIndex; }
    QPushButton* runButton() const { return m_runButton; }
    QPushButton* cancelButton() const { return m_cancelButton; }

Q_SIGNALS:
    /// A load finished (ok or not); the graph may still be laying out.
    void modelLoaded(bool ok);
    /// The graph of the current model is drawn.
    void graphReady();
    void runFinished(bool ok);
    void exportFinished(bool ok, const QString& path);
    void errorReported(const QString& message);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createMenus();
    /// Where file dialogs open: the last folder used, else the model's folder.
    QString dialogDirectory() const;
    void browseImage();
    QWidget* createSidePanel();
    bool confirmUnsafeOps();
    void showError(const QString& message);
    void clearError();
    void setBusy(const QString& message);
    void setIdle(const QString& message);
    void onModelLoaded(const protocol::LoadResult& result, const QString& path);
    void forgetModel();
    /// What a run is computed from: model, mode, image and preprocessing.
    QJsonObject runInputs() const;
    /// Marks the shown maps out of date when the current run inputs differ from theirs, or the last run failed.
    void updateResultsFreshness();
    void showModeGraph();
    void updateModelPanel();
    void updateTicks();
    void updateValidation();
    void toggleReturnNode(const QString& name);
    void removeSelectedReturnNodes();
    void onGraphItemClicked(const QString& name);
    void onTreeCurrentChanged(const QModelIndex& current);
    void onSearch(const QString& text);
    /// The node a search for `text` selects first: an exact or truncated name's node, else the first match.
    QString preferredMatch(const QString& text) const;
    /// Moves to the next (`step` 1) or previous (-1) match of the search; Enter and F3 / Shift+F3.
    void findNext(int step);
    void showMatch();
    void updateRecentMenu();
    QMenu* createDepthMenu(QWidget* parent);
    void updateActions();
    QJsonObject modelState() const;
    void restoreModelState(const QJsonObject& state);

    EngineClient* m_engine;
    SettingsStore m_settings;
    ModelInfo m_model;
    bool m_hasModel = false;
    bool m_unsafeOpsAllowed = false; ///< the user confirmed the current model's unsafe ops
    std::function<bool(const QStringList&)> m_confirmUnsafeOps;
    Mode m_mode = Mode::Eval;
    int m_runRequest = 0;
    int m_runTimeoutMs = 300000;
    int m_loadRequest = 0;
    int m_modelGeneration = 0; ///< counts opened models, to drop answers about an earlier one
    QString m_lastError;
    QHash<QString, QString> m_shapes;
    QJsonObject m_resultsInputs; ///< runInputs() of the shown maps
    bool m_lastRunFailed = false;
    QElapsedTimer m_openTimer;
    qint64 m_engineLoadMs = 0;
    qint64 m_guiLoadMs = 0;
    bool m_timingOpen = false;
    bool m_syncing = false;
    QTimer m_searchTimer;        ///< jumps to the first match once typing pauses
    QStringList m_searchMatches; ///< in graph order
    int m_searchIndex = -1;

    GraphPanel* m_graph;
    QTreeView* m_tree;
    NodeTreeModel* m_treeModel;
    QSortFilterProxyModel* m_treeProxy;
    ReturnNodesModel* m_returns;
    QTableView* m_returnView;
    ResultsPanel* m_results;
    PreprocessingWidget* m_preprocessing;
    QLabel* m_modelLabel;
    QLabel* m_errorLabel;
    QLabel* m_validation;
    QLabel* m_statusLabel;
    QProgressBar* m_progress;
    QComboBox* m_modeBox;
    QCheckBox* m_separate;
    QLineEdit* m_search;
    QLabel* m_searchCount;
    QLineEdit* m_addNode;
    QLineEdit* m_image;
    QPushButton* m_runButton;
    QPushButton* m_cancelButton;
    QDockWidget* m_resultsDock = nullptr;
    QMenu* m_recentMenu = nullptr;
    QAction* m_exportAction = nullptr;
    QAction* m_exportPngAction = nullptr;
    QAction* m_exportNpyAction = nullptr;
    QAction* m_runAction = nullptr;
};

} // namespace featscope::ui
