#pragma once

#include <featscope/GraphDescription.h>

#include <QHash>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QVector>

namespace featscope::ui {

/// Training or evaluation mode (featscope::Mode); also the index of a mode's graph in ModelInfo.
using featscope::Mode;

/// "train" or "eval".
QString modeName(Mode mode);
/// Parses "train"/"eval"; anything else gives Eval.
Mode modeFromName(const QString& name);

/// One named node of a model's graph, as the engine describes it.
struct GraphNodeInfo {
    QString name;        ///< torchvision node name
    QString kind;        ///< input, attribute, leaf_module, function or op
    QString modulePath;  ///< module the node belongs to
    QString moduleClass; ///< qualified class of that module
    QString op;          ///< op or function name
    QString valueType;   ///< TorchScript type of the value
    bool controlFlow = false;
    bool singleValue = true; ///< false when the node has several outputs
    QVector<int> inputs; ///< indices of the named nodes this node reads

    /// Short label for the second line of a graph box: module class for leaf modules, op otherwise.
    QString typeLabel() const;
};

/// The named graph of one mode.
struct ModeGraph {
    QHash<QString, QString> moduleClasses; ///< submodule path -> qualified class (from ModelInfo)
    QStringList names;              ///< getGraphNodeNames order
    QVector<GraphNodeInfo> nodes;   ///< describeGraph nodes (with edges)
    QString error;                  ///< set when the engine could not describe this mode
    /// The same graph in the model layer's type, for its rules (return-node validation).
    featscope::GraphDescription description;
};

/// Image preprocessing settings sent with each run.
struct Preprocessing {
    int resize = 256;
    int centerCrop = 224;
    int channels = 3;
    QVector<double> mean{0.485, 0.456, 0.406};
    QVector<double> std{0.229, 0.224, 0.225};

    static Preprocessing fromJson(const QJsonObject& object);
    QJsonObject toJson() const;
    bool operator==(const Preprocessing& other) const;
};

/// Everything the engine reports about a loaded model.
struct ModelInfo {
    QString file;
    QString className;
    qint64 parameterCount = 0;
    QStringList inputs;
    QString warning;
    bool hasPreprocessing = false; ///< the model file carries preprocessing metadata
    Preprocessing preprocessing;   ///< the model's defaults, or ImageNet's
    QStringList classes;
    ModeGraph graphs[2];           ///< indexed by Mode
    QHash<QString, QString> moduleClasses; ///< submodule path -> qualified class
    QStringList unsafeOps; ///< ops in the model's code that touch files, processes or the network

    const ModeGraph& graph(Mode mode) const { return graphs[int(mode)]; }
    static ModelInfo fromJson(const QJsonObject& response);
};

/// One requested output.
struct ReturnNodeSpec {
    QString node; ///< possibly truncated node name
    QString key;  ///< output key (defaults to the node name)
};

/// One output of a run: statistics and the raw float32 file the engine wrote.
struct RunOutput {
    QString key;
    QString node;
    QVector<qint64> shape;
    double min = 0, max = 0, mean = 0, std = 0;
    QString file;

    static RunOutput fromJson(const QJsonObject& object);
    /// "1×64×28×28".
    QString shapeText() const;
};

} // namespace featscope::ui
