#pragma once

#include <featscope/GraphDescription.h>
#include <featscope/protocol/Messages.h>
#include <featscope/protocol/Preprocessing.h>

#include <QHash>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QVector>

#include <memory>

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
    /// The same graph in the model layer's type, for its rules (return-node validation). Shared, never
    /// changed after parsing: the document, the return-node checks and the graph panel each hold the graph,
    /// and a deep copy of 10,000 nodes' strings costs the GUI thread tens of milliseconds.
    std::shared_ptr<const featscope::GraphDescription> description = std::make_shared<const featscope::GraphDescription>();
};

/// Image preprocessing settings sent with each run: the protocol's, validated by the same rules as the
/// engine's and the CLI's.
using protocol::Preprocessing;

/// A "preprocessing" object as the protocol spells it; `fallback` when it is missing or invalid (settings
/// written by another version).
Preprocessing preprocessingFromRequest(const QJsonObject& object, const Preprocessing& fallback);

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
    /// Op libraries loaded in the engine, "PATH (why, N ops)": native code that runs as trusted.
    QStringList opsLibraries;

    const ModeGraph& graph(Mode mode) const { return graphs[int(mode)]; }
    /// Both modes name the same nodes in the same order (most models): no node needs a "not in <mode>" mark,
    /// and nobody needs to build sets of 10,000 names to find that out.
    bool modesHaveSameNames() const { return graphs[0].names == graphs[1].names; }
    static ModelInfo fromJson(const QJsonObject& response);
};

/// One requested output.
struct ReturnNodeSpec {
    QString node; ///< possibly truncated node name
    QString key;  ///< output key (defaults to the node name)
};

/// One tensor of a run: statistics and values, as the protocol decoded them.
using RunOutput = protocol::TensorOutput;
/// One part of a run's output that is no tensor, as text.
using RunText = protocol::TextOutput;

} // namespace featscope::ui
