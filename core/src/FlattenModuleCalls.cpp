#include "FlattenModuleCalls.h"

#include "RemoveAugmentedAssignmentMutation.h"

#include <featscope/Errors.h>

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/constant_propagation.h>

#include <algorithm>

namespace featscope {
namespace {

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
        result_.graph = module.get_method("forward").graph()->copy();
    }

    FlatGraph run()
    {
        flattenBlock(result_.graph->block());
        removeAugmentedAssignmentMutation(result_.graph, [this](Node* old, Node* replacement) {
            result_.modulePaths[replacement] = pathOf(old);
            result_.modulePaths.erase(old);
        });
        return std::move(result_);
    }

private:
    void flattenBlock(Block* block)
    {
        Node* node = block->nodes().front();
        while (node != block->return_node())
            node = visit(node);
    }

    // Visits one node and returns the next one to visit.
    Node* visit(Node* node)
    {
        switch (node->kind()) {
        case prim::CallMethod:
            return visitMethodCall(node);
        case prim::CallFunction:
            return visitFunctionCall(node);
        case prim::GetAttr:
            return visitGetAttr(node);
        case prim::If:
            return visitIf(node);
        default:
            break;
        }
        for (Block* block : node->blocks())
            flattenBlock(block);
        return foldIfConstant(node);
    }

    Node* visitMethodCall(Node* node)
    {
        Value* self = node->input(0);
        const auto type = self->type()->cast<c10::ClassType>();
        const std::string method = node->s(attr::name);
        if (!type || (isForward(method) && policy_.isLeafModule(type->name()->qualifiedName())))
            return node->next();
        auto* callee = torch::jit::tryToGraphFunction(type->getMethod(method));
        if (!callee)
            return node->next();
        // Only calling a module (its forward) enters the module's scope in torch.fx; another method,
        // such as FloatFunctional.add_relu, is traced as plain Python in the caller's scope.
        return inlineCall(node, *callee, isForward(method) ? modulePathOf(self) : pathOf(node));
    }

    Node* visitFunctionCall(Node* node)
    {
        const auto functionType = node->input(0)->type()->cast<c10::FunctionType>();
        if (!functionType)
            return node->next();
        torch::jit::Function* function = functionType->function();
        if (!policy_.leafFunctionName(function->qualname().qualifiedName()).empty())
            return node->next();
        auto* callee = torch::jit::tryToGraphFunction(*function);
        if (!callee)
            return node->next();
        node->removeInput(0);
        return inlineCall(node, *callee, pathOf(node));
    }

    Node* visitGetAttr(Node* node)
    {
        const std::string name = node->s(attr::name);
        Value* owner = node->input(0);
        if (!owner->type()->cast<c10::ClassType>())
            return node->next();
        if (name == "training") {
            result_.readsMode = true;
            return replaceWithConstant(node, c10::IValue(result_.mode == Mode::Train));
        }
        const auto ownerObject = objectOf(owner);
        if (!ownerObject)
            return node->next();
        const auto slot = ownerObject->type()->findAttributeSlot(name);
        if (!slot)
            return node->next();
        const c10::IValue value = ownerObject->getSlot(*slot);
        if (isFoldableAttribute(value))
            return replaceWithConstant(node, value);
        return node->next();
    }

    Node* visitIf(Node* node)
    {
        const auto condition = torch::jit::toIValue(node->input(0));
        if (!condition || !condition->isBool()) {
            for (Block* block : node->blocks())
                flattenBlock(block);
            return node->next();
        }
        Block* taken = node->blocks()[condition->toBool() ? 0 : 1];
        Node* first = taken->nodes().front();
        Node* next = first == taken->return_node() ? node->next() : first;
        for (auto it = taken->nodes().begin(); it != taken->nodes().end();) {
            Node* moved = *it;
            ++it;
            moved->moveBefore(node);
        }
        for (size_t i = 0; i < node->outputs().size(); ++i)
            node->output(i)->replaceAllUsesWith(taken->outputs()[i]);
        destroy(node);
        return next;
    }

    // Folds scalar computations on constants, as Python would have computed them before fx saw them.
    Node* foldIfConstant(Node* node)
    {
        Node* next = node->next();
        if (node->kind() == prim::Constant || node->inputs().empty() || !node->blocks().empty()
            || node->hasSideEffects())
            return next;
        for (Value* input : node->inputs())
            if (input->node()->kind() != prim::Constant)
                return next;
        for (Value* output : node->outputs())
            if (!isImmutableScalarType(output->type()))
                return next;
        const auto stack = torch::jit::runNodeIfInputsAreConstant(node);
        if (!stack || stack->size() != node->outputs().size())
            return next;
        torch::jit::WithInsertPoint guard(node);
        std::vector<Value*> constants;
        for (const c10::IValue& value : *stack) {
            const auto constant = result_.graph->insertConstant(value);
            constants.push_back(constant);
        }
        for (size_t i = 0; i < constants.size(); ++i)
            node->output(i)->replaceAllUsesWith(constants[i]);
        destroy(node);
        return next;
    }

    Node* replaceWithConstant(Node* node, const c10::IValue& value)
    {
        torch::jit::WithInsertPoint guard(node);
        const auto constant = result_.graph->insertConstant(value);
        Node* next = node->next();
        node->output()->replaceAllUsesWith(constant);
        destroy(node);
        return next;
    }

    Node* inlineCall(Node* call, torch::jit::GraphFunction& callee, const std::string& path)
    {
        Node* before = call->prev();
        Node* after = call->next();
        result_.modulePaths.erase(call); // inlineCallTo destroys it; its address may be reused
        torch::jit::inlineCallTo(call, &callee, callee.graph().get());
        for (Node* node = before->next(); node != after; node = node->next())
            adoptInlinedNode(node, path);
        return before->next();
    }

    // Node addresses are reused after destruction, so a destroyed node must leave the path map.
    void destroy(Node* node)
    {
        result_.modulePaths.erase(node);
        node->destroy();
    }

    // Records the module path of an inlined node and drops its values' names. Inlining copies each
    // callee value's name, and Graph keeps names unique by renaming the previous owner with a `.<n>`
    // suffix found by counting up from 1: quadratic in how often a name recurs (`out` in every
    // block) unless inlined names are released again. Nothing reads them; TorchScript prints
    // unnamed values as `_<n>`.
    void adoptInlinedNode(Node* node, const std::string& path)
    {
        result_.modulePaths[node] = path;
        for (Value* output : node->outputs())
            output->setDebugName("");
        for (Block* block : node->blocks()) {
            for (Value* input : block->inputs())
                input->setDebugName("");
            for (Node* inner : block->nodes())
                adoptInlinedNode(inner, path);
        }
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
