#include "ModelController.h"

#include "EngineClient.h"
#include "ModelDocument.h"
#include "ReturnNodesModel.h"
#include "SettingsStore.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QRegularExpression>

namespace featscope::ui {

namespace {

// Backstops for an engine that stops answering; the engine's own caps (docs/engine-protocol.md) are shorter
// and answer with a message that names the limit.
constexpr int kLoadTimeoutMs = 600000;
constexpr int kExportTimeoutMs = 300000;

QString errorText(const QJsonObject& response)
{
    QString message = response.value(QStringLiteral("error")).toString();
    // The engine's messages also serve the command line; advice to run featscope-cli does not help in the window.
    static const QRegularExpression cliAdvice(QStringLiteral("\\s*[^.]*`featscope-cli[^`]*`[^.]*\\."));
    message.remove(cliAdvice);
    const QJsonArray suggestions = response.value(QStringLiteral("suggestions")).toArray();
    if (!suggestions.isEmpty() && !message.contains(QLatin1String("closest names"), Qt::CaseInsensitive)) {
        QStringList names;
        for (const QJsonValue& s : suggestions)
            names.append(s.toString());
        message += QObject::tr(" Closest names: %1.").arg(names.join(QStringLiteral(", ")));
    }
    return message.isEmpty() ? QObject::tr("The engine gave no reason.") : message;
}

} // namespace

ModelController::ModelController(ModelDocument* document, SettingsStore* settings, QObject* parent)
    : QObject(parent), m_document(document), m_settings(settings), m_engine(new EngineClient(this)),
      m_outputDir(QDir::temp().filePath(QStringLiteral("featscope-XXXXXX")))
{
    connect(m_engine, &EngineClient::engineStopped, this, [this](const QString& message, protocol::ErrorKind kind) {
        if (kind != protocol::ErrorKind::Cancelled)
            Q_EMIT errorReported(message);
    });
    // Start the engine now: loading LibTorch takes most of a second, better spent before the user opens a model.
    m_engine->send(QStringLiteral("hello"), {}, nullptr, 30000);
}

void ModelController::openModel(const QString& path)
{
    if (isRunning())
        cancelRun();
    if (m_document->hasModel())
        m_settings->setModelState(m_document->model().file, m_document->saveState());
    Q_EMIT errorCleared();
    m_openTimer.start();
    Q_EMIT busy(tr("Loading %1…").arg(QFileInfo(path).fileName()));
    const QString absolute = QFileInfo(path).absoluteFilePath();
    m_engine->send(QStringLiteral("load"), QJsonObject{{QStringLiteral("path"), absolute}}, [this, absolute](const QJsonObject& r) {
        const QString fileName = QFileInfo(absolute).fileName();
        if (!r.value(QStringLiteral("ok")).toBool()) {
            Q_EMIT idle(tr("Could not open %1.").arg(fileName));
            Q_EMIT errorReported(tr("Cannot open %1: %2").arg(fileName, errorText(r)));
            Q_EMIT modelLoaded(false);
            return;
        }
        m_engineLoadMs = qint64(r.value(QStringLiteral("elapsedMs")).toDouble());
        QElapsedTimer guiTimer;
        guiTimer.start();
        ModelInfo model = ModelInfo::fromJson(r);
        const QJsonObject state = m_settings->modelState(model.file);
        m_settings->addRecentFile(model.file);
        const QString warning = model.warning;
        m_document->open(std::move(model), state);
        Q_EMIT note(warning.isEmpty() ? tr("Tick boxes in the graph to choose return nodes; double-click a module to expand it.")
                                      : warning,
                    8000);
        m_guiLoadMs = guiTimer.elapsed();
        Q_EMIT modelLoaded(true);
    }, kLoadTimeoutMs);
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
    const QJsonObject params{{QStringLiteral("image"), inputs.image},
                             {QStringLiteral("preprocessing"), inputs.preprocessing},
                             {QStringLiteral("mode"), modeName(inputs.mode)},
                             {QStringLiteral("returnNodes"), returns->toJson(inputs.mode)},
                             {QStringLiteral("outputDir"), m_outputDir.path()},
                             {QStringLiteral("allowUnsafeOps"), m_document->unsafeOpsAllowed()}};
    Q_EMIT busy(tr("Running %1 on %2…").arg(QFileInfo(inputs.model).fileName(), QFileInfo(inputs.image).fileName()));
    Q_EMIT runStarted();
    m_runRequest = m_engine->send(QStringLiteral("run"), params, [this, timer, inputs, generation = m_document->generation()](const QJsonObject& r) {
        m_runRequest = 0;
        Q_EMIT runningChanged(false);
        if (generation != m_document->generation()) { // another model opened meanwhile; these outputs are not its
            Q_EMIT idle(tr("Run of the previous model dropped."));
            Q_EMIT runFinished(false);
            return;
        }
        if (!r.value(QStringLiteral("ok")).toBool()) {
            const bool cancelled = protocol::errorKindFromString(r.value(QStringLiteral("errorType")).toString())
                == protocol::ErrorKind::Cancelled;
            Q_EMIT idle(cancelled ? tr("Run cancelled.") : tr("Run failed."));
            Q_EMIT runFailed(cancelled ? tr("Run cancelled.") : tr("Run failed: %1").arg(errorText(r)), cancelled);
            if (!cancelled) {
                m_document->setRunFailed();
                Q_EMIT errorReported(tr("Run failed: %1").arg(errorText(r)));
            }
            Q_EMIT runFinished(false);
            return;
        }
        QVector<RunOutput> outputs;
        for (const QJsonValue& v : r.value(QStringLiteral("outputs")).toArray())
            outputs.append(RunOutput::fromJson(v.toObject()));
        QVector<qint64> inputShape;
        QStringList inputShapeText;
        for (const QJsonValue& d : r.value(QStringLiteral("inputShape")).toArray()) {
            inputShape.append(qint64(d.toDouble()));
            inputShapeText.append(QString::number(inputShape.last()));
        }
        const QString summary = tr("%1 · %2 mode · %3 · %4 · input %5 · %n output(s) · engine %6 ms", nullptr, int(outputs.size()))
                                    .arg(QFileInfo(inputs.model).fileName(), r.value(QStringLiteral("mode")).toString(),
                                         QFileInfo(inputs.image).fileName(),
                                         describePreprocessing(preprocessingFromRequest(inputs.preprocessing, {})),
                                         inputShapeText.join(QChar(0x00D7)))
                                    .arg(qint64(r.value(QStringLiteral("elapsedMs")).toDouble()));
        m_document->setResults(outputs, inputs, summary, inputShape);
        for (const RunOutput& o : outputs)
            QFile::remove(o.file); // the views read the values when the results changed
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
    QJsonObject params{{QStringLiteral("node"), node},
                       {QStringLiteral("method"), method},
                       {QStringLiteral("image"), inputs.image},
                       {QStringLiteral("preprocessing"), inputs.preprocessing},
                       {QStringLiteral("layout"), m_document->layouts().value(node)},
                       {QStringLiteral("allowUnsafeOps"), m_document->unsafeOpsAllowed()}};
    if (classIndex >= 0)
        params.insert(QStringLiteral("classIndex"), classIndex);
    Q_EMIT busy(tr("Computing %1 at %2…").arg(method, node));
    m_engine->send(QStringLiteral("cam"), params, [this, inputs, generation = m_document->generation()](const QJsonObject& r) {
        if (generation != m_document->generation()) {
            Q_EMIT idle(tr("CAM of the previous model dropped."));
            Q_EMIT camFinished(false);
            return;
        }
        if (!r.value(QStringLiteral("ok")).toBool()) {
            Q_EMIT idle(tr("CAM failed."));
            Q_EMIT errorReported(tr("Cannot compute the class activation map: %1").arg(errorText(r)));
            Q_EMIT camFinished(false);
            return;
        }
        CamMap cam;
        cam.node = r.value(QStringLiteral("node")).toString();
        cam.method = r.value(QStringLiteral("method")).toString();
        cam.classIndex = r.value(QStringLiteral("classIndex")).toInt();
        cam.layout = r.value(QStringLiteral("layout")).toString();
        cam.width = r.value(QStringLiteral("width")).toInt();
        cam.height = r.value(QStringLiteral("height")).toInt();
        for (const QJsonValue& v : r.value(QStringLiteral("map")).toArray())
            cam.values.append(float(v.toDouble()));
        for (const QJsonValue& v : r.value(QStringLiteral("top")).toArray()) {
            const QJsonObject o = v.toObject();
            cam.top.append({o.value(QStringLiteral("index")).toInt(), o.value(QStringLiteral("score")).toDouble(),
                            o.value(QStringLiteral("probability")).toDouble()});
        }
        cam.inputs = inputs;
        if (cam.values.size() != qsizetype(cam.width) * cam.height || cam.values.isEmpty()) {
            Q_EMIT idle(tr("CAM failed."));
            Q_EMIT errorReported(tr("The engine's class activation map has %1 values for a %2 x %3 grid.")
                                     .arg(cam.values.size()).arg(cam.height).arg(cam.width));
            Q_EMIT camFinished(false);
            return;
        }
        m_document->setCam(cam);
        Q_EMIT idle(tr("%1 at %2 in %3 ms.").arg(cam.method, cam.node).arg(qint64(r.value(QStringLiteral("elapsedMs")).toDouble())));
        Q_EMIT camFinished(true);
    }, m_runTimeoutMs);
}

void ModelController::computeStatistics()
{
    if (const QString blocker = runBlocker(); !blocker.isEmpty()) {
        Q_EMIT errorReported(blocker);
        Q_EMIT statisticsFinished(false);
        return;
    }
    Q_EMIT errorCleared();
    const RunInputs inputs = m_document->runInputs();
    const QJsonObject params{{QStringLiteral("mode"), modeName(inputs.mode)},
                             {QStringLiteral("image"), inputs.image},
                             {QStringLiteral("preprocessing"), inputs.preprocessing},
                             {QStringLiteral("allowUnsafeOps"), m_document->unsafeOpsAllowed()}};
    Q_EMIT busy(tr("Summarising every node of %1…").arg(QFileInfo(inputs.model).fileName()));
    m_engine->send(QStringLiteral("stats"), params, [this, inputs, generation = m_document->generation()](const QJsonObject& r) {
        if (generation != m_document->generation()) {
            Q_EMIT idle(tr("Statistics of the previous model dropped."));
            Q_EMIT statisticsFinished(false);
            return;
        }
        if (!r.value(QStringLiteral("ok")).toBool()) {
            Q_EMIT idle(tr("Statistics failed."));
            Q_EMIT errorReported(tr("Cannot compute the statistics: %1").arg(errorText(r)));
            Q_EMIT statisticsFinished(false);
            return;
        }
        StatisticsSet statistics;
        for (const QJsonValue& v : r.value(QStringLiteral("nodes")).toArray())
            statistics.nodes.append(NodeSummary::fromJson(v.toObject()));
        for (const QJsonValue& v : r.value(QStringLiteral("skipped")).toArray())
            statistics.skipped.append(v.toString());
        statistics.inputs = inputs;
        statistics.elapsedMs = qint64(r.value(QStringLiteral("elapsedMs")).toDouble());
        m_document->setStatistics(statistics);
        Q_EMIT idle(tr("Summarised %n node(s) in %1 ms.", nullptr, int(statistics.nodes.size())).arg(statistics.elapsedMs));
        Q_EMIT statisticsFinished(true);
    }, m_runTimeoutMs);
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
    QJsonObject params{{QStringLiteral("path"), QFileInfo(path).absoluteFilePath()},
                       {QStringLiteral("mode"), modeName(mode)},
                       {QStringLiteral("allowUnsafeOps"), m_document->unsafeOpsAllowed()}};
    if (returns->separateModes()) {
        params.insert(QStringLiteral("trainReturnNodes"), returns->toJson(Mode::Train));
        params.insert(QStringLiteral("evalReturnNodes"), returns->toJson(Mode::Eval));
    } else {
        params.insert(QStringLiteral("returnNodes"), returns->toJson(mode));
    }
    Q_EMIT busy(tr("Exporting the extractor to %1…").arg(QFileInfo(path).fileName()));
    m_engine->send(QStringLiteral("export"), params, [this, path](const QJsonObject& r) {
        const bool ok = r.value(QStringLiteral("ok")).toBool();
        if (ok) {
            Q_EMIT idle(tr("Exported the extractor to %1.").arg(r.value(QStringLiteral("path")).toString()));
        } else {
            Q_EMIT idle(tr("Export failed."));
            Q_EMIT errorReported(tr("Cannot export the extractor: %1").arg(errorText(r)));
        }
        Q_EMIT exportFinished(ok, path);
    }, kExportTimeoutMs);
}

} // namespace featscope::ui
