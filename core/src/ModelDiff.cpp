#include <featscope/ModelDiff.h>

#include "InsertNodeRecorders.h"
#include "RealValues.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

namespace featscope {
namespace {

// Dropout and other random ops draw the same numbers in both runs.
constexpr std::uint64_t kRunSeed = 0;

// Keeps a copy of A's values at the nodes B also records, until B gets there.
class KeepSharedValues : public NodeValueSink {
public:
    KeepSharedValues(const std::vector<std::string>& names, const std::set<std::string>& shared)
        : names_(names), shared_(shared) {}

    void record(std::size_t node, const at::Tensor& value) override
    {
        if (node < names_.size() && shared_.count(names_[node]))
            values[names_[node]] = value.detach().clone();
    }

    std::map<std::string, torch::Tensor> values;

private:
    const std::vector<std::string>& names_;
    const std::set<std::string>& shared_;
};

NodeDifference compareValues(const std::string& name, const torch::Tensor& a, const torch::Tensor& b,
                             const DiffTolerance& tolerance)
{
    NodeDifference difference;
    difference.name = name;
    difference.shapeA = a.sizes().vec();
    difference.shapeB = b.sizes().vec();
    if (difference.shapeA != difference.shapeB) {
        difference.maxAbs = difference.maxRel = std::numeric_limits<double>::quiet_NaN();
        difference.divergent = true;
        return difference;
    }
    if (a.numel() == 0)
        return difference;
    const torch::Tensor valuesA = realFloatingValues(a).to(torch::kDouble);
    const torch::Tensor valuesB = realFloatingValues(b).to(torch::kDouble);
    const torch::Tensor magnitudeB = valuesB.abs();
    const torch::Tensor absolute = (valuesA - valuesB).abs_();
    difference.maxAbs = absolute.max().item<double>();
    const double scale = magnitudeB.max().item<double>();
    difference.maxRel = scale > 0 ? difference.maxAbs / scale
                                  : (difference.maxAbs > 0 ? std::numeric_limits<double>::infinity() : 0.0);
    // NaN where both are NaN is no difference; NaN on one side only is.
    difference.divergent = absolute.gt(magnitudeB.mul_(tolerance.rtol).add_(tolerance.atol)).any().item<bool>()
        || valuesA.isnan().ne(valuesB.isnan()).any().item<bool>();
    return difference;
}

// Compares B's values with A's kept copies as B computes them, releasing each copy.
class CompareWithKept : public NodeValueSink {
public:
    CompareWithKept(const std::vector<std::string>& names, std::map<std::string, torch::Tensor>& kept,
                    const DiffTolerance& tolerance)
        : names_(names), kept_(kept), tolerance_(tolerance) {}

    void record(std::size_t node, const at::Tensor& value) override
    {
        if (node >= names_.size())
            return;
        const auto found = kept_.find(names_[node]);
        if (found == kept_.end())
            return;
        differences.emplace(found->first, compareValues(found->first, found->second, value, tolerance_));
        kept_.erase(found);
    }

    std::map<std::string, NodeDifference> differences;

private:
    const std::vector<std::string>& names_;
    std::map<std::string, torch::Tensor>& kept_;
    const DiffTolerance& tolerance_;
};

std::vector<std::string> notIn(const std::vector<std::string>& names, const std::set<std::string>& others)
{
    std::vector<std::string> result;
    for (const std::string& name : names)
        if (!others.count(name))
            result.push_back(name);
    return result;
}

} // namespace

ModelDifference compareModels(const torch::jit::Module& a, const torch::jit::Module& b, Mode mode,
                              const std::vector<c10::IValue>& inputs, const DiffTolerance& tolerance,
                              const FeatureExtractionOptions& options)
{
    RecordingModule recordingA = createRecordingModule(a, mode, options);
    RecordingModule recordingB = createRecordingModule(b, mode, options);
    const RecordedNodes& nodesA = recordingA.nodes;
    const RecordedNodes& nodesB = recordingB.nodes;
    const std::set<std::string> recordedA(nodesA.recorded.begin(), nodesA.recorded.end());
    const std::set<std::string> recordedB(nodesB.recorded.begin(), nodesB.recorded.end());
    std::set<std::string> tensorNodesA = recordedA, tensorNodesB = recordedB;
    tensorNodesA.insert(nodesA.skipped.begin(), nodesA.skipped.end());
    tensorNodesB.insert(nodesB.skipped.begin(), nodesB.skipped.end());
    std::set<std::string> shared;
    for (const std::string& name : nodesA.recorded)
        if (recordedB.count(name))
            shared.insert(name);

    KeepSharedValues keep(nodesA.recorded, shared);
    torch::manual_seed(kRunSeed);
    runRecording(recordingA, inputs, keep);
    CompareWithKept compare(nodesB.recorded, keep.values, tolerance);
    torch::manual_seed(kRunSeed);
    runRecording(recordingB, inputs, compare);

    ModelDifference result;
    for (const std::string& name : nodesA.recorded) {
        const auto found = compare.differences.find(name);
        if (found == compare.differences.end())
            continue;
        if (found->second.divergent && !result.firstDivergent)
            result.firstDivergent = name;
        result.nodes.push_back(std::move(found->second));
    }
    result.onlyInA = notIn(nodesA.recorded, tensorNodesB);
    result.onlyInB = notIn(nodesB.recorded, tensorNodesA);
    for (const RecordedNodes* nodes : {&nodesA, &nodesB})
        for (const std::string& name : nodes->skipped)
            if (std::find(result.skipped.begin(), result.skipped.end(), name) == result.skipped.end())
                result.skipped.push_back(name);
    return result;
}

} // namespace featscope
