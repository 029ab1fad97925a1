#include "ModelInfo.h"

#include <featscope/protocol/GraphJson.h>
#include <featscope/protocol/Messages.h>

#include <featscope/Errors.h>

#include <QJsonArray>

namespace featscope::ui {

QString modeName(Mode mode) { return QString::fromLatin1(featscope::toString(mode)); }

Mode modeFromName(const QString& name) { return featscope::modeFromString(name.toStdString()).value_or(Mode::Eval); }

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

Preprocessing preprocessingFromRequest(const QJsonObject& object, const Preprocessing& fallback)
{
    try {
        return Preprocessing::fromRequest(object);
    } catch (const featscope::Error&) {
        return fallback;
    }
}

ModelInfo ModelInfo::fromJson(const QJsonObject& r)
{
    ModelInfo info;
    info.file = r.value(QStringLiteral("file")).toString();
    info.className = r.value(QStringLiteral("className")).toString();
    info.parameterCount = qint64(r.value(QStringLiteral("parameterCount")).toDouble());
    info.inputs = protocol::stringsFromJson(r.value(QStringLiteral("inputs")));
    info.warning = r.value(QStringLiteral("warning")).toString();
    info.unsafeOps = protocol::stringsFromJson(r.value(QStringLiteral("unsafeOps")));
    info.opsLibraries = protocol::stringsFromJson(r.value(QStringLiteral("opsLibraries")));
    info.hasPreprocessing = r.contains(QStringLiteral("preprocessing"));
    if (info.hasPreprocessing)
        info.preprocessing = preprocessingFromRequest(r.value(QStringLiteral("preprocessing")).toObject(), {});
    info.classes = protocol::stringsFromJson(r.value(QStringLiteral("metadata")).toObject().value(QStringLiteral("classes")));
    const QJsonObject classes = r.value(QStringLiteral("moduleClasses")).toObject();
    for (auto it = classes.constBegin(); it != classes.constEnd(); ++it)
        info.moduleClasses.insert(it.key(), it.value().toString());
    const QJsonObject graphs = r.value(QStringLiteral("graphs")).toObject();
    for (Mode mode : {Mode::Train, Mode::Eval}) {
        featscope::protocol::ModeGraphMessage message =
            featscope::protocol::modeGraphFromJson(graphs.value(modeName(mode)).toObject(), mode);
        ModeGraph& graph = info.graphs[int(mode)];
        graph.moduleClasses = info.moduleClasses;
        graph.error = message.error;
        for (const std::string& name : message.names)
            graph.names.append(QString::fromStdString(name));
        // Without a description (engine error) still show the names, as a chain, and check return nodes by name.
        if (message.graph.nodes.empty()) {
            for (std::size_t i = 0; i < message.names.size(); ++i) {
                featscope::GraphNode node;
                node.name = message.names[i];
                node.kind = i == 0 ? featscope::NodeKind::Input : featscope::NodeKind::Op;
                if (i > 0)
                    node.inputs.push_back(i - 1);
                message.graph.nodes.push_back(std::move(node));
            }
        }
        for (const featscope::GraphNode& n : message.graph.nodes) {
            GraphNodeInfo node;
            node.name = QString::fromStdString(n.name);
            node.kind = QString::fromLatin1(featscope::toString(n.kind));
            node.modulePath = QString::fromStdString(n.modulePath);
            node.moduleClass = QString::fromStdString(n.moduleClass);
            node.op = QString::fromStdString(n.op);
            node.valueType = QString::fromStdString(n.valueType);
            node.controlFlow = n.insideControlFlow;
            node.singleValue = n.singleValue;
            for (std::size_t input : n.inputs)
                node.inputs.append(int(input));
            graph.nodes.append(node);
        }
        graph.description = std::make_shared<const featscope::GraphDescription>(std::move(message.graph));
    }
    return info;
}

} // namespace featscope::ui
