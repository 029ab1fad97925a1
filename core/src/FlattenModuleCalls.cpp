#include "FlattenModuleCalls.h"

#include "RemoveAugmentedAssignmentMutation.h"

#include <featscope/Errors.h>

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/constant_propagation.h>

#include <algorithm>

namespace featscope {
namespace {

using torch::jit::Graph;
using torch::jit::Block;
using torch::jit::Node;
using torch::jit::Value;
namespace attr = torch::jit::attr;
namespace prim = torch::jit::prim;

// torch.jit.trace names a module's second call forward1, its third forward2, and so on; TorchScript
// names the overloads of an @torch.jit._overload_method forward forward__0, forward__1, ... (DenseNet's
// _DenseLayer), and calling either is calling the module.
bool isForward(const std::string& method)
{
    if (method.compare(0, 7, "forward") != 0)
        return false;
    const std::size_t digits = method.compare(7, 2, "__") == 0 && method.size() > 9 ? 9 : 7;
    return std::all_of(method.begin() + digits, method.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool isImmutableScalarType(const c10::TypePtr& type)
{
    switch (type->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::FloatType:
    case c10::TypeKind::BoolType:
    case c10::TypeKind::StringType:
    case c10::TypeKind::NoneType:
    case c10::TypeKind::NumberType:
    case c10::TypeKind::DeviceObjType:
        return true;
    case c10::TypeKind::OptionalType:
        return isImmutableScalarType(type->expectRef<c10::OptionalType>().getElementType());
    case c10::TypeKind::TupleType:
        for (const auto& element : type->containedTypes())
            if (!isImmutableScalarType(element))
                return false;
        return true;
    default:
        return false;
    }
}

// Attribute values torch.fx would see as Python constants. Lists of numbers are read-only in
// every model we know of; tensors stay attributes.
bool isFoldableAttribute(const c10::IValue& value)
{
    return value.isInt() || value.isDouble() || value.isBool() || value.isString() || value.isNone()
        || value.isIntList() || value.isDoubleList() || value.isBoolList() || value.isDevice()
        || (value.isTuple() && isImmutableScalarType(value.type()));
}

class ModuleCallFlattener {
public:
    ModuleCallFlattener(const torch::jit::Module& module, Mode mode, const LeafPolicy& policy)
        : module_(module), policy_(policy)
    {
        result_.mode = mode;
        result_.graph = std::make_shared<Graph>();
        valueMap_.reserve(4096); // a few thousand values on DenseNet-121: one table, not a rehash per doubling
    }

    FlatGraph run()
    {
        const std::shared_ptr<Graph>& source = module_.get_method("forward").graph();
        Graph& graph = *result_.graph;
        for (Value* input : source->inputs())
            valueMap_[input] = graph.addInput()->copyMetadata(input);
        const Frame top;
        emitBlock(source->block(), graph.block(), top);
        for (Value* output : source->outputs())
            graph.registerOutput(mapped(output));
        removeAugmentedAssignmentMutation(result_.graph, [this](Node* old, Node* replacement) {
            result_.modulePaths[replacement] = pathOf(old);
            result_.modulePaths.erase(old);
        });
        return std::move(result_);
    }

private:
    // Where the nodes being emitted come from: the module path torch.fx records them under, and for
    // inlined code the call they were inlined from (none at the top level, whose values keep their
    // names).
    struct Frame {
        std::string path;
        c10::optional<torch::jit::InlinedCallStackPtr> callStack;
        bool inlined() const { return callStack.has_value(); }
    };

    Value* mapped(Value* source) const { return valueMap_.at(source); }

    // Emits the nodes of `source` at the end of `target`.
    void emitBlock(Block* source, Block* target, const Frame& frame)
    {
        torch::jit::WithInsertPoint guard(target);
        for (Node* node : source->nodes())
            emit(node, frame);
    }

    void emit(Node* node, const Frame& frame)
    {
        switch (node->kind()) {
        case prim::CallMethod:
            if (emitMethodCall(node, frame))
                return;
            break;
        case prim::CallFunction:
            if (emitFunctionCall(node, frame))
                return;
            break;
        case prim::GetAttr:
            if (emitAttributeConstant(node))
                return;
            break;
        case prim::If:
            if (emitTakenBranch(node, frame))
                return;
            break;
        default:
            break;
        }
        emitCopy(node, frame);
    }

    // A copy of `node` whose blocks are emitted in turn, then folded if fx would have computed it in Python.
    void emitCopy(Node* node, const Frame& frame)
    {
        Graph& graph = *result_.graph;
        Node* copy = graph.insertNode(graph.create(node->kind(), 0));
        for (Value* input : node->inputs())
            copy->addInput(mapped(input));
        for (Value* output : node->outputs())
            valueMap_[output] = adopt(copy->addOutput(), output, frame);
        copy->copyAttributes(*node);
        copy->copyMetadata(node);
        if (frame.inlined())
            copy->setCallStack(*frame.callStack);
        for (Block* block : node->blocks()) {
            Block* copied = copy->addBlock();
            for (Value* input : block->inputs())
                valueMap_[input] = adopt(copied->addInput(), input, frame);
            emitBlock(block, copied, frame);
            for (Value* output : block->outputs())
                copied->registerOutput(mapped(output));
        }
        if (foldIfConstant(copy, node))
            return;
        if (!frame.path.empty())
            result_.modulePaths.emplace(copy, frame.path);
    }

    // Inlined values stay unnamed: Graph keeps names unique by renaming the previous owner with a `.<n>`
    // suffix found by counting up from 1, quadratic in how often a name recurs (`out` in every block).
    // Nothing reads them; TorchScript prints unnamed values as `_<n>`.
    static Value* adopt(Value* copy, Value* source, const Frame& frame)
    {
        return frame.inlined() ? copy->setType(source->type()) : copy->copyMetadata(source);
    }

    bool emitMethodCall(Node* call, const Frame& frame)
    {
        Value* self = mapped(call->input(0));
        const auto type = self->type()->cast<c10::ClassType>();
        const std::string& method = call->s(attr::name);
        if (!type || (isForward(method) && policy_.isLeafModule(type->name()->qualifiedName())))
            return false;
        auto* callee = torch::jit::tryToGraphFunction(type->getMethod(method));
        if (!callee)
            return false;
        // Only calling a module (its forward) enters the module's scope in torch.fx; another method,
        // such as FloatFunctional.add_relu, is traced as plain Python in the caller's scope.
        Frame inner;
        inner.path = isForward(method) ? modulePathOf(self) : frame.path;
        inner.callStack = c10::make_intrusive<torch::jit::InlinedCallStack>(callee, call->sourceRange());
        emitCall(call, call->inputs(), *callee, inner);
        return true;
    }

    bool emitFunctionCall(Node* call, const Frame& frame)
    {
        const auto functionType = call->input(0)->type()->cast<c10::FunctionType>();
        if (!functionType)
            return false;
        torch::jit::Function* function = functionType->function();
        if (!policy_.leafFunctionName(function->qualname().qualifiedName()).empty())
            return false;
        auto* callee = torch::jit::tryToGraphFunction(*function);
        if (!callee)
            return false;
        Frame inner;
        inner.path = frame.path;
        inner.callStack = c10::make_intrusive<torch::jit::InlinedCallStack>(callee, call->sourceRange());
        emitCall(call, call->inputs().slice(1), *callee, inner);
        return true;
    }

    // Emits the callee's body in place of the call. TorchScript has no recursion, so a callee graph is
    // never entered twice at once and one value map serves every frame.
    void emitCall(Node* call, c10::ArrayRef<Value*> arguments, torch::jit::GraphFunction& callee, const Frame& inner)
    {
        Graph& body = *callee.graph();
        for (size_t i = 0; i < arguments.size(); ++i)
            valueMap_[body.inputs()[i]] = mapped(arguments[i]);
        for (Node* node : body.nodes())
            emit(node, inner);
        for (size_t i = 0; i < call->outputs().size(); ++i)
            valueMap_[call->output(i)] = mapped(body.outputs()[i]);
    }

    // `self.training` becomes the mode's constant, other non-tensor module attributes constants of
    // their current values.
    bool emitAttributeConstant(Node* read)
    {
        Value* owner = mapped(read->input(0));
        if (!owner->type()->cast<c10::ClassType>())
            return false;
        const std::string& name = read->s(attr::name);
        if (name == "training") {
            result_.readsMode = true;
            mapToConstant(read->output(), c10::IValue(result_.mode == Mode::Train));
            return true;
        }
        const auto ownerObject = objectOf(owner);
        if (!ownerObject)
            return false;
        const auto slot = ownerObject->type()->findAttributeSlot(name);
        if (!slot)
            return false;
        const c10::IValue value = ownerObject->getSlot(*slot);
        if (!isFoldableAttribute(value))
            return false;
        mapToConstant(read->output(), value);
        return true;
    }

    // A branch on a constant: only the taken block's nodes are emitted, in place of the prim::If.
    bool emitTakenBranch(Node* branch, const Frame& frame)
    {
        const auto condition = torch::jit::toIValue(mapped(branch->input(0)));
        if (!condition || !condition->isBool())
            return false;
        Block* taken = branch->blocks()[condition->toBool() ? 0 : 1];
        for (Node* node : taken->nodes())
            emit(node, frame);
        for (size_t i = 0; i < branch->outputs().size(); ++i)
            valueMap_[branch->output(i)] = mapped(taken->outputs()[i]);
        return true;
    }

    void mapToConstant(Value* source, const c10::IValue& value)
    {
        valueMap_[source] = result_.graph->insertConstant(value);
    }

    // Folds scalar computations on constants, as Python would have computed them before fx saw them:
    // the node's outputs become constants and the node goes. Returns whether it was folded.
    bool foldIfConstant(Node* copy, Node* source)
    {
        if (copy->kind() == prim::Constant || copy->inputs().empty() || !copy->blocks().empty()
            || copy->hasSideEffects())
            return false;
        for (Value* input : copy->inputs())
            if (input->node()->kind() != prim::Constant)
                return false;
        for (Value* output : copy->outputs())
            if (!isImmutableScalarType(output->type()))
                return false;
        const auto stack = torch::jit::runNodeIfInputsAreConstant(copy);
        if (!stack || stack->size() != copy->outputs().size())
            return false;
        torch::jit::WithInsertPoint guard(copy);
        for (size_t i = 0; i < stack->size(); ++i)
            mapToConstant(source->output(i), (*stack)[i]);
        copy->destroy();
        return true;
    }

    std::string pathOf(const Node* node) const
    {
        const auto it = result_.modulePaths.find(node);
        return it == result_.modulePaths.end() ? std::string() : it->second;
    }

    c10::intrusive_ptr<c10::ivalue::Object> objectOf(Value* moduleValue)
    {
        if (moduleValue == result_.graph->inputs().at(0))
            return module_._ivalue();
        Node* producer = moduleValue->node();
        if (producer->kind() != prim::GetAttr)
            return {};
        const auto owner = objectOf(producer->input(0));
        if (!owner)
            return {};
        const auto slot = owner->type()->findAttributeSlot(producer->s(attr::name));
        if (!slot)
            return {};
        const c10::IValue value = owner->getSlot(*slot);
        return value.isObject() ? value.toObject() : c10::intrusive_ptr<c10::ivalue::Object>();
    }

    const torch::jit::Module& module_;
    const LeafPolicy& policy_;
    FlatGraph result_;
    std::unordered_map<Value*, Value*> valueMap_; // source value -> its value in result_.graph
};

} // namespace

std::string modulePathOf(const Value* moduleValue)
{
    std::string path;
    for (const Value* value = moduleValue; value->node()->kind() == prim::GetAttr;
         value = value->node()->input(0)) {
        const std::string name = value->node()->s(attr::name);
        path = path.empty() ? name : name + "." + path;
    }
    return path;
}

FlatGraph flattenModuleCalls(const torch::jit::Module& module, Mode mode, const LeafPolicy& policy)
{
    if (!module.find_method("forward"))
        throw Error("The module has no forward method, so there is nothing to trace.");
    return ModuleCallFlattener(module, mode, policy).run();
}

} // namespace featscope
