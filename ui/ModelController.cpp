#include "ModelController.h"

#include "EngineClient.h"
#include "ModelDocument.h"
#include "ReturnNodesModel.h"
#include "SettingsStore.h"

#include <QFileInfo>
#include <QFutureWatcher>
#include <QtConcurrent/QtConcurrentRun>
#include <QRegularExpression>

namespace featscope::ui {

namespace {

// Backstops for an engine that stops answering; the engine's own caps (docs/engine-protocol.md) are shorter
// and answer with a message that names the limit.
constexpr int kLoadTimeoutMs = 600000;
constexpr int kExportTimeoutMs = 300000;

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

} // namespace

ModelController::ModelController(ModelDocument* document, SettingsStore* settings, QObject* parent)
    : QObject(parent), m_document(document), m_settings(settings), m_engine(new EngineClient(this))
{
    connect(m_engine, &EngineClient::engineStopped, this, [this](const QString& message, protocol::ErrorKind kind) {
        if (kind != protocol::ErrorKind::Cancelled)
            Q_EMIT errorReported(message);
    });
    // Start the engine now, while the window is built: loading LibTorch takes most of a second, better spent
    // before the user opens a model. The hello then checks that it answers.
    m_engine->startEngine();
    m_engine->send(QStringLiteral("hello"), {}, nullptr, 30000);
}

void ModelController::openModel(const QString& path, const std::optional<LoadOptions>& options)
{
    if (isRunning())
        cancelRun();
    if (m_document->hasModel())
        m_settings->setModelState(m_document->model().file, m_document->saveState());
    Q_EMIT errorCleared();
    m_openTimer.start();
    Q_EMIT busy(tr("Loading %1…").arg(QFileInfo(path).fileName()));
    const QString absolute = QFileInfo(path).absoluteFilePath();
    const LoadOptions chosen =
        options.value_or(LoadOptions::fromJson(m_settings->modelState(absolute).value(QStringLiteral("loadOptions")).toObject()));
    m_requestedModel = absolute;
    m_requestedOptions = chosen;
    const protocol::LoadRequest request{absolute, chosen.leafModules, chosen.leafFunctions, chosen.opsLibraries};
    m_engine->load(request, [this, absolute, chosen](const protocol::LoadResult& r) {
        const QString fileName = QFileInfo(absolute).fileName();
        if (!r.status.ok) {
            Q_EMIT idle(tr("Could not open %1.").arg(fileName));
            Q_EMIT errorReported(tr("Cannot open %1: %2").arg(fileName, errorText(r.status)));
            Q_EMIT modelLoaded(false);
            return;
        }
        m_engineLoadMs = qint64(r.elapsedMs);
        // Reading 10,000 nodes' description takes the GUI thread well over 100 ms: a worker reads it.
        const int reply = ++m_loadReplies;
        auto* watcher = new QFutureWatcher<ModelInfo>(this);
        connect(watcher, &QFutureWatcher<ModelInfo>::finished, this, [this, watcher, reply, chosen] {
            watcher->deleteLater();
            // Replies come in the order of the loads, parses may not: the engine holds the model of the last
            // successful reply, so an earlier reply read later is not shown.
            if (reply < m_loadApplied)
                return;
            m_loadApplied = reply;
            applyLoadedModel(watcher->result(), chosen);
        });
        watcher->setFuture(QtConcurrent::run([model = r.model] { return ModelInfo::fromJson(model); }));
    }, kLoadTimeoutMs);
}

void ModelController::applyLoadedModel(ModelInfo model, const LoadOptions& options)
{
    QElapsedTimer guiTimer;
    guiTimer.start();
    const QJsonObject state = m_settings->modelState(model.file);
    m_settings->addRecentFile(model.file);
    const QString warning = model.warning;
    m_document->open(std::move(model), state, options);
    Q_EMIT note(warning.isEmpty() ? tr("Tick boxes in the graph to choose return nodes; double-click a module to expand it.")
                                  : warning,
                8000);
    m_guiLoadMs = guiTimer.elapsed();
    Q_EMIT modelLoaded(true);
}

// PyTorch's security policy: a TorchScript file is code. Running one that writes or reads files,
// talks to the network or calls unknown custom ops needs the user's word, once per opened model.
bool ModelController::confirmUnsafeOps()
{
    if (!m_document->unsafeOpsAllowed() && m_confirmUnsafeOps)
        m_document->setUnsafeOpsAllowed(m_confirmUnsafeOps(m_document->model().unsafeOps));
    return m_document->unsafeOpsAllowed();
}

void ModelController::refuseRun(const QString& message)
{
    Q_EMIT errorReported(message);
    Q_EMIT runFinished(false);
}

QString ModelController::runBlocker()
{
    if (!m_document->hasModel())
        return tr("Open a model first (File > Open).");
    if (m_document->imagePath().isEmpty())
        return tr("Choose an image first: Browse…, File > Open Image (Ctrl+I) or drop one on the window.");
    if (!m_document->preprocessingProblem().isEmpty())
        return m_document->preprocessingProblem();
    if (!confirmUnsafeOps())
        return tr("Not run: the model's code reaches outside the model and you did not allow it.");
    return {};
}

void ModelController::run()
{
    if (isRunning())
        return;
    const ReturnNodesModel* returns = m_document->returnNodes();
    if (m_document->hasModel() && returns->entries().isEmpty())
        return refuseRun(tr("Tick at least one return node in the graph or the node list, or type one under Return nodes."));
    if (returns->hasErrors())
        return refuseRun(tr("Fix the return nodes first. %1").arg(returns->firstError()));
    if (const QString blocker = runBlocker(); !blocker.isEmpty())
        return refuseRun(blocker);
    Q_EMIT errorCleared();
    QElapsedTimer timer;
    timer.start();
    const RunInputs inputs = m_document->runInputs();
    const protocol::RunRequest request{inputs.image, preprocessingFromRequest(inputs.preprocessing, {}), inputs.mode,
                                       returns->returnNodes(inputs.mode), m_document->unsafeOpsAllowed()};
    Q_EMIT busy(tr("Running %1 on %2…").arg(QFileInfo(inputs.model).fileName(), QFileInfo(inputs.image).fileName()));
    Q_EMIT runStarted();
    m_runRequest = m_engine->run(request, [this, timer, inputs, generation = m_document->generation()](const protocol::RunResult& r) {
        m_runRequest = 0;
        Q_EMIT runningChanged(false);
        if (generation != m_document->generation()) { // another model opened meanwhile; these outputs are not its
            Q_EMIT idle(tr("Run of the previous model dropped."));
            Q_EMIT runFinished(false);
            return;
        }
        if (!r.status.ok) {
            const bool cancelled = r.status.errorKind == protocol::ErrorKind::Cancelled;
            Q_EMIT idle(cancelled ? tr("Run cancelled.") : tr("Run failed."));
            Q_EMIT runFailed(cancelled ? tr("Run cancelled.") : tr("Run failed: %1").arg(errorText(r.status)), cancelled);
            if (!cancelled) {
                m_document->setRunFailed();
                Q_EMIT errorReported(tr("Run failed: %1").arg(errorText(r.status)));
            }
            Q_EMIT runFinished(false);
            return;
        }
        const QString summary = tr("%1 · %2 mode · %3 · %4 · input %5 · %n output(s) · engine %6 ms", nullptr,
                                   int(r.outputs.size() + r.textOutputs.size()))
                                    .arg(QFileInfo(inputs.model).fileName(), modeName(r.mode),
                                         QFileInfo(inputs.image).fileName(),
                                         describePreprocessing(preprocessingFromRequest(inputs.preprocessing, {})),
                                         protocol::shapeText(r.inputShape))
                                    .arg(qint64(r.elapsedMs));
        m_document->setResults(r.outputs, inputs, summary, r.inputShape, r.textOutputs);
        Q_EMIT idle(tr("Ran in %1 ms.").arg(timer.elapsed()));
        Q_EMIT runFinished(true);
    }, m_runTimeoutMs);
    Q_EMIT runningChanged(true);
}

void ModelController::explain(const QString& node, const QString& method, int classIndex)
{
    if (const QString blocker = runBlocker(); !blocker.isEmpty()) {
        Q_EMIT errorReported(blocker);
        Q_EMIT camFinished(false);
        return;
    }
    Q_EMIT errorCleared();
    const RunInputs inputs = m_document->runInputs();
    protocol::CamRequest request;
    request.node = node;
    request.method = method;
    request.classIndex = classIndex;
    request.layout = m_document->layouts().value(node);
    request.image = inputs.image;
    request.preprocessing = preprocessingFromRequest(inputs.preprocessing, {});
    request.allowUnsafeOps = m_document->unsafeOpsAllowed();
    Q_EMIT busy(tr("Computing %1 at %2…").arg(method, node));
    m_engine->cam(request, [this, inputs, generation = m_document->generation()](const protocol::CamResult& r) {
        if (generation != m_document->generation()) {
            Q_EMIT idle(tr("CAM of the previous model dropped."));
            Q_EMIT camFinished(false);
            return;
        }
        if (!r.status.ok) {
            Q_EMIT idle(tr("CAM failed."));
            Q_EMIT errorReported(tr("Cannot compute the class activation map: %1").arg(errorText(r.status)));
            Q_EMIT camFinished(false);
            return;
        }
        CamMap cam;
        cam.node = r.node;
        cam.method = r.method;
        cam.classIndex = int(r.classIndex);
        cam.layout = r.layout;
        cam.width = r.width;
        cam.height = r.height;
        cam.values = QVector<float>(r.data(), r.data() + qsizetype(r.width) * r.height);
        for (const protocol::CamResult::TopClass& c : r.top)
            cam.top.append({int(c.index), c.score, c.probability});
        cam.inputs = inputs;
        m_document->setCam(cam);
        Q_EMIT idle(tr("%1 at %2 in %3 ms.").arg(cam.method, cam.node).arg(qint64(r.elapsedMs)));
        Q_EMIT camFinished(true);
    }, m_runTimeoutMs);
}

void ModelController::computeStatistics()
{
    const RunInputs inputs = m_document->runInputs();
    const QJsonObject params{{QStringLiteral("mode"), modeName(inputs.mode)},
                             {QStringLiteral("image"), inputs.image},
                             {QStringLiteral("preprocessing"), inputs.preprocessing},
                             {QStringLiteral("allowUnsafeOps"), m_document->unsafeOpsAllowed()}};
    sendForDocument(QStringLiteral("stats"), params, tr("Summarising every node of %1…").arg(QFileInfo(inputs.model).fileName()),
                    tr("the statistics"), &ModelController::statisticsFinished, [this, inputs](const QJsonObject& r) {
        StatisticsSet statistics;
        for (const QJsonValue& v : r.value(QStringLiteral("nodes")).toArray())
            statistics.nodes.append(NodeSummary::fromJson(v.toObject()));
        statistics.skipped = protocol::stringsFromJson(r.value(QStringLiteral("skipped")));
        statistics.inputs = inputs;
        statistics.elapsedMs = qint64(r.value(QStringLiteral("elapsedMs")).toDouble());
        m_document->setStatistics(statistics);
        Q_EMIT idle(tr("Summarised %n node(s) in %1 ms.", nullptr, int(statistics.nodes.size())).arg(statistics.elapsedMs));
    });
}

void ModelController::sendForDocument(const QString& command, const QJsonObject& params, const QString& busyMessage,
                                      const QString& what, void (ModelController::*finished)(bool),
                                      std::function<void(const QJsonObject&)> done)
{
    if (const QString blocker = runBlocker(); !blocker.isEmpty()) {
        Q_EMIT errorReported(blocker);
        (this->*finished)(false);
        return;
    }
    Q_EMIT errorCleared();
    Q_EMIT busy(busyMessage);
    m_engine->send(command, params, [this, what, finished, done = std::move(done), generation = m_document->generation()](const QJsonObject& r) {
        if (generation != m_document->generation()) { // another model opened meanwhile; the answer is not its
            Q_EMIT idle(tr("An answer about the previous model was dropped."));
            (this->*finished)(false);
            return;
        }
        if (!r.value(QStringLiteral("ok")).toBool()) {
            Q_EMIT idle(tr("Failed: %1.").arg(what));
            Q_EMIT errorReported(tr("Cannot compute %1: %2").arg(what, errorText(protocol::Status::fromJson(r))));
            (this->*finished)(false);
            return;
        }
        done(r);
        (this->*finished)(true);
    }, m_runTimeoutMs);
}

void ModelController::compareWithModel(const QString& path)
{
    const RunInputs inputs = m_document->runInputs();
    const QJsonObject params{{QStringLiteral("path"), QFileInfo(path).absoluteFilePath()},
                             {QStringLiteral("mode"), modeName(inputs.mode)},
                             {QStringLiteral("image"), inputs.image},
                             {QStringLiteral("preprocessing"), inputs.preprocessing},
                             {QStringLiteral("allowUnsafeOps"), m_document->unsafeOpsAllowed()}};
    sendForDocument(QStringLiteral("diff"), params,
                    tr("Comparing %1 with %2…").arg(QFileInfo(inputs.model).fileName(), QFileInfo(path).fileName()),
                    tr("the comparison with %1").arg(QFileInfo(path).fileName()), &ModelController::comparisonFinished,
                    [this, inputs](const QJsonObject& r) {
        ModelComparison comparison;
        comparison.otherModel = r.value(QStringLiteral("path")).toString();
        for (const QJsonValue& v : r.value(QStringLiteral("nodes")).toArray()) {
            const QJsonObject o = v.toObject();
            comparison.nodes.append({o.value(QStringLiteral("name")).toString(), protocol::integersFromJson(o.value(QStringLiteral("shapeA"))),
                                     protocol::integersFromJson(o.value(QStringLiteral("shapeB"))),
                                     protocol::finiteNumberFromJson(o.value(QStringLiteral("maxAbs"))),
                                     protocol::finiteNumberFromJson(o.value(QStringLiteral("maxRel"))),
                                     o.value(QStringLiteral("divergent")).toBool()});
        }
        comparison.firstDivergent = r.value(QStringLiteral("firstDivergent")).toString();
        comparison.onlyInA = protocol::stringsFromJson(r.value(QStringLiteral("onlyInA")));
        comparison.onlyInB = protocol::stringsFromJson(r.value(QStringLiteral("onlyInB")));
        comparison.skipped = protocol::stringsFromJson(r.value(QStringLiteral("skipped")));
        comparison.atol = r.value(QStringLiteral("atol")).toDouble();
        comparison.rtol = r.value(QStringLiteral("rtol")).toDouble();
        comparison.inputs = inputs;
        comparison.elapsedMs = qint64(r.value(QStringLiteral("elapsedMs")).toDouble());
        m_document->setComparison(comparison);
        Q_EMIT idle(comparison.firstDivergent.isEmpty() ? tr("The models agree on every shared node.")
                                                        : tr("The models first differ at %1.").arg(comparison.firstDivergent));
    });
}

void ModelController::findReceptiveRegion(const QString& node, QPoint cell, const QString& layout)
{
    const RunInputs inputs = m_document->runInputs();
    const QJsonObject params{{QStringLiteral("node"), node},
                             {QStringLiteral("x"), cell.x()},
                             {QStringLiteral("y"), cell.y()},
                             {QStringLiteral("layout"), layout},
                             {QStringLiteral("image"), inputs.image},
                             {QStringLiteral("preprocessing"), inputs.preprocessing},
                             {QStringLiteral("allowUnsafeOps"), m_document->unsafeOpsAllowed()}};
    sendForDocument(QStringLiteral("receptive"), params, tr("Finding where cell (%1, %2) of %3 looks…").arg(cell.x()).arg(cell.y()).arg(node),
                    tr("the receptive region"), &ModelController::receptiveRegionFinished,
                    [this, node, cell, inputs](const QJsonObject& r) {
        ReceptiveRegion region{node, cell, {}, inputs};
        if (r.value(QStringLiteral("found")).toBool()) {
            const int left = r.value(QStringLiteral("left")).toInt(), top = r.value(QStringLiteral("top")).toInt();
            region.inInput = QRect(QPoint(left, top), QPoint(r.value(QStringLiteral("right")).toInt() - 1,
                                                             r.value(QStringLiteral("bottom")).toInt() - 1));
        }
        m_document->setReceptiveRegion(region);
        Q_EMIT idle(region.inInput.isEmpty() ? tr("No input pixel reaches that cell.")
                                             : tr("Cell (%1, %2) of %3 looks at %4 x %5 input pixels.")
                                                   .arg(cell.x()).arg(cell.y()).arg(node).arg(region.inInput.width()).arg(region.inInput.height()));
    });
}

void ModelController::cancelRun()
{
    if (m_runRequest != 0)
        m_engine->cancel(m_runRequest);
}

void ModelController::exportExtractor(const QString& path)
{
    const ReturnNodesModel* returns = m_document->returnNodes();
    if (!m_document->hasModel() || returns->entries().isEmpty()) {
        Q_EMIT errorReported(tr("Open a model and choose return nodes before exporting."));
        Q_EMIT exportFinished(false, path);
        return;
    }
    if (!confirmUnsafeOps()) {
        Q_EMIT errorReported(tr("Not exported: the model's code reaches outside the model and you did not allow it."));
        Q_EMIT exportFinished(false, path);
        return;
    }
    const Mode mode = m_document->mode();
    const bool separate = returns->separateModes();
    const protocol::ExportRequest request{QFileInfo(path).absoluteFilePath(), mode,
                                          returns->returnNodes(separate ? Mode::Train : mode),
                                          returns->returnNodes(separate ? Mode::Eval : mode), m_document->unsafeOpsAllowed()};
    Q_EMIT busy(tr("Exporting the extractor to %1…").arg(QFileInfo(path).fileName()));
    m_engine->exportExtractor(request, [this, path](const protocol::ExportResult& r) {
        const bool ok = r.status.ok;
        if (ok) {
            Q_EMIT idle(tr("Exported the extractor to %1.").arg(r.path));
        } else {
            Q_EMIT idle(tr("Export failed."));
            Q_EMIT errorReported(tr("Cannot export the extractor: %1").arg(errorText(r.status)));
        }
        Q_EMIT exportFinished(ok, path);
    }, kExportTimeoutMs);
}

} // namespace featscope::ui
