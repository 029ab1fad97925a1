#pragma once

#include <featscope/FeatureExtraction.h>
#include <featscope/ModuleLoader.h>
#include <featscope/NodeStatistics.h>
#include <featscope/UnsafeOps.h>
#include <featscope/protocol/Framing.h>
#include <featscope/protocol/Messages.h>

#include <QJsonObject>
#include <QString>

#include <torch/script.h>

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

/// Serves one request of docs/engine-protocol.md at a time on a loaded TorchScript model.
class Engine {
public:
    struct Options {
        featscope::LoadLimits loadLimits; ///< memory and time caps for reading a model (0 = core's defaults)
        std::size_t runMemoryBytes = 0;   ///< address space a run or export may add; 0 = only the engine's cap
        int debugRunDelayMs = 0;          ///< test aid: sleep this long before each run
        /// Set from another thread to stop the running request (a run stops at its next op); may be null.
        const std::atomic<bool>* cancel = nullptr;
    };

    explicit Engine(Options options) : options_(options) {}

    /// Handles one request object and returns the response: its object and, for a run, the tensors as
    /// payload parts (protocol/Framing.h). Never throws.
    featscope::protocol::Frame handle(const QJsonObject& request);

private:
    QJsonObject load(const QJsonObject& request);
    featscope::protocol::Frame run(const featscope::protocol::RunRequest& request);
    QJsonObject exportExtractor(const featscope::protocol::ExportRequest& request);
    featscope::protocol::Frame cam(const featscope::protocol::CamRequest& request);
    QJsonObject statistics(const QJsonObject& request);
    QJsonObject diff(const QJsonObject& request);
    QJsonObject receptiveRegion(const QJsonObject& request);
    /// The gradient module of `node` (see featscope::createNodeGradientModule), kept while the node stays the same.
    torch::jit::Module& gradientModuleFor(const std::string& node);

    featscope::protocol::Frame runCapped(const QJsonObject& request);
    const std::vector<std::string>& names(featscope::Mode mode) const;
    void requireModel() const;
    void requireUnsafeOpsAllowed(bool allowed) const;
    /// From the graphs named at load, or by naming the model again when they could not be.
    torch::jit::Module createExtractor(const featscope::ReturnNodes& train, const featscope::ReturnNodes& eval) const;
    torch::jit::Module& extractorFor(const featscope::ReturnNodes& train, const featscope::ReturnNodes& eval);

    Options options_;
    std::optional<torch::jit::Module> module_;
    std::string path_;
    std::vector<featscope::UnsafeOp> unsafeOps_;
    featscope::FeatureExtractionOptions extractionOptions_;
    featscope::GraphNodeNames names_;
    std::optional<featscope::AnalysedModel> analysed_; ///< the model named once; empty when a mode could not be
    featscope::GraphDescription descriptions_[2]; ///< per Mode; empty when a mode could not be described
    std::string extractorKey_;
    std::optional<torch::jit::Module> extractor_;
    std::string camNode_; ///< the node camModule_ was built for
    std::optional<torch::jit::Module> camModule_;
    std::optional<featscope::NodeStatisticsRecorder> statisticsRecorders_[2]; ///< per Mode, made on first use
};
