#include "BuildFeatureExtractor.h"

#include "EliminateDeadCode.h"
#include "FlattenModuleCalls.h"
#include "LeafPolicy.h"

#include <map>
#include <set>
#include <sstream>

namespace featscope {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
namespace attr = torch::jit::attr;
namespace prim = torch::jit::prim;

// What the pruned graph reads below one module path.
struct UsedAttributes {
    std::set<std::string> children;     // attribute names of submodules that are containers
    std::set<std::string> wholeModules; // attribute names of modules kept as they are (leaves)
    std::set<std::string> values;       // parameters, buffers and other attributes
};

void forEachNode(Block* block, const std::function<void(Node*)>& visit)
{
    for (Node* node : block->nodes()) {
        visit(node);
        for (Block* inner : node->blocks())
            forEachNode(inner, visit);
    }
}

std::string childPath(const std::string& path, const std::string& name)
{
    return path.empty() ? name : path + "." + name;
}

// The dict's value type: Tensor when every output of both modes is one, else the most specific type
// holding all of them (TorchScript's unification, with Union as its last resort), else Any.
c10::TypePtr outputValueType(const ExtractorOutputs& train, const ExtractorOutputs& eval)
{
    std::vector<c10::TypePtr> types;
    bool allTensors = true;
    for (const ExtractorOutputs* mode : {&train, &eval})
        for (const auto& output : mode->outputs) {
            types.push_back(output.second->type());
            allTensors &= output.second->type()->isSubtypeOf(*c10::TensorType::get());
        }
    if (allTensors)
        return c10::TensorType::get();
    std::ostringstream why;
    const auto unified = c10::unifyTypeList(types, why, /*default_to_union=*/true);
    return unified ? *unified : c10::AnyType::get();
}

// Attribute reads and writes on TorchScript objects that are not modules (torchvision's ImageList) are
// the object's own business, not the extractor's.
bool accessesModule(const Node* attributeAccess)
{
    const auto owner = attributeAccess->input(0)->type()->cast<c10::ClassType>();
    return owner && owner->is_module();
}

class ExtractorBuilder {
public:
    explicit ExtractorBuilder(const torch::jit::Module& module) : module_(module) {}

    torch::jit::Module build(const ExtractorOutputs& train, const ExtractorOutputs& eval, FlatGraphUse use)
    {
        auto cu = module_._ivalue()->compilation_unit();
        torch::jit::Module extractor(c10::QualifiedName("__torch__.featscope.FeatureExtractor"), cu, true);
        extractor.register_attribute("training", c10::BoolType::get(), module_.is_training());
        valueType_ = outputValueType(train, eval);
        const bool oneBody = train.graph == eval.graph && train.outputs == eval.outputs;
        if (oneBody && use == FlatGraphUse::TakeOver) {
            takeOver(train, extractor);
        } else {
            graph_ = std::make_shared<Graph>();
            Value* self = graph_->addInput("self");
            self->setType(extractor.type());
            const auto& original = module_.get_method("forward").graph();
            std::vector<Value*> inputs = {self};
            for (size_t i = 1; i < original->inputs().size(); ++i) {
                Value* input = graph_->addInput(original->inputs()[i]->debugName());
                input->setType(original->inputs()[i]->type());
                inputs.push_back(input);
            }
            if (oneBody) {
                addMode(graph_->block(), train, inputs);
            } else {
                const auto dictType = c10::DictType::create(c10::StringType::get(), valueType_);
                Value* training = graph_->insertGetAttr(self, "training");
                Node* branch = graph_->insertNode(graph_->create(prim::If, 1));
                branch->addInput(training);
                branch->output()->setType(dictType);
                addMode(branch->addBlock(), train, inputs);
                addMode(branch->addBlock(), eval, inputs);
                graph_->registerOutput(branch->output());
            }
        }
        eliminateDeadCode(graph_);

        collectUsedAttributes();
        populate(extractor, module_, "");
        retype(extractor);
        auto* forward = cu->create_function(c10::QualifiedName(*extractor.type()->name(), "forward"), graph_);
        forward->setSchema(callerSchema(extractor));
        extractor.type()->addMethod(forward);
        extractor.train(module_.is_training());
        return extractor;
    }

private:
    // The source's forward schema with the extractor as self and its dict as the result: the
    // graph's inputs carry names and types but no default values, so a schema derived from them
    // would make every argument required and break calls that work on the source.
    c10::FunctionSchema callerSchema(const torch::jit::Module& extractor) const
    {
        const c10::FunctionSchema& source = module_.get_method("forward").function().getSchema();
        std::vector<c10::Argument> arguments = source.arguments();
        arguments.front() = arguments.front().cloneWithType(extractor.type());
        return source.cloneWithArguments(std::move(arguments))
            .cloneWithReturns({c10::Argument("", graph_->outputs()[0]->type())});
    }

    void addMode(Block* block, const ExtractorOutputs& mode, const std::vector<Value*>& inputs)
    {
        torch::jit::WithInsertPoint guard(block->return_node());
        std::unordered_map<Value*, Value*> valueMap;
        torch::jit::insertGraph(*graph_, *mode.graph->flat.graph, inputs, valueMap);
        block->registerOutput(insertOutputDict(mode, [&](Value* value) { return valueMap.at(value); }));
    }

    // The flat graph becomes forward's graph: the extractor as self, the dict as the only output. The
    // graph's inputs already carry the source's names and types, as addMode would give them.
    void takeOver(const ExtractorOutputs& mode, const torch::jit::Module& extractor)
    {
        graph_ = mode.graph->flat.graph;
        Value* self = graph_->inputs()[0];
        self->setDebugName("self");
        self->setType(extractor.type());
        while (!graph_->outputs().empty())
            graph_->eraseOutput(graph_->outputs().size() - 1);
        torch::jit::WithInsertPoint guard(graph_->return_node());
        graph_->registerOutput(insertOutputDict(mode, [](Value* value) { return value; }));
    }

    // A dict of the mode's outputs at the insertion point; `valueOf` finds a flat graph value in graph_.
    Value* insertOutputDict(const ExtractorOutputs& mode, const std::function<Value*(Value*)>& valueOf)
    {
        std::vector<Value*> keys;
        std::vector<Value*> values;
        for (const auto& [key, value] : mode.outputs) {
            keys.push_back(graph_->insertConstant(key));
            values.push_back(valueOf(value));
        }
        return graph_->insertNode(graph_->createDict(c10::StringType::get(), valueType_, keys, values))->output();
    }

    // A module-typed value only read or written through is a container; any other use (a call, an
    // argument) keeps the whole module. Attributes the code writes (GeneralizedRCNN's
    // `self._has_warned = True`) are kept like those it reads. Accesses to objects that are not
    // modules (a detection model's ImageList) belong to values the graph computes, not to the
    // hierarchy.
    void collectUsedAttributes()
    {
        forEachNode(graph_->block(), [&](Node* node) {
            const bool access = node->kind() == prim::GetAttr || node->kind() == prim::SetAttr;
            if (!access || node->s(attr::name) == "training" || !accessesModule(node))
                return;
            const std::string owner = modulePathOf(node->input(0));
            const std::string name = node->s(attr::name);
            if (node->kind() == prim::SetAttr) {
                used_[owner].values.insert(name);
                return;
            }
            Value* output = node->output();
            const auto classType = output->type()->cast<c10::ClassType>();
            if (!classType || !classType->is_module()) {
                used_[owner].values.insert(name);
                return;
            }
            bool onlyAttributeReads = true;
            for (const auto& use : output->uses())
                onlyAttributeReads &= use.user->kind() == prim::GetAttr
                    || (use.user->kind() == prim::SetAttr && use.offset == 0);
            if (onlyAttributeReads)
                used_[owner].children.insert(name);
            else
                used_[owner].wholeModules.insert(name);
        });
    }

    // Registers what the graph reads of `source` in `target`, in the source's attribute order, so that the
    // extractor's children, parameters and buffers come in the order of the model they were taken from.
    void populate(torch::jit::Module& target, const torch::jit::Module& source, const std::string& path)
    {
        const UsedAttributes& used = used_[path];
        const auto sourceType = source.type();
        for (size_t slot = 0; slot < sourceType->numAttributes(); ++slot) {
            const std::string& name = sourceType->getAttributeName(slot);
            if (used.wholeModules.count(name)) {
                target.register_module(name, source.attr(name).toModule());
            } else if (used.children.count(name)) {
                const torch::jit::Module child = source.attr(name).toModule();
                const std::string className = LeafPolicy::pythonName(child.type()->name()->qualifiedName());
                const auto dot = className.rfind('.');
                torch::jit::Module container(
                    c10::QualifiedName("__torch__.featscope.pruned." + className.substr(dot + 1)),
                    target._ivalue()->compilation_unit(), true);
                container.register_attribute("training", c10::BoolType::get(), child.is_training());
                populate(container, child, childPath(path, name));
                target.register_module(name, container);
            } else if (used.values.count(name)) {
                const c10::IValue value = source._ivalue()->getSlot(slot);
                if (sourceType->is_parameter(slot) || sourceType->is_buffer(slot))
                    target.register_parameter(name, value.toTensor(), sourceType->is_buffer(slot));
                else
                    target.register_attribute(name, sourceType->getAttribute(slot), value);
            }
        }
    }

    // Copied GetAttr nodes still carry the original container types; give them the new ones.
    void retype(const torch::jit::Module& extractor)
    {
        graph_->inputs()[0]->setType(extractor.type());
        forEachNode(graph_->block(), [](Node* node) {
            if (node->kind() != prim::GetAttr || !accessesModule(node))
                return;
            const auto owner = node->input(0)->type()->expect<c10::ClassType>();
            node->output()->setType(owner->getAttribute(node->s(attr::name)));
        });
    }

    const torch::jit::Module& module_;
    std::shared_ptr<Graph> graph_;
    c10::TypePtr valueType_;
    std::map<std::string, UsedAttributes> used_;
};

} // namespace

torch::jit::Module buildFeatureExtractor(const torch::jit::Module& module, const ExtractorOutputs& train,
                                         const ExtractorOutputs& eval, FlatGraphUse use)
{
    return ExtractorBuilder(module).build(train, eval, use);
}

} // namespace featscope
