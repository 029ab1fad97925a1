#include <featscope/protocol/GraphJson.h>

#include <QJsonArray>

namespace featscope::protocol {
namespace {

QString qs(const std::string& text) { return QString::fromStdString(text); }

std::string text(const QJsonObject& object, const char* key)
{
    return object.value(QLatin1String(key)).toString().toStdString();
}

} // namespace

QJsonObject toJson(const ModeGraphMessage& message)
{
    QJsonArray names;
    for (const std::string& name : message.names)
        names.append(qs(name));
    QJsonArray nodes;
    for (const GraphNode& node : message.graph.nodes) {
        QJsonArray inputs;
        for (std::size_t input : node.inputs)
            inputs.append(qint64(input));
        nodes.append(QJsonObject{{QStringLiteral("name"), qs(node.name)},
                                 {QStringLiteral("kind"), QString::fromLatin1(featscope::toString(node.kind))},
                                 {QStringLiteral("modulePath"), qs(node.modulePath)},
                                 {QStringLiteral("moduleClass"), qs(node.moduleClass)},
                                 {QStringLiteral("op"), qs(node.op)},
                                 {QStringLiteral("valueType"), qs(node.valueType)},
                                 {QStringLiteral("controlFlow"), node.insideControlFlow},
                                 {QStringLiteral("singleValue"), node.singleValue},
                                 {QStringLiteral("inputs"), inputs}});
    }
    QJsonObject object{{QStringLiteral("names"), names}, {QStringLiteral("nodes"), nodes}};
    if (!message.error.isEmpty())
        object.insert(QStringLiteral("error"), message.error);
    return object;
}

ModeGraphMessage modeGraphFromJson(const QJsonObject& object, Mode mode)
{
    ModeGraphMessage message;
    message.graph.mode = mode;
    message.error = object.value(QStringLiteral("error")).toString();
    for (const QJsonValue& name : object.value(QStringLiteral("names")).toArray())
        message.names.push_back(name.toString().toStdString());
    const QJsonArray nodes = object.value(QStringLiteral("nodes")).toArray();
    for (const QJsonValue& value : nodes) {
        const QJsonObject n = value.toObject();
        GraphNode node;
        node.name = text(n, "name");
        node.kind = nodeKindFromString(text(n, "kind")).value_or(NodeKind::Op);
        node.modulePath = text(n, "modulePath");
        node.moduleClass = text(n, "moduleClass");
        node.op = text(n, "op");
        node.valueType = text(n, "valueType");
        node.insideControlFlow = n.value(QStringLiteral("controlFlow")).toBool();
        node.singleValue = n.value(QStringLiteral("singleValue")).toBool(true);
        for (const QJsonValue& input : n.value(QStringLiteral("inputs")).toArray()) {
            const qint64 index = input.toInteger(-1);
            if (index >= 0 && index < nodes.size())
                node.inputs.push_back(std::size_t(index));
        }
        message.graph.nodes.push_back(std::move(node));
    }
    return message;
}

} // namespace featscope::protocol
