#include "ModelInfo.h"

#include <QJsonArray>

namespace featscope::ui {

namespace {

QStringList toStrings(const QJsonValue& value)
{
    QStringList out;
    for (const QJsonValue& v : value.toArray())
        out.append(v.toString());
    return out;
}

QVector<double> toDoubles(const QJsonValue& value, const QVector<double>& fallback)
{
    if (!value.isArray())
        return fallback;
    QVector<double> out;
    for (const QJsonValue& v : value.toArray())
        out.append(v.toDouble());
    return out.isEmpty() ? fallback : out;
}

QJsonArray toArray(const QVector<double>& values)
{
    QJsonArray a;
    for (double v : values)
        a.append(v);
    return a;
}

} // namespace

QString modeName(Mode mode) { return mode == Mode::Train ? QStringLiteral("train") : QStringLiteral("eval"); }

Mode modeFromName(const QString& name) { return name == QLatin1String("train") ? Mode::Train : Mode::Eval; }

QString GraphNodeInfo::typeLabel() const
{
    if (kind == QLatin1String("input"))
        return QStringLiteral("input");
    if (kind == QLatin1String("leaf_module")) {
        const int dot = moduleClass.lastIndexOf(QLatin1Char('.'));
        return dot >= 0 ? moduleClass.mid(dot + 1) : moduleClass;
    }
    return op.isEmpty() ? kind : op;
}

Preprocessing Preprocessing::fromJson(const QJsonObject& o)
{
    Preprocessing p;
    p.resize = o.value(QStringLiteral("resize")).toInt(p.resize);
    p.centerCrop = o.value(QStringLiteral("centerCrop")).toInt(p.centerCrop);
    p.channels = o.value(QStringLiteral("channels")).toInt(p.channels);
    p.mean = toDoubles(o.value(QStringLiteral("mean")), p.mean);
    p.std = toDoubles(o.value(QStringLiteral("std")), p.std);
    return p;
}

QJsonObject Preprocessing::toJson() const
{
    return QJsonObject{{QStringLiteral("resize"), resize},
                       {QStringLiteral("centerCrop"), centerCrop},
                       {QStringLiteral("channels"), channels},
                       {QStringLiteral("mean"), toArray(mean)},
                       {QStringLiteral("std"), toArray(std)}};
}

bool Preprocessing::operator==(const Preprocessing& o) const
{
    return resize == o.resize && centerCrop == o.centerCrop && channels == o.channels && mean == o.mean
        && std == o.std;
}

ModelInfo ModelInfo::fromJson(const QJsonObject& r)
{
    ModelInfo info;
    info.file = r.value(QStringLiteral("file")).toString();
    info.className = r.value(QStringLiteral("className")).toString();
    info.parameterCount = qint64(r.value(QStringLiteral("parameterCount")).toDouble());
    info.inputs = toStrings(r.value(QStringLiteral("inputs")));
    info.warning = r.value(QStringLiteral("warning")).toString();
    info.unsafeOps = toStrings(r.value(QStringLiteral("unsafeOps")));
    info.hasPreprocessing = r.contains(QStringLiteral("preprocessing"));
    if (info.hasPreprocessing)
        info.preprocessing = Preprocessing::fromJson(r.value(QStringLiteral("preprocessing")).toObject());
    info.classes = toStrings(r.value(QStringLiteral("metadata")).toObject().value(QStringLiteral("classes")));
    const QJsonObject classes = r.value(QStringLiteral("moduleClasses")).toObject();
    for (auto it = classes.constBegin(); it != classes.constEnd(); ++it)
        info.moduleClasses.insert(it.key(), it.value().toString());
    const QJsonObject graphs = r.value(QStringLiteral("graphs")).toObject();
    for (Mode mode : {Mode::Train, Mode::Eval}) {
        const QJsonObject g = graphs.value(modeName(mode)).toObject();
        ModeGraph& graph = info.graphs[int(mode)];
        graph.moduleClasses = info.moduleClasses;
        graph.names = toStrings(g.value(QStringLiteral("names")));
        graph.error = g.value(QStringLiteral("error")).toString();
        for (const QJsonValue& v : g.value(QStringLiteral("nodes")).toArray()) {
            const QJsonObject n = v.toObject();
            GraphNodeInfo node;
            node.name = n.value(QStringLiteral("name")).toString();
            node.kind = n.value(QStringLiteral("kind")).toString();
            node.modulePath = n.value(QStringLiteral("modulePath")).toString();
            node.moduleClass = n.value(QStringLiteral("moduleClass")).toString();
            node.op = n.value(QStringLiteral("op")).toString();
            node.valueType = n.value(QStringLiteral("valueType")).toString();
            node.controlFlow = n.value(QStringLiteral("controlFlow")).toBool();
            for (const QJsonValue& i : n.value(QStringLiteral("inputs")).toArray())
                node.inputs.append(i.toInt());
            graph.nodes.append(node);
        }
        // Without a description (engine error) still show the names, as a chain.
        if (graph.nodes.isEmpty()) {
            for (int i = 0; i < graph.names.size(); ++i) {
                GraphNodeInfo node;
                node.name = graph.names[i];
                node.kind = i == 0 ? QStringLiteral("input") : QStringLiteral("op");
                if (i > 0)
                    node.inputs.append(i - 1);
                graph.nodes.append(node);
            }
        }
    }
    return info;
}

RunOutput RunOutput::fromJson(const QJsonObject& o)
{
    RunOutput out;
    out.key = o.value(QStringLiteral("key")).toString();
    out.node = o.value(QStringLiteral("node")).toString();
    for (const QJsonValue& v : o.value(QStringLiteral("shape")).toArray())
        out.shape.append(qint64(v.toDouble()));
    out.min = o.value(QStringLiteral("min")).toDouble();
    out.max = o.value(QStringLiteral("max")).toDouble();
    out.mean = o.value(QStringLiteral("mean")).toDouble();
    out.std = o.value(QStringLiteral("std")).toDouble();
    out.file = o.value(QStringLiteral("file")).toString();
    return out;
}

QString RunOutput::shapeText() const
{
    QStringList parts;
    for (qint64 d : shape)
        parts.append(QString::number(d));
    return parts.join(QChar(0x00D7));
}

} // namespace featscope::ui
