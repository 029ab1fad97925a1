#include <featscope/InferenceExport.h>

#include <featscope/Errors.h>

namespace featscope {

torch::jit::Module optimizeForInference(const torch::jit::Module& extractor)
{
    if (extractor.is_training())
        throw Error("An optimized export is for inference only: freezing turns the weights into constants and "
                    "drops the training-mode graph, so the module could no longer train or switch to train mode. "
                    "Put the extractor in eval mode, or export it without optimization.");
    try {
        // freeze() also runs the frozen-graph optimisations (conv/batch-norm and conv/add folding,
        // linear transposes). optimize_for_inference() would add MKLDNN layouts, which cannot be
        // saved and loaded again.
        return torch::jit::freeze(extractor);
    } catch (const c10::Error& error) {
        throw Error(std::string("LibTorch could not optimize this extractor: ") + error.what_without_backtrace()
                    + " Export it without optimization.");
    }
}

} // namespace featscope
