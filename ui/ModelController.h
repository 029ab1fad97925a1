#pragma once

#include "ModelDocument.h"

#include <QElapsedTimer>
#include <QJsonObject>
#include <QObject>
#include <QPoint>
#include <QStringList>

#include <functional>
#include <optional>

namespace featscope::ui {

class EngineClient;
class SettingsStore;

/// Carries out a ModelDocument's work in featscope-engine: open a model, run the extractor on the image,
/// cancel the run, export the extractor. Checks what can be checked before asking the engine, asks the
/// user before running code that reaches outside the model, and tells the window what to show through
/// its signals (it owns no widget).
class ModelController : public QObject {
    Q_OBJECT
public:
    ModelController(ModelDocument* document, SettingsStore* settings, QObject* parent = nullptr);

    EngineClient* engine() const { return m_engine; }

    /// Saves the open model's state to the settings, then loads `path` with `options` (by default those kept for
    /// the file, LoadOptions in its saved state); the document changes, and keeps the options, when it loaded.
    void openModel(const QString& path, const std::optional<LoadOptions>& options = std::nullopt);
    /// The file the last openModel asked for (absolute; it may have failed to load) and its options.
    QString requestedModel() const { return m_requestedModel; }
    const LoadOptions& requestedOptions() const { return m_requestedOptions; }
    void run();
    void cancelRun();
    void exportExtractor(const QString& path);
    /// Computes a class activation map at `node` (a CAM `method`: gradcam, gradcam++, gradxact) for class
    /// `classIndex` (-1: the top predicted class) on the document's image; the document keeps it.
    void explain(const QString& node, const QString& method, int classIndex = -1);
    /// Summarises every tensor-valued node of the current mode on the document's image; the document keeps it.
    void computeStatistics();
    /// Runs the open model and the model at `path` on the document's image and compares them node by node;
    /// the document keeps the result.
    void compareWithModel(const QString& path);
    /// Finds the input pixels that cell `cell` of `node`'s map (read in `layout`, "" detected) depends on, on the
    /// document's image; the document keeps it.
    void findReceptiveRegion(const QString& node, QPoint cell, const QString& layout);

    bool isRunning() const { return m_runRequest != 0; }
    /// The engine request id of the run in progress, 0 when none.
    int runRequestId() const { return m_runRequest; }

    /// Asks whether to run a model whose code reaches outside it; the window sets a dialog, tests an answer.
    void setUnsafeOpsConfirmation(std::function<bool(const QStringList& ops)> confirm) { m_confirmUnsafeOps = std::move(confirm); }
    /// Longest a run may take before the engine is stopped (default 5 minutes).
    void setRunTimeout(int milliseconds) { m_runTimeoutMs = milliseconds; }

    /// Milliseconds since the last openModel (for the "opened in" figure), and the engine's share of it.
    qint64 msSinceOpen() const { return m_openTimer.isValid() ? m_openTimer.elapsed() : 0; }
    qint64 engineLoadMs() const { return m_engineLoadMs; }
    /// The GUI thread's share: opening the read model in the document and its views.
    qint64 guiLoadMs() const { return m_guiLoadMs; }

Q_SIGNALS:
    /// Long work started (`message` says what); the window shows progress.
    void busy(const QString& message);
    /// The work ended; `message` says how.
    void idle(const QString& message);
    /// A short note for the status bar.
    void note(const QString& message, int timeoutMs);
    void errorReported(const QString& message);
    /// New work started; the previous error no longer applies.
    void errorCleared();
    void runningChanged(bool running);
    /// A run was sent; the results area shows that it is on its way.
    void runStarted();
    /// A load finished (ok or not), once the document shows the model. A load the engine answered before a later
    /// one whose model is already shown ends without it (its model was replaced in the engine too).
    void modelLoaded(bool ok);
    void runFinished(bool ok);
    /// `message` says why a run failed or that it was cancelled (empty when ok).
    void runFailed(const QString& message, bool cancelled);
    void exportFinished(bool ok, const QString& path);
    void camFinished(bool ok);
    void statisticsFinished(bool ok);
    void comparisonFinished(bool ok);
    void receptiveRegionFinished(bool ok);

private:
    bool confirmUnsafeOps();
    /// Refuses a run: says why and finishes it.
    void refuseRun(const QString& message);
    /// Sends `command` about the document's model (`busyMessage` says what is going on); `done` gets a successful
    /// answer. Refused before sending when runBlocker() says so; an answer about a model opened since, or a
    /// failure (`what` names the work in the message), ends with `finished(false)`, otherwise `finished(true)`.
    void sendForDocument(const QString& command, const QJsonObject& params, const QString& busyMessage, const QString& what,
                         void (ModelController::*finished)(bool), std::function<void(const QJsonObject&)> done);
    /// Opens `model` (read from a successful load reply) in the document with the state kept for its file.
    void applyLoadedModel(ModelInfo model, const LoadOptions& options);
    /// Why the document cannot be run on now (no model, image, valid preprocessing or consent); empty when it can.
    QString runBlocker();

    ModelDocument* m_document;
    SettingsStore* m_settings;
    EngineClient* m_engine;
    std::function<bool(const QStringList&)> m_confirmUnsafeOps;
    int m_runRequest = 0;
    int m_runTimeoutMs = 300000;
    QElapsedTimer m_openTimer;
    qint64 m_engineLoadMs = 0;
    qint64 m_guiLoadMs = 0;
    QString m_requestedModel;
    LoadOptions m_requestedOptions;
    int m_loadReplies = 0; ///< successful load replies so far
    int m_loadApplied = 0; ///< the latest of them opened in the document
};

} // namespace featscope::ui
