#include <featscope/protocol/Messages.h>

#include <featscope/Errors.h>

#include <QJsonArray>
#include <QtEndian>

#include <algorithm>
#include <cmath>
#include <limits>

namespace featscope::protocol {
namespace {

QString field(const char* name) { return QString::fromLatin1(name); }

QStringList strings(const QJsonValue& value)
{
    QStringList out;
    for (const QJsonValue& v : value.toArray())
        out.append(v.toString());
    return out;
}

QJsonArray toJson(const QVector<qint64>& values)
{
    QJsonArray array;
    for (qint64 v : values)
        array.append(double(v));
    return array;
}

QJsonValue modeToJson(Mode mode) { return QString::fromLatin1(featscope::toString(mode)); }

/// Wire order is little-endian; on a big-endian machine the same swap goes both ways.
QByteArray swappedToOrFromLittleEndian(QByteArray floats)
{
    if constexpr (Q_BYTE_ORDER == Q_BIG_ENDIAN) {
        float* values = reinterpret_cast<float*>(floats.data());
        qFromLittleEndian<float>(values, floats.size() / qsizetype(sizeof(float)), values);
    }
    return floats;
}

/// Elements of `shape`, or -1 when a dimension is negative or the product passes `limit`.
qint64 elementCount(const QVector<qint64>& shape, qint64 limit)
{
    qint64 count = 1;
    for (qint64 d : shape) {
        if (d < 0)
            return -1;
        if (d > 0 && count > limit / d)
            return -1;
        count *= d;
    }
    return count;
}

} // namespace

Status Status::fromJson(const QJsonObject& response)
{
    Status status;
    status.ok = response.value(field("ok")).toBool();
    if (!status.ok) {
        status.error = response.value(field("error")).toString();
        if (status.error.isEmpty())
            status.error = QStringLiteral("The engine gave no reason.");
        status.errorKind = errorKindFromString(response.value(field("errorType")).toString());
        status.suggestions = strings(response.value(field("suggestions")));
    }
    return status;
}

Status Status::failure(const QString& error, ErrorKind kind)
{
    Status status;
    status.error = error;
    status.errorKind = kind;
    return status;
}

Mode modeFromJson(const QJsonValue& value)
{
    const QString text = value.toString(QStringLiteral("eval"));
    if (const auto mode = featscope::modeFromString(text.toStdString()))
        return *mode;
    throw Error("Unknown mode '" + text.toStdString() + "'; use \"train\" or \"eval\".");
}

ReturnNodes returnNodesFromJson(const QJsonValue& value)
{
    ReturnNodes nodes;
    for (const QJsonValue& v : value.toArray()) {
        const QJsonObject o = v.toObject();
        ReturnNode node;
        node.node = o.value(field("node")).toString().toStdString();
        node.key = o.value(field("key")).toString().toStdString();
        if (node.key.empty())
            node.key = node.node;
        nodes.push_back(std::move(node));
    }
    return nodes;
}

QJsonArray toJson(const ReturnNodes& nodes)
{
    QJsonArray array;
    for (const ReturnNode& n : nodes)
        array.append(QJsonObject{{field("node"), QString::fromStdString(n.node)}, {field("key"), QString::fromStdString(n.key)}});
    return array;
}

QJsonObject LoadRequest::toJson() const
{
    QJsonObject request{{field("path"), path}};
    if (!leafModules.isEmpty())
        request.insert(field("leafModules"), QJsonArray::fromStringList(leafModules));
    if (!leafFunctions.isEmpty())
        request.insert(field("leafFunctions"), QJsonArray::fromStringList(leafFunctions));
    if (!opsLibraries.isEmpty())
        request.insert(field("opsLibraries"), QJsonArray::fromStringList(opsLibraries));
    if (readInEngine)
        request.insert(field("readInEngine"), true);
    return request;
}

LoadRequest LoadRequest::fromJson(const QJsonObject& request)
{
    return LoadRequest{request.value(field("path")).toString(), strings(request.value(field("leafModules"))),
                       strings(request.value(field("leafFunctions"))), strings(request.value(field("opsLibraries"))),
                       request.value(field("readInEngine")).toBool()};
}

LoadResult LoadResult::fromFrame(const Frame& frame)
{
    LoadResult result;
    result.status = Status::fromJson(frame.header);
    if (result.status.ok) {
        result.model = frame.header;
        result.elapsedMs = frame.header.value(field("elapsedMs")).toDouble();
    }
    return result;
}

QJsonObject RunRequest::toJson() const
{
    return QJsonObject{{field("image"), image},
                       {field("preprocessing"), preprocessing.toRequest()},
                       {field("mode"), modeToJson(mode)},
                       {field("returnNodes"), protocol::toJson(returnNodes)},
                       {field("allowUnsafeOps"), allowUnsafeOps}};
}

RunRequest RunRequest::fromJson(const QJsonObject& request)
{
    RunRequest run;
    run.image = request.value(field("image")).toString();
    run.preprocessing = Preprocessing::fromRequest(request.value(field("preprocessing")).toObject());
    run.mode = modeFromJson(request.value(field("mode")));
    run.returnNodes = returnNodesFromJson(request.value(field("returnNodes")));
    run.allowUnsafeOps = request.value(field("allowUnsafeOps")).toBool();
    return run;
}

qint64 TensorOutput::count() const
{
    return elementCount(shape, std::numeric_limits<qint64>::max());
}

QString shapeText(const QVector<qint64>& shape)
{
    QStringList parts;
    for (qint64 d : shape)
        parts.append(QString::number(d));
    return parts.join(QChar(0x00D7));
}

// Casting a double past qint64's range would be undefined: such values become -1.
QVector<qint64> integersFromJson(const QJsonValue& value)
{
    constexpr double kExactLimit = 9007199254740992.0; // 2^53
    QVector<qint64> out;
    for (const QJsonValue& v : value.toArray()) {
        const double d = v.toDouble(-1);
        out.append(d == std::floor(d) && std::abs(d) <= kExactLimit ? qint64(d) : -1);
    }
    return out;
}

QStringList stringsFromJson(const QJsonValue& value)
{
    QStringList out;
    for (const QJsonValue& v : value.toArray())
        out.append(v.toString());
    return out;
}

std::optional<double> finiteNumberFromJson(const QJsonValue& value)
{
    return value.isDouble() ? std::optional<double>(value.toDouble()) : std::nullopt;
}

QString TensorOutput::shapeText() const { return protocol::shapeText(shape); }

Frame RunResult::toFrame() const
{
    Frame frame;
    QJsonArray described;
    for (const TensorOutput& output : outputs) {
        QJsonObject o{{field("key"), output.key},
                      {field("node"), output.node},
                      {field("shape"), toJson(output.shape)},
                      {field("dtype"), QStringLiteral("float32")}};
        if (!output.path.isEmpty())
            o.insert(field("path"), output.path);
        if (output.count() > 0) {
            o.insert(field("min"), output.min);
            o.insert(field("max"), output.max);
            o.insert(field("mean"), output.mean);
            o.insert(field("std"), output.std);
        }
        described.append(o);
        frame.payload.append(swappedToOrFromLittleEndian(output.values));
    }
    frame.header = QJsonObject{{field("mode"), modeToJson(mode)},
                               {field("inputShape"), toJson(inputShape)},
                               {field("outputs"), described},
                               {field("elapsedMs"), elapsedMs}};
    if (!textOutputs.isEmpty()) {
        QJsonArray texts;
        for (const TextOutput& text : textOutputs) {
            QJsonObject o{{field("key"), text.key}, {field("node"), text.node}, {field("type"), text.type}, {field("text"), text.text}};
            if (!text.path.isEmpty())
                o.insert(field("path"), text.path);
            texts.append(o);
        }
        frame.header.insert(field("textOutputs"), texts);
    }
    return frame;
}

RunResult RunResult::fromFrame(const Frame& frame)
{
    RunResult result;
    result.status = Status::fromJson(frame.header);
    if (!result.status.ok)
        return result;
    const auto broken = [](const QString& why) {
        RunResult failed;
        failed.status = Status::failure(QStringLiteral("The engine's run answer is broken: %1").arg(why), ErrorKind::Protocol);
        return failed;
    };
    result.mode = featscope::modeFromString(frame.header.value(field("mode")).toString().toStdString()).value_or(Mode::Eval);
    result.inputShape = integersFromJson(frame.header.value(field("inputShape")));
    result.elapsedMs = frame.header.value(field("elapsedMs")).toDouble();
    const QJsonArray described = frame.header.value(field("outputs")).toArray();
    if (described.size() != frame.payload.size())
        return broken(QStringLiteral("it describes %1 output(s) but carries %2 payload part(s).")
                          .arg(described.size())
                          .arg(frame.payload.size()));
    for (qsizetype i = 0; i < described.size(); ++i) {
        const QJsonObject o = described[i].toObject();
        TensorOutput output;
        output.key = o.value(field("key")).toString();
        output.node = o.value(field("node")).toString();
        output.path = o.value(field("path")).toString();
        output.shape = integersFromJson(o.value(field("shape")));
        output.min = o.value(field("min")).toDouble();
        output.max = o.value(field("max")).toDouble();
        output.mean = o.value(field("mean")).toDouble();
        output.std = o.value(field("std")).toDouble();
        const QString dtype = o.value(field("dtype")).toString();
        if (dtype != QLatin1String("float32"))
            return broken(QStringLiteral("output '%1' has dtype '%2'; only float32 is sent.").arg(output.key, dtype));
        const qint64 bytes = frame.payload[i].size();
        const qint64 count = elementCount(output.shape, bytes / qint64(sizeof(float)) + 1);
        if (count < 0 || count * qint64(sizeof(float)) != bytes)
            return broken(QStringLiteral("output '%1' has shape [%2] but %3 bytes of values.")
                              .arg(output.key, output.shapeText())
                              .arg(bytes));
        output.values = swappedToOrFromLittleEndian(frame.payload[i]);
        result.outputs.append(std::move(output));
    }
    for (const QJsonValue& v : frame.header.value(field("textOutputs")).toArray()) {
        const QJsonObject o = v.toObject();
        result.textOutputs.append({o.value(field("key")).toString(), o.value(field("node")).toString(),
                                   o.value(field("path")).toString(), o.value(field("type")).toString(),
                                   o.value(field("text")).toString()});
    }
    return result;
}

QJsonObject CamRequest::toJson() const
{
    QJsonObject request{{field("node"), node},
                        {field("method"), method},
                        {field("layout"), layout},
                        {field("image"), image},
                        {field("preprocessing"), preprocessing.toRequest()},
                        {field("allowUnsafeOps"), allowUnsafeOps}};
    if (classIndex >= 0)
        request.insert(field("classIndex"), double(classIndex));
    return request;
}

CamRequest CamRequest::fromJson(const QJsonObject& request)
{
    CamRequest cam;
    cam.node = request.value(field("node")).toString();
    cam.method = request.value(field("method")).toString(QStringLiteral("gradcam"));
    const QJsonValue classIndex = request.value(field("classIndex"));
    if (!classIndex.isUndefined() && !classIndex.isNull()) {
        const double index = classIndex.toDouble(-1);
        if (!classIndex.isDouble() || index < 0 || index != std::floor(index) || index > 9007199254740992.0)
            throw Error("\"classIndex\" must be a class number (0, 1, ...).");
        cam.classIndex = qint64(index);
    }
    cam.layout = request.value(field("layout")).toString();
    cam.image = request.value(field("image")).toString();
    cam.preprocessing = Preprocessing::fromRequest(request.value(field("preprocessing")).toObject());
    cam.allowUnsafeOps = request.value(field("allowUnsafeOps")).toBool();
    return cam;
}

Frame CamResult::toFrame() const
{
    QJsonArray topClasses;
    for (const TopClass& c : top)
        topClasses.append(QJsonObject{{field("index"), double(c.index)}, {field("score"), c.score}, {field("probability"), c.probability}});
    Frame frame;
    frame.header = QJsonObject{{field("node"), node},
                               {field("method"), method},
                               {field("classIndex"), double(classIndex)},
                               {field("layout"), layout},
                               {field("classTokenDropped"), classTokenDropped},
                               {field("height"), height},
                               {field("width"), width},
                               {field("top"), topClasses},
                               {field("inputShape"), toJson(inputShape)},
                               {field("elapsedMs"), elapsedMs}};
    frame.payload.append(swappedToOrFromLittleEndian(map));
    return frame;
}

CamResult CamResult::fromFrame(const Frame& frame)
{
    CamResult result;
    result.status = Status::fromJson(frame.header);
    if (!result.status.ok)
        return result;
    const QJsonObject& h = frame.header;
    result.node = h.value(field("node")).toString();
    result.method = h.value(field("method")).toString();
    result.classIndex = integersFromJson(QJsonArray{h.value(field("classIndex"))}).value(0, -1);
    result.layout = h.value(field("layout")).toString();
    result.classTokenDropped = h.value(field("classTokenDropped")).toBool();
    const QVector<qint64> grid = integersFromJson(QJsonArray{h.value(field("height")), h.value(field("width"))});
    result.inputShape = integersFromJson(h.value(field("inputShape")));
    result.elapsedMs = h.value(field("elapsedMs")).toDouble();
    for (const QJsonValue& v : h.value(field("top")).toArray()) {
        const QJsonObject o = v.toObject();
        result.top.append({integersFromJson(QJsonArray{o.value(field("index"))}).value(0, -1), o.value(field("score")).toDouble(),
                           o.value(field("probability")).toDouble()});
    }
    const qint64 bytes = frame.payload.size() == 1 ? frame.payload[0].size() : -1;
    const qint64 count = elementCount(grid, std::numeric_limits<int>::max());
    if (bytes < 0 || count <= 0 || count * qint64(sizeof(float)) != bytes) {
        CamResult broken;
        broken.status = Status::failure(QStringLiteral("The engine's class activation map is broken: a %1 x %2 grid with %3 "
                                                       "payload part(s) of %4 bytes.")
                                            .arg(grid[0])
                                            .arg(grid[1])
                                            .arg(frame.payload.size())
                                            .arg(bytes),
                                        ErrorKind::Protocol);
        return broken;
    }
    result.height = int(grid[0]);
    result.width = int(grid[1]);
    result.map = swappedToOrFromLittleEndian(frame.payload[0]);
    return result;
}

QJsonObject ExportRequest::toJson() const
{
    QJsonObject request{{field("path"), path}, {field("mode"), modeToJson(mode)}, {field("allowUnsafeOps"), allowUnsafeOps}};
    const auto same = [](const ReturnNodes& a, const ReturnNodes& b) {
        return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                          [](const ReturnNode& x, const ReturnNode& y) { return x.node == y.node && x.key == y.key; });
    };
    if (same(train, eval)) {
        request.insert(field("returnNodes"), protocol::toJson(train));
    } else {
        request.insert(field("trainReturnNodes"), protocol::toJson(train));
        request.insert(field("evalReturnNodes"), protocol::toJson(eval));
    }
    return request;
}

ExportRequest ExportRequest::fromJson(const QJsonObject& request)
{
    ExportRequest out;
    out.path = request.value(field("path")).toString();
    out.mode = modeFromJson(request.value(field("mode")));
    if (request.contains(field("returnNodes"))) {
        out.train = out.eval = returnNodesFromJson(request.value(field("returnNodes")));
    } else {
        out.train = returnNodesFromJson(request.value(field("trainReturnNodes")));
        out.eval = returnNodesFromJson(request.value(field("evalReturnNodes")));
    }
    out.allowUnsafeOps = request.value(field("allowUnsafeOps")).toBool();
    return out;
}

ExportResult ExportResult::fromFrame(const Frame& frame)
{
    ExportResult result;
    result.status = Status::fromJson(frame.header);
    if (result.status.ok)
        result.path = frame.header.value(field("path")).toString();
    return result;
}

} // namespace featscope::protocol
