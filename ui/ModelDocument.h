#pragma once

#include "ModelInfo.h"
#include "NodeStatisticsModel.h"

#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QPoint>
#include <QRect>
#include <QVector>

namespace featscope::ui {

class ReturnNodesModel;

/// How the engine reads one model file (a load request's options), kept per model in the settings: libraries
/// of custom TorchScript ops to load first (their code runs as trusted) and torchvision's tracer options.
struct LoadOptions {
    QStringList opsLibraries;  ///< paths of op libraries (featscope-engine --ops-library)
    QStringList leafModules;   ///< torchvision's leaf_modules, by qualified class name
    QStringList leafFunctions; ///< torchvision's autowrap_functions, by qualified name

    bool isEmpty() const { return opsLibraries.isEmpty() && leafModules.isEmpty() && leafFunctions.isEmpty(); }
    bool operator==(const LoadOptions& other) const
    {
        return opsLibraries == other.opsLibraries && leafModules == other.leafModules && leafFunctions == other.leafFunctions;
    }
    QJsonObject toJson() const;
    /// Reads toJson()'s object; fields that are missing or of another type are empty.
    static LoadOptions fromJson(const QJsonObject& object);
};

/// What a run is computed from; the shown maps keep the inputs they came from.
struct RunInputs {
    QString model;
    Mode mode = Mode::Eval;
    QString image;
    QJsonObject preprocessing; ///< Preprocessing::toRequest()

    bool operator==(const RunInputs& other) const
    {
        return model == other.model && mode == other.mode && image == other.image && preprocessing == other.preprocessing;
    }
    bool operator!=(const RunInputs& other) const { return !(*this == other); }
};

/// A class activation map the engine computed (the "cam" request), with the model's top classes.
struct CamMap {
    struct TopClass {
        int index = 0;
        double score = 0;
        double probability = 0; ///< softmax share
    };
    QString node;   ///< resolved node name
    QString method; ///< gradcam, gradcam++ or gradxact
    int classIndex = 0;
    QString layout; ///< how the node's value was read (nchw, nhwc, tokens)
    int width = 0, height = 0;
    QVector<float> values; ///< height x width, ReLU applied, not normalised
    QVector<TopClass> top;
    RunInputs inputs; ///< what it was computed from

    bool isEmpty() const { return values.isEmpty(); }
};

/// One statistics run (the "stats" request): every tensor-valued node summarised.
struct StatisticsSet {
    QVector<NodeSummary> nodes; ///< in execution order
    QStringList skipped;        ///< nodes inside loops or branches: no single value
    RunInputs inputs;           ///< what it was computed from
    qint64 elapsedMs = 0;

    bool isEmpty() const { return nodes.isEmpty(); }
};

/// The open model (A) and another file (B) run on one image and compared node by node (the "diff" request).
struct ModelComparison {
    struct Node {
        QString name;
        QVector<qint64> shapeA, shapeB;
        std::optional<double> maxAbs, maxRel; ///< empty when the shapes differ
        bool divergent = false;
    };
    QString otherModel; ///< B's file
    QVector<Node> nodes; ///< shared tensor nodes, in A's order
    QString firstDivergent; ///< empty when none diverges
    QStringList onlyInA, onlyInB, skipped;
    double atol = 0, rtol = 0;
    RunInputs inputs;
    qint64 elapsedMs = 0;

    bool isEmpty() const { return otherModel.isEmpty(); }
};

/// The input pixels one cell of a node's map depends on (the "receptive" request), in model-input pixels.
struct ReceptiveRegion {
    QString node;
    QPoint cell{-1, -1};
    QRect inInput; ///< empty when no gradient reaches the input from that cell
    RunInputs inputs;
};

/// The images of a folder that excite one channel of a node most (featscope-cli top-images), best first.
struct TopImages {
    struct Image {
        QString path;
        double score = 0;
        int width = 0, height = 0; ///< the channel's map over the node's grid; 0 when the value has none
        QVector<float> map;        ///< height x width, row-major
    };
    QString model;
    QString node;
    int channel = -1;
    QString score;  ///< mean or max: how an image's activation of the channel is measured
    QString folder;
    int imagesRanked = 0; ///< images that could be read and scored
    QVector<Image> top;

    bool isEmpty() const { return top.isEmpty(); }
};

/// The state of the inspector's open model, as Tiled's MapDocument is of a map: the model the engine
/// described, the mode, the return nodes, the image and its preprocessing, the user's consent to run code
/// that reaches outside the model, the display choices, and the last run's outputs with the inputs they
/// came from. Views read it and subscribe to its signals; editors write through its setters. It never talks
/// to the engine (ModelController does) and owns no widget.
class ModelDocument : public QObject {
    Q_OBJECT
public:
    explicit ModelDocument(QObject* parent = nullptr);

    bool hasModel() const { return m_hasModel; }
    const ModelInfo& model() const { return m_model; }
    /// The named graph of the current mode.
    const ModeGraph& graph() const { return m_model.graph(m_mode); }
    /// Counts opened models, so answers about an earlier one can be told apart.
    int generation() const { return m_generation; }
    /// Replaces the open model: the previous one's return nodes, results and consent go, then `state`
    /// (saveState() of an earlier session with this file; may be empty) is restored; `options` are those the
    /// engine loaded it with. Emits modelChanged once.
    void open(ModelInfo model, const QJsonObject& state, const LoadOptions& options = {});
    /// The options the open model was loaded with; saveState() keeps them for the next load of the file.
    const LoadOptions& loadOptions() const { return m_loadOptions; }

    Mode mode() const { return m_mode; }
    void setMode(Mode mode);

    /// The return nodes of both modes; the table edits it directly.
    ReturnNodesModel* returnNodes() const { return m_returns; }

    QString imagePath() const { return m_image; }
    void setImagePath(const QString& path);

    Preprocessing preprocessing() const { return m_preprocessing; }
    /// `problem` is why the editor's text is no valid preprocessing (empty when it is); a run is refused then.
    void setPreprocessing(const Preprocessing& preprocessing, const QString& problem = {});
    QString preprocessingProblem() const { return m_preprocessingProblem; }

    /// The user allowed the open model's unsafe ops to run (true when it has none).
    bool unsafeOpsAllowed() const { return m_unsafeOpsAllowed; }
    void setUnsafeOpsAllowed(bool allowed) { m_unsafeOpsAllowed = allowed; }

    /// Colour map and normalisation of the maps, kept per model.
    QString colourMap() const { return m_colourMap; }
    int normalisation() const { return m_normalisation; }
    void setDisplay(const QString& colourMap, int normalisation);

    RunInputs runInputs() const;
    /// A run of `inputs` finished with `outputs` (its tensors) and `texts` (its other values); `summary`
    /// describes it, `inputShape` is the tensor the model got.
    void setResults(const QVector<RunOutput>& outputs, const RunInputs& inputs, const QString& summary,
                    const QVector<qint64>& inputShape = {}, const QVector<RunText>& texts = {});
    /// The last run failed: the shown maps, if any, are no longer the answer to the current inputs.
    void setRunFailed();
    const QVector<RunOutput>& outputs() const { return m_outputs; }
    /// The last run's values that are no tensors (ints, shapes, None), as text.
    const QVector<RunText>& textOutputs() const { return m_texts; }
    /// What the shown outputs were computed from.
    const RunInputs& resultsInputs() const { return m_resultsInputs; }
    QString resultsSummary() const { return m_summary; }
    /// Shape of the last run's input tensor ([1, 3, 224, 224]); empty when unknown.
    const QVector<qint64>& inputShape() const { return m_inputShape; }

    /// Layouts the user chose per node ("nchw", "nhwc", "tokens"), kept per model.
    const QHash<QString, QString>& layouts() const { return m_layouts; }
    /// Remembers `layout` for `node`; empty forgets it (the detected layout applies).
    void setLayout(const QString& node, const QString& layout);
    /// Output shape text per resolved node ("1×64×28×28"; "5 values" for a node whose value has several
    /// parts, the text of a value that is no tensor), of the last run.
    const QHash<QString, QString>& shapes() const { return m_shapes; }
    /// Why the shown outputs are not those of the current inputs; empty when they are (or there are none).
    QString staleReason() const;

    /// The last class activation map; empty before one is computed and after another model is opened.
    const CamMap& cam() const { return m_cam; }
    void setCam(const CamMap& cam);

    /// The last statistics run; empty before one and after another model is opened.
    const StatisticsSet& statistics() const { return m_statistics; }
    void setStatistics(const StatisticsSet& statistics);

    /// The last comparison with another model; empty before one and after another model is opened.
    const ModelComparison& comparison() const { return m_comparison; }
    void setComparison(const ModelComparison& comparison);

    /// The last receptive region found; empty node before one.
    const ReceptiveRegion& receptiveRegion() const { return m_region; }
    void setReceptiveRegion(const ReceptiveRegion& region);

    /// The last top-images search; empty before one and after another model is opened.
    const TopImages& topImages() const { return m_topImages; }
    void setTopImages(const TopImages& topImages);

    /// Everything kept per model file in the settings.
    QJsonObject saveState() const;

Q_SIGNALS:
    /// Another model was opened (or the same again): every view starts over.
    void modelChanged();
    void modeChanged(featscope::Mode mode);
    void imageChanged(const QString& path);
    void preprocessingChanged();
    void displayChanged();
    void resultsChanged();
    void camChanged();
    void statisticsChanged();
    void comparisonChanged();
    void receptiveRegionChanged();
    void topImagesChanged();
    /// staleReason() may have changed.
    void freshnessChanged(const QString& staleReason);

private:
    void restoreState(const QJsonObject& state);

    ModelInfo m_model;
    LoadOptions m_loadOptions;
    bool m_hasModel = false;
    int m_generation = 0;
    Mode m_mode = Mode::Eval;
    ReturnNodesModel* m_returns;
    QString m_image;
    Preprocessing m_preprocessing;
    QString m_preprocessingProblem;
    bool m_unsafeOpsAllowed = false;
    QString m_colourMap;
    int m_normalisation = 0;
    QVector<RunOutput> m_outputs;
    QVector<RunText> m_texts;
    RunInputs m_resultsInputs;
    QString m_summary;
    QHash<QString, QString> m_shapes;
    QVector<qint64> m_inputShape;
    QHash<QString, QString> m_layouts;
    bool m_lastRunFailed = false;
    CamMap m_cam;
    StatisticsSet m_statistics;
    ModelComparison m_comparison;
    ReceptiveRegion m_region;
    TopImages m_topImages;
};

/// "resize 256, crop 224, RGB": how a run's preprocessing is described to the user.
QString describePreprocessing(const Preprocessing& preprocessing);

} // namespace featscope::ui
