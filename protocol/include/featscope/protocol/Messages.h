#pragma once

// The requests the GUI sends and the responses it reads, typed (docs/engine-protocol.md). Each request has
// one toJson (the GUI's side) and one fromJson (the engine's side); each result one way in from a Frame (the
// GUI's side) and, where the engine builds it field by field, one way out. No LibTorch: a run's tensors
// travel as float32 bytes (Framing.h).

#include <featscope/GraphDescription.h>
#include <featscope/ReturnNodes.h>
#include <featscope/protocol/ErrorKind.h>
#include <featscope/protocol/Framing.h>
#include <featscope/protocol/Preprocessing.h>

#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QVector>

#include <optional>

namespace featscope::protocol {

/// What every response carries besides its own fields: success, or the error for the user.
struct Status {
    bool ok = false;
    QString error;                  ///< complete message for the user when !ok
    ErrorKind errorKind = ErrorKind::Error;
    QStringList suggestions;        ///< closest node names, for ErrorKind::UnknownNode

    static Status fromJson(const QJsonObject& response);
    /// A failure the client reports itself (no answer from the engine, or a broken one).
    static Status failure(const QString& error, ErrorKind kind);
};

/// A request's "mode"; absent means eval. Throws featscope::Error on anything but "train" and "eval".
Mode modeFromJson(const QJsonValue& value);
/// A request's [{node, key}] list; an absent key is the node.
ReturnNodes returnNodesFromJson(const QJsonValue& value);
QJsonArray toJson(const ReturnNodes& nodes);

struct LoadRequest {
    QString path;
    QStringList leafModules;   ///< torchvision's leaf_modules, by qualified class name
    QStringList leafFunctions; ///< torchvision's autowrap_functions, by qualified name
    /// Libraries of custom TorchScript ops to load into the engine first (featscope-engine --ops-library): the
    /// user's word that their code is trusted. A library stays loaded for the engine's life.
    QStringList opsLibraries;
    /// The caller has nothing to lose if the engine dies while reading the file: an engine that holds no model
    /// then reads it in its own process, without the sandboxed reader's second read (and a file that crashes
    /// LibTorch crashes the engine). An engine that holds a model always reads through the reader.
    bool readInEngine = false;

    QJsonObject toJson() const;
    static LoadRequest fromJson(const QJsonObject& request);
};

struct LoadResult {
    Status status;
    QJsonObject model; ///< the response's description of the model (docs/engine-protocol.md, "load")
    double elapsedMs = 0;

    static LoadResult fromFrame(const Frame& frame);
};

struct RunRequest {
    QString image;
    Preprocessing preprocessing;
    Mode mode = Mode::Eval;
    ReturnNodes returnNodes;
    bool allowUnsafeOps = false;

    QJsonObject toJson() const;
    /// Throws featscope::Error on a bad mode or preprocessing.
    static RunRequest fromJson(const QJsonObject& request);
};

/// "1×64×28×28".
QString shapeText(const QVector<qint64>& shape);
/// Whole numbers of a JSON list (a shape); anything else (text, fractions, beyond 2^53) becomes -1, which no
/// shape accepts.
QVector<qint64> integersFromJson(const QJsonValue& value);
/// The texts of a JSON list (node names).
QStringList stringsFromJson(const QJsonValue& value);
/// A statistic the engine sent; empty for its null (a value that was not finite).
std::optional<double> finiteNumberFromJson(const QJsonValue& value);

/// One tensor of a run: where it came from, its statistics and its values. A node whose value holds
/// several tensors (a dict, list or tuple: an FPN's levels) gives one per tensor (featscope::splitValue).
struct TensorOutput {
    QString key;  ///< the return node's key, then `path`: "layer1", "backbone.fpn['0']"
    QString node; ///< the full node name the key's entry resolved to
    QString path; ///< where the tensor sits in the node's value ("['0']", "[1]"); empty when it is the value
    QVector<qint64> shape;
    double min = 0, max = 0, mean = 0, std = 0; ///< of all values; std is the population one
    QByteArray values; ///< count() float32 values in C order, in this machine's byte order

    qint64 count() const;
    const float* data() const { return reinterpret_cast<const float*>(values.constData()); }
    /// "1×64×28×28".
    QString shapeText() const;
};

/// One part of a run's output that is no tensor (an int, a shape, None), as text.
struct TextOutput {
    QString key;  ///< as TensorOutput's
    QString node;
    QString path;
    QString type; ///< TorchScript's name of its type: "int", "List[int]", "NoneType"
    QString text; ///< as TorchScript prints it: "3", "[1, 256, 7, 7]", "None"
};

struct RunResult {
    Status status;
    Mode mode = Mode::Eval;
    QVector<qint64> inputShape;
    double elapsedMs = 0;
    QVector<TensorOutput> outputs;
    QVector<TextOutput> textOutputs; ///< in the header only; no payload part

    /// The engine's answer: the header and one payload part per tensor output (values in little-endian order).
    Frame toFrame() const;
    /// Checks every tensor output's part against its shape (count * 4 bytes); a mismatch is a failed result
    /// of ErrorKind::Protocol naming the output, never a misread tensor.
    static RunResult fromFrame(const Frame& frame);
};

/// A class activation map at one node (docs/engine-protocol.md, "cam").
struct CamRequest {
    QString node;
    QString method = QStringLiteral("gradcam"); ///< gradcam, gradcam++ or gradxact (the engine checks)
    qint64 classIndex = -1;                     ///< the class explained; -1: the top class
    QString layout;                             ///< nchw, nhwc or tokens to force one; empty: detected
    QString image;
    Preprocessing preprocessing;
    bool allowUnsafeOps = false;

    QJsonObject toJson() const;
    /// Throws featscope::Error on a bad preprocessing or class index.
    static CamRequest fromJson(const QJsonObject& request);
};

struct CamResult {
    struct TopClass {
        qint64 index = 0;
        double score = 0;
        double probability = 0; ///< softmax share
    };
    Status status;
    QString node;   ///< the full node name
    QString method;
    qint64 classIndex = 0;
    QString layout; ///< how the node's value was read
    bool classTokenDropped = false;
    int height = 0, width = 0;
    QByteArray map; ///< height * width float32 values in row order, in this machine's byte order
    QVector<TopClass> top;
    QVector<qint64> inputShape;
    double elapsedMs = 0;

    const float* data() const { return reinterpret_cast<const float*>(map.constData()); }
    /// The engine's answer: the header and the map as the one payload part.
    Frame toFrame() const;
    /// Checks that the one payload part holds height * width values; else a failed result of ErrorKind::Protocol.
    static CamResult fromFrame(const Frame& frame);
};

struct ExportRequest {
    QString path;
    Mode mode = Mode::Eval; ///< the mode the extractor is saved in
    ReturnNodes train, eval;
    bool allowUnsafeOps = false;

    QJsonObject toJson() const;
    /// Throws featscope::Error on a bad mode.
    static ExportRequest fromJson(const QJsonObject& request);
};

struct ExportResult {
    Status status;
    QString path; ///< absolute path written

    static ExportResult fromFrame(const Frame& frame);
};

} // namespace featscope::protocol
