#include "SubgraphRewriterShortcut.h"

#include <torch/csrc/api/include/torch/version.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/irparser.h>
#include <torch/csrc/jit/passes/subgraph_rewrite.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <dlfcn.h>

#define FEATSCOPE_SUBGRAPH_REWRITER_SHORTCUT (TORCH_VERSION_MAJOR == 1 && TORCH_VERSION_MINOR == 13)

namespace featscope {
namespace {

std::atomic<bool> g_skipUnmatchableGraphs{true};

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Symbol;

void collectKinds(const Block* block, std::unordered_set<Symbol>& kinds)
{
    for (const Node* node : block->nodes()) {
        kinds.insert(node->kind());
        for (const Block* inner : node->blocks())
            collectKinds(inner, kinds);
    }
}

// The node kinds of a pattern, parsed once per process: the same eight strings come for every submodule.
std::vector<Symbol> kindsOfPattern(const std::string& pattern)
{
    static std::mutex mutex;
    static std::unordered_map<std::string, std::vector<Symbol>> cache;
    std::lock_guard<std::mutex> lock(mutex);
    auto found = cache.find(pattern);
    if (found == cache.end()) {
        Graph graph;
        std::unordered_map<std::string, torch::jit::Value*> values;
        torch::jit::parseIR(pattern, &graph, values);
        std::unordered_set<Symbol> kinds;
        collectKinds(graph.block(), kinds);
        found = cache.emplace(pattern, std::vector<Symbol>(kinds.begin(), kinds.end())).first;
    }
    return found->second;
}

bool hasEveryKind(const std::unordered_set<Symbol>& present, const std::vector<Symbol>& needed)
{
    for (const Symbol kind : needed)
        if (!present.count(kind))
            return false;
    return true;
}

} // namespace

bool setSubgraphRewriterShortcut(bool enabled)
{
    return g_skipUnmatchableGraphs.exchange(enabled);
}

bool subgraphRewriterShortcutInstalled()
{
#if FEATSCOPE_SUBGRAPH_REWRITER_SHORTCUT
    // The definition the dynamic linker gives every caller, LibTorch included, and this library's own.
    void* const used = ::dlsym(RTLD_DEFAULT, "_ZN5torch3jit16SubgraphRewriter11runOnModuleERKNS0_6ModuleE");
    using RunOnModule = torch::jit::Module (torch::jit::SubgraphRewriter::*)(const torch::jit::Module&);
    const RunOnModule ours = &torch::jit::SubgraphRewriter::runOnModule;
    void* ownAddress = nullptr;
    static_assert(sizeof(ours) >= sizeof(ownAddress), "a member function pointer starts with its address");
    std::memcpy(&ownAddress, &ours, sizeof ownAddress);
    return used != nullptr && used == ownAddress;
#else
    return false;
#endif
}

} // namespace featscope

#if FEATSCOPE_SUBGRAPH_REWRITER_SHORTCUT
namespace torch::jit {

// LibTorch 1.13's definition, but for the graphs skipped (SubgraphRewriterShortcut.h). This function is
// featscope's only on purpose; core's CMakeLists keeps it in every executable that links core.
Module SubgraphRewriter::runOnModule(const Module& module)
{
    nodes_to_delete_.clear();
    std::vector<std::vector<Symbol>> patternKinds;
    const bool skip = featscope::g_skipUnmatchableGraphs.load();
    if (skip)
        for (const RewritePatternDescr& pattern : patterns_)
            patternKinds.push_back(featscope::kindsOfPattern(pattern.pattern));
    for (const auto& method : module.get_methods()) {
        std::shared_ptr<Graph> graph = toGraphFunction(method.function()).graph();
        if (skip) {
            std::unordered_set<Symbol> present;
            featscope::collectKinds(graph->block(), present);
            bool matchable = false;
            for (const std::vector<Symbol>& kinds : patternKinds)
                matchable = matchable || featscope::hasEveryKind(present, kinds);
            if (!matchable)
                continue;
        }
        runOnGraph(graph);
    }
    return module;
}

} // namespace torch::jit
#endif
