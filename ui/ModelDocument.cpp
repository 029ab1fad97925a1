#include "ModelDocument.h"

#include "ReturnNodesModel.h"

#include <QFileInfo>
#include <QJsonArray>

namespace featscope::ui {

QString describePreprocessing(const Preprocessing& p)
{
    QStringList parts;
    parts.append(p.resize > 0 ? QObject::tr("resize %1").arg(p.resize) : QObject::tr("no resize"));
    if (p.centerCrop > 0)
        parts.append(QObject::tr("crop %1").arg(p.centerCrop));
    parts.append(p.channels == 1 ? QObject::tr("grayscale") : QObject::tr("RGB"));
    return parts.join(QStringLiteral(", "));
}

QJsonObject LoadOptions::toJson() const
{
    return QJsonObject{{QStringLiteral("opsLibraries"), QJsonArray::fromStringList(opsLibraries)},
                       {QStringLiteral("leafModules"), QJsonArray::fromStringList(leafModules)},
                       {QStringLiteral("leafFunctions"), QJsonArray::fromStringList(leafFunctions)}};
}

LoadOptions LoadOptions::fromJson(const QJsonObject& object)
{
    return LoadOptions{protocol::stringsFromJson(object.value(QStringLiteral("opsLibraries"))),
                       protocol::stringsFromJson(object.value(QStringLiteral("leafModules"))),
                       protocol::stringsFromJson(object.value(QStringLiteral("leafFunctions")))};
}

ModelDocument::ModelDocument(QObject* parent) : QObject(parent), m_returns(new ReturnNodesModel(this)) {}

void ModelDocument::open(ModelInfo model, const QJsonObject& state, const LoadOptions& options)
{
    ++m_generation;
    m_model = std::move(model);
    m_loadOptions = options;
    m_hasModel = true;
    m_returns->clearAll();
    m_returns->setGraphs(m_model.graph(Mode::Train).description, m_model.graph(Mode::Eval).description);
    m_unsafeOpsAllowed = m_model.unsafeOps.isEmpty();
    m_preprocessing = m_model.preprocessing;
    m_preprocessingProblem.clear();
    m_outputs.clear();
    m_texts.clear();
    m_shapes.clear();
    m_inputShape.clear();
    m_layouts.clear();
    m_summary.clear();
    m_resultsInputs = {};
    m_lastRunFailed = false;
    m_cam = {};
    m_statistics = {};
    m_comparison = {};
    m_region = {};
    m_topImages = {};
    restoreState(state);
    Q_EMIT modelChanged();
    Q_EMIT resultsChanged();
    Q_EMIT freshnessChanged(staleReason());
}

void ModelDocument::restoreState(const QJsonObject& state)
{
    if (state.isEmpty())
        return;
    m_returns->restoreState(state.value(QStringLiteral("returnNodes")).toObject());
    m_mode = modeFromName(state.value(QStringLiteral("mode")).toString(QStringLiteral("eval")));
    m_returns->setMode(m_mode);
    if (state.contains(QStringLiteral("preprocessing")))
        m_preprocessing = preprocessingFromRequest(state.value(QStringLiteral("preprocessing")).toObject(), m_model.preprocessing);
    // The image chosen in this session wins over the one last used with this model.
    const QString image = state.value(QStringLiteral("image")).toString();
    if (!image.isEmpty() && m_image.isEmpty())
        m_image = image;
    m_colourMap = state.value(QStringLiteral("colourMap")).toString();
    m_normalisation = state.value(QStringLiteral("normalisation")).toInt(m_normalisation);
    const QJsonObject layouts = state.value(QStringLiteral("layouts")).toObject();
    for (auto it = layouts.begin(); it != layouts.end(); ++it)
        m_layouts.insert(it.key(), it.value().toString());
}

QJsonObject ModelDocument::saveState() const
{
    QJsonObject layouts;
    for (auto it = m_layouts.cbegin(); it != m_layouts.cend(); ++it)
        layouts.insert(it.key(), it.value());
    return QJsonObject{{QStringLiteral("returnNodes"), m_returns->saveState()},
                       {QStringLiteral("mode"), modeName(m_mode)},
                       {QStringLiteral("preprocessing"), m_preprocessing.toRequest()},
                       {QStringLiteral("image"), m_image},
                       {QStringLiteral("colourMap"), m_colourMap},
                       {QStringLiteral("normalisation"), m_normalisation},
                       {QStringLiteral("layouts"), layouts},
                       {QStringLiteral("loadOptions"), m_loadOptions.toJson()}};
}

void ModelDocument::setLayout(const QString& node, const QString& layout)
{
    if (layout.isEmpty())
        m_layouts.remove(node);
    else
        m_layouts.insert(node, layout);
}

void ModelDocument::setMode(Mode mode)
{
    if (mode == m_mode)
        return;
    m_mode = mode;
    m_returns->setMode(mode);
    Q_EMIT modeChanged(mode);
    Q_EMIT freshnessChanged(staleReason());
}

void ModelDocument::setImagePath(const QString& path)
{
    const QString trimmed = path.trimmed();
    if (trimmed == m_image)
        return;
    m_image = trimmed;
    Q_EMIT imageChanged(m_image);
    Q_EMIT freshnessChanged(staleReason());
}

void ModelDocument::setPreprocessing(const Preprocessing& preprocessing, const QString& problem)
{
    const bool same = preprocessing.toRequest() == m_preprocessing.toRequest() && problem == m_preprocessingProblem;
    m_preprocessing = preprocessing;
    m_preprocessingProblem = problem;
    if (same)
        return;
    Q_EMIT preprocessingChanged();
    Q_EMIT freshnessChanged(staleReason());
}

void ModelDocument::setDisplay(const QString& colourMap, int normalisation)
{
    if (colourMap == m_colourMap && normalisation == m_normalisation)
        return;
    m_colourMap = colourMap;
    m_normalisation = normalisation;
    Q_EMIT displayChanged();
}

RunInputs ModelDocument::runInputs() const
{
    return RunInputs{m_model.file, m_mode, m_image, m_preprocessing.toRequest()};
}

void ModelDocument::setResults(const QVector<RunOutput>& outputs, const RunInputs& inputs, const QString& summary,
                               const QVector<qint64>& inputShape, const QVector<RunText>& texts)
{
    m_outputs = outputs;
    m_texts = texts;
    m_inputShape = inputShape;
    m_resultsInputs = inputs;
    m_summary = summary;
    m_lastRunFailed = false;
    m_shapes.clear();
    QHash<QString, int> parts; // per node
    for (const RunOutput& output : outputs)
        ++parts[output.node];
    for (const RunText& text : texts)
        ++parts[text.node];
    const auto describe = [&](const QString& node, const QString& single) {
        m_shapes.insert(node, parts.value(node) > 1 ? tr("%n values", nullptr, parts.value(node)) : single);
    };
    for (const RunOutput& output : outputs)
        describe(output.node, output.shapeText());
    for (const RunText& text : texts)
        describe(text.node, text.text.size() <= 24 ? text.text : text.text.left(23) + QChar(0x2026));
    Q_EMIT resultsChanged();
    Q_EMIT freshnessChanged(staleReason());
}

void ModelDocument::setCam(const CamMap& cam)
{
    m_cam = cam;
    Q_EMIT camChanged();
}

void ModelDocument::setStatistics(const StatisticsSet& statistics)
{
    m_statistics = statistics;
    Q_EMIT statisticsChanged();
}

void ModelDocument::setComparison(const ModelComparison& comparison)
{
    m_comparison = comparison;
    Q_EMIT comparisonChanged();
}

void ModelDocument::setReceptiveRegion(const ReceptiveRegion& region)
{
    m_region = region;
    Q_EMIT receptiveRegionChanged();
}

void ModelDocument::setTopImages(const TopImages& topImages)
{
    m_topImages = topImages;
    Q_EMIT topImagesChanged();
}

void ModelDocument::setRunFailed()
{
    m_lastRunFailed = true;
    Q_EMIT freshnessChanged(staleReason());
}

QString ModelDocument::staleReason() const
{
    if (m_outputs.isEmpty() && m_texts.isEmpty())
        return {};
    const RunInputs now = runInputs();
    QStringList reasons;
    if (m_lastRunFailed)
        reasons.append(tr("the last run failed."));
    if (now.model != m_resultsInputs.model)
        reasons.append(tr("another model is open."));
    if (now.mode != m_resultsInputs.mode)
        reasons.append(tr("the mode is now %1.").arg(modeName(m_mode)));
    if (now.image != m_resultsInputs.image)
        reasons.append(tr("the image is now %1.").arg(QFileInfo(m_image).fileName()));
    if (now.preprocessing != m_resultsInputs.preprocessing)
        reasons.append(tr("the preprocessing changed (%1).").arg(describePreprocessing(m_preprocessing)));
    return reasons.join(QLatin1Char(' '));
}

} // namespace featscope::ui
