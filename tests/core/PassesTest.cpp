// The core passes on small TorchScript modules built here with LibTorch's C++ API: torchvision's naming
// counter and module-scoped names (NameGraphNodes.h), flattening of module calls and of `self.training`
// (FlattenModuleCalls.h), augmented assignment (RemoveAugmentedAssignmentMutation.h), pruning around
// in-place list appends (EliminateDeadCode.h), one-shot extractors against those of an analysis, and the
// closest names offered for an unknown node. Runs in about a second: no fixtures, no Python.
//
// Each module's Python twin is in the comment above its builder; the expected names are what
// torchvision 0.14.1's get_graph_node_names returns for that twin (checked with /usr/bin/python3).

#include "EliminateDeadCode.h"
#include "FlattenModuleCalls.h"
#include "LeafPolicy.h"
#include "NameGraphNodes.h"
#include "RemoveAugmentedAssignmentMutation.h"
#include "SubgraphRewriterShortcut.h"

#include <featscope/Errors.h>
#include <featscope/FeatureExtraction.h>

#include <torch/csrc/jit/ir/irparser.h>
#include <torch/csrc/jit/passes/canonicalize.h>
#include <torch/csrc/jit/passes/subgraph_rewrite.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/script.h>

#include <QTest>

#include <map>
#include <regex>
#include <sstream>

using namespace featscope;
using Names = std::vector<std::string>;

namespace {

// One compilation unit per test module, as torch.jit.script makes one per model; classes defined twice
// are mangled (`___torch_mangle_<n>`) as in a scripted torchvision model. C++'s resolver has no
// `__call__` for modules, so the sources write `self.act.forward(x)`: the same prim::CallMethod that
// Python's `self.act(x)` compiles to.
class ModuleBuilder {
public:
    using Children = std::vector<std::pair<std::string, torch::jit::Module>>;

    torch::jit::Module module(const std::string& pythonClass, const std::string& source, const Children& children = {})
    {
        torch::jit::Module m(c10::QualifiedName("__torch__." + pythonClass), unit_, /*shouldMangle=*/true);
        m.register_attribute("training", c10::BoolType::get(), true);
        for (const auto& [name, child] : children)
            m.register_module(name, child);
        m.define(source);
        return m;
    }

    // `nn.ReLU()`: a torch.nn class, so a leaf for torch.fx.
    torch::jit::Module relu()
    {
        return module("torch.nn.modules.activation.ReLU", "def forward(self, x):\n    return torch.relu(x)\n");
    }

private:
    std::shared_ptr<torch::jit::CompilationUnit> unit_ = std::make_shared<torch::jit::CompilationUnit>();
};

// The module as a user has it: saved by TorchScript and loaded again. Its nodes point at the serialized
// code, and the source they were compiled from is the range that generated it (SourceText.h). A module
// compiled in this process has no such range, so the rules that read the source (augmented assignment,
// `/` versus div()) only apply to loaded modules, which is what featscope is given.
torch::jit::Module savedAndLoaded(const torch::jit::Module& module)
{
    std::stringstream archive;
    module.save(archive);
    return torch::jit::load(archive);
}

// class Block(nn.Module):                       class Net(nn.Module):
//     def __init__(self):                           def __init__(self):
//         self.act = nn.ReLU()                          self.block, self.block_2 = Block(), Block()
//     def forward(self, x):                             self.act, self.conv_1 = nn.ReLU(), nn.ReLU()
//         y = self.act(x)                           def forward(self, x):
//         y = self.act(y)                               x = torch.relu(x)
//         z = torch.relu(y)                             x = self.block(x)
//         z = torch.relu(z)                             x = self.block_2(x)
//         return z + y                                  x = torch.relu(x)
//                                                       x = self.act(x)
//                                                       x = self.conv_1(x)
//                                                       return x + 1
torch::jit::Module repeatedOpsNet()
{
    ModuleBuilder b;
    const std::string blockSource = "def forward(self, x):\n"
                               "    y = self.act.forward(x)\n"
                               "    y = self.act.forward(y)\n"
                               "    z = torch.relu(y)\n"
                               "    z = torch.relu(z)\n"
                               "    return z + y\n";
    const auto block = b.module("Block", blockSource, {{"act", b.relu()}});
    const auto block2 = b.module("Block", blockSource, {{"act", b.relu()}});
    return b.module("Net",
                    "def forward(self, x):\n"
                    "    x = torch.relu(x)\n"
                    "    x = self.block.forward(x)\n"
                    "    x = self.block_2.forward(x)\n"
                    "    x = torch.relu(x)\n"
                    "    x = self.act.forward(x)\n"
                    "    x = self.conv_1.forward(x)\n"
                    "    return x + 1\n",
                    {{"block", block}, {"block_2", block2}, {"act", b.relu()}, {"conv_1", b.relu()}});
}

// class Head(nn.Module):                        class Top(nn.Module):
//     def __init__(self):                           def __init__(self):
//         self.act = nn.ReLU()                          self.head = Head()
//     def scale(self, x):                           def forward(self, x):
//         return torch.relu(x) * 3                      return self.head(torch.sigmoid(x))
//     def forward(self, x):
//         x = self.scale(x)
//         if self.training:
//             return x * 2
//         return self.act(x - 1)
torch::jit::Module modeDependentTop()
{
    ModuleBuilder b;
    const auto head = b.module("Head",
                               "def scale(self, x):\n"
                               "    return torch.relu(x) * 3\n"
                               "def forward(self, x):\n"
                               "    x = self.scale(x)\n"
                               "    if self.training:\n"
                               "        return x * 2\n"
                               "    return self.act.forward(x - 1)\n",
                               {{"act", b.relu()}});
    return b.module("Top", "def forward(self, x):\n    return self.head.forward(torch.sigmoid(x))\n", {{"head", head}});
}

// class Residual(nn.Module):
//     def forward(self, x):
//         out = torch.relu(x)
//         out += x
//         out.mul_(2)
//         y = torch.relu_(out)
//         y -= 1
//         return y
torch::jit::Module augmentedResidual()
{
    return savedAndLoaded(ModuleBuilder().module("Residual", "def forward(self, x):\n"
                                              "    out = torch.relu(x)\n"
                                              "    out += x\n"
                                              "    out.mul_(2)\n"
                                              "    y = torch.relu_(out)\n"
                                              "    y -= 1\n"
                                              "    return y\n"));
}

Names namesOf(const torch::jit::Module& module, Mode mode)
{
    const LeafPolicy policy;
    return nameGraphNodes(flattenModuleCalls(module, mode, policy), module, policy).names();
}

std::vector<std::string> kindsOf(const torch::jit::Graph& graph)
{
    std::vector<std::string> kinds;
    for (const torch::jit::Node* node : graph.nodes())
        if (node->kind() != torch::jit::prim::Constant)
            kinds.push_back(node->kind().toQualString());
    return kinds;
}

bool contains(const std::vector<std::string>& list, const std::string& item)
{
    return std::find(list.begin(), list.end(), item) != list.end();
}

// An extractor's forward as text that does not depend on the order values were created in (they print as
// their numbers) nor on how many extractor types came before (the second one's are mangled).
std::string comparableForward(const torch::jit::Module& extractor)
{
    const auto graph = torch::jit::Canonicalize(extractor.get_method("forward").graph(), /*keep_unique_names=*/false);
    return std::regex_replace(graph->toString(), std::regex("___torch_mangle_[0-9]+\\."), "");
}

std::string joined(const Names& names)
{
    std::string text;
    for (const std::string& name : names)
        text += (text.empty() ? "" : ", ") + name;
    return text;
}

#define COMPARE_NAMES(actual, expected)                                                                \
    do {                                                                                               \
        const Names a = (actual);                                                                      \
        const Names e = (expected);                                                                    \
        QVERIFY2(a == e, ("got [" + joined(a) + "], torchvision gives [" + joined(e) + "]").c_str()); \
    } while (false)

// Every method graph of a module and its submodules, printed, by qualified method name.
std::map<std::string, std::string> printedGraphs(const torch::jit::Module& module)
{
    std::map<std::string, std::string> graphs;
    for (const torch::jit::Module& submodule : module.modules())
        for (const torch::jit::Method& method : submodule.get_methods())
            graphs[submodule.type()->name()->qualifiedName() + "." + method.name()] = method.graph()->toString();
    return graphs;
}

// Restores the shortcut's setting when a test ends, failed or not.
struct ShortcutSetting {
    explicit ShortcutSetting(bool enabled) : previous(setSubgraphRewriterShortcut(enabled)) {}
    ~ShortcutSetting() { setSubgraphRewriterShortcut(previous); }
    bool previous;
};

} // namespace

class PassesTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // SubgraphRewriterShortcut.h: this process's SubgraphRewriter::runOnModule, which LibTorch's own
    // torch::jit::load calls, is featscope's.
    void loadingUsesTheSubgraphRewriterShortcut() { QVERIFY(subgraphRewriterShortcutInstalled()); }

    // A graph that holds a pattern's node kinds is rewritten as LibTorch rewrites it; one that lacks them is
    // left as it is; both end as with the shortcut off (LibTorch's runOnModule).
    void theShortcutRewritesWhatAPatternCanMatch()
    {
        const auto rewritten = [](bool shortcut) {
            const ShortcutSetting setting(shortcut);
            torch::jit::Module net = repeatedOpsNet().clone();
            torch::jit::SubgraphRewriter rewriter;
            rewriter.RegisterRewritePattern("graph(%x):\n  %y = aten::relu(%x)\n  %z = aten::relu(%y)\n  return (%z)",
                                            "graph(%x):\n  %z = aten::sigmoid(%x)\n  return (%z)");
            for (const torch::jit::Module& submodule : net.modules())
                rewriter.runOnModule(submodule);
            return printedGraphs(net);
        };
        const std::map<std::string, std::string> withShortcut = rewritten(true);
        QCOMPARE(withShortcut, rewritten(false));
        int sigmoids = 0;
        for (const auto& [method, graph] : withShortcut)
            sigmoids += graph.find("aten::sigmoid") != std::string::npos;
        QVERIFY2(sigmoids > 0, "no graph was rewritten: the shortcut skipped a graph the pattern matches");
        QVERIFY(withShortcut != printedGraphs(repeatedOpsNet()));
    }

    // torch::jit::load (which runs LibTorch's rewrite of old quantized convolutions on every submodule) gives
    // the same graphs with the shortcut as without it.
    void loadedGraphsEqualThoseOfLibTorchsOwnRewriter()
    {
        std::stringstream archive;
        modeDependentTop().save(archive);
        const auto loaded = [&archive](bool shortcut) {
            const ShortcutSetting setting(shortcut);
            std::stringstream copy(archive.str());
            return printedGraphs(torch::jit::load(copy));
        };
        const std::map<std::string, std::string> withShortcut = loaded(true);
        QVERIFY(withShortcut.size() > 2);
        QCOMPARE(withShortcut, loaded(false));
    }
    // torchvision's counter is per full name: the second call of a leaf module or op gets `_1`, an op
    // repeated in another module starts again (`block_2.relu`, not fx's global `relu_3`), and a leaf
    // whose own name ends in `_<n>` loses that suffix (`conv_1` is listed as `conv`).
    void repeatedOpsAreCountedPerModulePath()
    {
        const Names expected{"x", "relu", "block.act", "block.act_1", "block.relu", "block.relu_1", "block.add",
                             "block_2.act", "block_2.act_1", "block_2.relu", "block_2.relu_1", "block_2.add",
                             "relu_1", "act", "conv", "add"};
        const torch::jit::Module net = repeatedOpsNet();
        COMPARE_NAMES(namesOf(net, Mode::Eval), expected);
        COMPARE_NAMES(namesOf(net, Mode::Train), expected);
        COMPARE_NAMES(namesOf(savedAndLoaded(net), Mode::Eval), expected);
    }

    // Non-leaf module calls and methods are inlined under the caller's path, leaf calls stay calls, and
    // the branch on `self.training` keeps only the taken block, so the modes differ as in torchvision.
    void flatteningInlinesModuleCallsAndEvaluatesTheMode()
    {
        const torch::jit::Module top = modeDependentTop();
        const LeafPolicy policy;
        const FlatGraph eval = flattenModuleCalls(top, Mode::Eval, policy);
        QVERIFY(eval.readsMode);
        const std::vector<std::string> kinds = kindsOf(*eval.graph);
        QVERIFY2(!contains(kinds, "prim::If"), "the branch on self.training was not evaluated");
        QCOMPARE(std::count(kinds.begin(), kinds.end(), "prim::CallMethod"), 1L);
        for (const torch::jit::Node* node : eval.graph->nodes()) {
            if (node->kind() == torch::jit::prim::CallMethod)
                QCOMPARE(modulePathOf(node->input(0)), std::string("head.act"));
            if (node->kind() == torch::jit::aten::relu) {
                QCOMPARE(eval.modulePaths.at(node), std::string("head")); // from Head.scale, inlined
                // Inlined code remembers the call it came from, and its values carry no names.
                QVERIFY(node->callstack().has_value());
                QCOMPARE((*node->callstack())->function_name(), std::string("scale"));
                QVERIFY(!node->output()->hasDebugName());
            }
            if (node->kind() == torch::jit::aten::sigmoid) {
                QCOMPARE(eval.modulePaths.count(node) ? eval.modulePaths.at(node) : std::string(), std::string());
                QVERIFY(!node->callstack().has_value());
            }
        }
        QVERIFY(!flattenModuleCalls(repeatedOpsNet(), Mode::Eval, policy).readsMode);

        for (const torch::jit::Module& module : {top, savedAndLoaded(top)}) {
            COMPARE_NAMES(namesOf(module, Mode::Train), (Names{"x", "sigmoid", "head.relu", "head.mul", "head.mul_1"}));
            COMPARE_NAMES(namesOf(module, Mode::Eval),
                          (Names{"x", "sigmoid", "head.relu", "head.mul", "head.sub", "head.act"}));
        }
        QVERIFY(getGraphNodeNames(top).warning.has_value());
        QVERIFY(!getGraphNodeNames(repeatedOpsNet()).warning.has_value());
    }

    // `out += x` compiles to aten::add_; the pass makes it aten::add as torch.fx records it, and leaves the
    // explicit `out.mul_(2)` and `torch.relu_(out)` in place and named with their `_`, as fx does too.
    void augmentedAssignmentBecomesOutOfPlace()
    {
        const torch::jit::Module residual = augmentedResidual();
        const auto graph = residual.get_method("forward").graph()->copy();
        const std::vector<std::string> before = kindsOf(*graph);
        QVERIFY(contains(before, "aten::add_") && contains(before, "aten::sub_") && contains(before, "aten::mul_")
                && contains(before, "aten::relu_"));
        int replaced = 0;
        removeAugmentedAssignmentMutation(graph, [&](torch::jit::Node* old, torch::jit::Node* replacement) {
            ++replaced;
            QCOMPARE(std::string(old->kind().toUnqualString()), std::string(replacement->kind().toUnqualString()) + "_");
        });
        QCOMPARE(replaced, 2);
        const std::vector<std::string> after = kindsOf(*graph);
        QVERIFY(contains(after, "aten::add") && contains(after, "aten::sub") && contains(after, "aten::mul_")
                && contains(after, "aten::relu_"));
        QVERIFY(!contains(after, "aten::add_") && !contains(after, "aten::sub_"));

        const Names expected{"x", "relu", "add", "mul_", "relu_", "sub"};
        COMPARE_NAMES(namesOf(residual, Mode::Eval), expected);
    }

    // The value before an augmented assignment is returned on its own, as torchvision's extractor returns it.
    void valueBeforeAugmentedAssignmentStaysIntact()
    {
        const torch::jit::Module residual = savedAndLoaded(ModuleBuilder().module(
            "Residual", "def forward(self, x):\n    out = torch.relu(x)\n    out += x\n    return out\n"));
        torch::jit::Module extractor = createFeatureExtractor(residual, {{"relu", "before"}, {"add", "after"}});
        extractor.eval();
        const torch::Tensor x = torch::tensor({{-1.0f, 2.0f}, {3.0f, -4.0f}});
        const auto features = extractor.forward({x}).toGenericDict();
        QVERIFY(torch::equal(features.at("before").toTensor(), torch::relu(x)));
        QVERIFY(torch::equal(features.at("after").toTensor(), torch::relu(x) + x));
    }

    // DenseNet's concatenation lists: appends to a list that is read later stay, appends to a list nothing
    // reads (or after its last read) go, as TorchScript's alias-aware dead code elimination decides.
    void pruningKeepsAppendsToListsThatAreRead()
    {
        const auto pruned = [](const std::string& ir) {
            auto graph = std::make_shared<torch::jit::Graph>();
            torch::jit::parseIR(ir, graph.get());
            eliminateDeadCode(graph);
            return kindsOf(*graph);
        };
        const std::vector<std::string> live = pruned(R"IR(
graph(%x : Tensor, %y : Tensor):
  %dim : int = prim::Constant[value=1]()
  %features : Tensor[] = prim::ListConstruct(%x)
  %appended : Tensor[] = aten::append(%features, %y)
  %out : Tensor = aten::cat(%features, %dim)
  return (%out)
)IR");
        QCOMPARE(live, (std::vector<std::string>{"prim::ListConstruct", "aten::append", "aten::cat"}));
        const std::vector<std::string> partlyDead = pruned(R"IR(
graph(%x : Tensor, %y : Tensor):
  %dim : int = prim::Constant[value=1]()
  %features : Tensor[] = prim::ListConstruct(%x)
  %appended : Tensor[] = aten::append(%features, %y)
  %out : Tensor = aten::cat(%features, %dim)
  %late : Tensor[] = aten::append(%features, %x)
  %unread : Tensor[] = prim::ListConstruct(%y)
  %lost : Tensor[] = aten::append(%unread, %x)
  %unused : Tensor = aten::relu(%y)
  return (%out)
)IR");
        QCOMPARE(partlyDead, (std::vector<std::string>{"prim::ListConstruct", "aten::append", "aten::cat"}));
    }

    // A one-shot createFeatureExtractor takes the analysis's graph over instead of copying it: the same
    // extractor as one built from a kept analysis, which can still build others afterwards.
    void oneShotExtractorEqualsOneFromAKeptAnalysis()
    {
        const torch::jit::Module net = savedAndLoaded(repeatedOpsNet());
        const ReturnNodes nodes{{"block.add", "first"}, {"block_2.relu_1", "second"}};
        const AnalysedModel analysis(net);
        torch::jit::Module kept = analysis.createFeatureExtractor(nodes, nodes);
        torch::jit::Module oneShot = createFeatureExtractor(net, nodes);
        QCOMPARE(comparableForward(oneShot), comparableForward(kept));
        torch::jit::Module later = analysis.createFeatureExtractor({{"act", "act"}}, {{"act", "act"}});
        const torch::Tensor x = torch::tensor({-1.0f, 0.5f, 2.0f});
        for (torch::jit::Module* extractor : {&kept, &oneShot, &later})
            extractor->eval();
        const auto a = kept.forward({x}).toGenericDict();
        const auto b = oneShot.forward({x}).toGenericDict();
        QVERIFY(torch::equal(a.at("first").toTensor(), b.at("first").toTensor()));
        QVERIFY(torch::equal(a.at("second").toTensor(), b.at("second").toTensor()));
        QVERIFY(later.forward({x}).toGenericDict().contains("act"));
    }

    // An unknown node on a named graph fails with the closest names of that graph, best first.
    void unknownNodesSuggestTheClosestNames()
    {
        const torch::jit::Module net = repeatedOpsNet();
        try {
            createFeatureExtractor(net, {{"blok_2.relu", "k"}});
            QFAIL("no exception for an unknown node");
        } catch (const UnknownNodeError& e) {
            QVERIFY(!e.suggestions().empty());
            QCOMPARE(e.suggestions().front(), std::string("block_2.relu"));
            QVERIFY2(std::string(e.what()).find("block_2.relu") != std::string::npos, e.what());
        }
        // A truncated name that exists selects the last node below it instead.
        torch::jit::Module extractor = createFeatureExtractor(net, {{"block", "b"}});
        extractor.eval();
        const torch::Tensor x = torch::tensor({-1.0f, 0.5f});
        const auto y = torch::relu(torch::relu(x));
        QVERIFY(torch::equal(extractor.forward({x}).toGenericDict().at("b").toTensor(), y + y));
    }
};

QTEST_APPLESS_MAIN(PassesTest)
#include "PassesTest.moc"
