#include "NameGraphNodes.h"

#include "RemoveAugmentedAssignmentMutation.h"

#include "SourceText.h"

#include <torch/csrc/jit/ir/constants.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

namespace featscope {
namespace {

using c10::Symbol;
using torch::jit::Block;
using torch::jit::Node;
using torch::jit::Value;
namespace attr = torch::jit::attr;
namespace prim = torch::jit::prim;
namespace aten = torch::jit::aten;

// Splits "name_12" into ("name", 12); returns false when there is no such suffix. torchvision's
// `.+_[0-9]+$` asks for at least one character before the underscore.
bool splitCounterSuffix(const std::string& name, std::string& base, long& counter)
{
    const auto underscore = name.rfind('_');
    if (underscore == std::string::npos || underscore == 0 || underscore + 1 == name.size())
        return false;
    for (size_t i = underscore + 1; i < name.size(); ++i)
        if (!std::isdigit(static_cast<unsigned char>(name[i])))
            return false;
    base = name.substr(0, underscore);
    counter = std::stol(name.substr(underscore + 1));
    return true;
}

// torchvision's NodePathTracer._get_node_qualname counter: drop one `_<n>` suffix, then add
// `_<k>` where k follows the most recent name of the form `q` or `q_<n>`. That search is a scan
// over all names in torchvision; here each name registers itself and its base once.
class QualnameCounter {
public:
    std::string assign(std::string qualname)
    {
        std::string base;
        long counter = 0;
        if (splitCounterSuffix(qualname, base, counter))
            qualname = base;
        const auto latest = latest_.find(qualname);
        if (latest != latest_.end())
            qualname += "_" + std::to_string(latest->second.counter + 1);
        record(qualname);
        return qualname;
    }

private:
    struct Latest {
        long counter; // 0 for the plain name
    };

    void record(const std::string& name)
    {
        latest_[name] = {0};
        std::string base;
        long counter = 0;
        if (splitCounterSuffix(name, base, counter))
            latest_[base] = {counter};
    }

    std::unordered_map<std::string, Latest> latest_;
};

// torch.fx's _snake_case followed by Graph._Namespace's sanitising of illegal characters.
std::string fxNodeName(const std::string& candidate)
{
    std::string snake;
    bool previousLower = false;
    for (char c : candidate) {
        const auto u = static_cast<unsigned char>(c);
        if (previousLower && std::isupper(u))
            snake += '_';
        snake += static_cast<char>(std::tolower(u));
        previousLower = std::islower(u);
    }
    std::string sanitised;
    bool inIllegalRun = false;
    for (char c : snake) {
        const bool legal = std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        if (legal)
            sanitised += c;
        else if (!inIllegalRun)
            sanitised += '_';
        inIllegalRun = !legal;
    }
    if (!sanitised.empty() && std::isdigit(static_cast<unsigned char>(sanitised[0])))
        sanitised.insert(0, "_");
    return sanitised;
}

bool contains(const std::string& text, const char* needle)
{
    return text.find(needle) != std::string::npos;
}

// Python's operator module names for the dunder ops TorchScript keeps.
std::string operatorName(const std::string& dunder)
{
    static const std::set<std::string> underscored = {"and", "or", "not", "is", "is_not"};
    return underscored.count(dunder) ? dunder + "_" : dunder;
}

bool isTensorIndexing(Symbol kind)
{
    return kind == aten::slice || kind == aten::select || kind == aten::index || kind == aten::unsqueeze
        || kind == aten::index_put_ || kind == aten::index_put || kind == aten::copy_
        || kind == aten::expand_as || kind == aten::alias;
}

// Nodes that only move values around: fx sees Python containers and casts, not graph nodes.
bool isStructural(Symbol kind)
{
    static const std::set<Symbol> kinds = {
        prim::ListConstruct, prim::TupleConstruct, prim::DictConstruct, prim::ListUnpack,
        prim::TupleUnpack, prim::unchecked_cast, prim::NumToTensor, prim::Uninitialized,
        prim::RaiseException, prim::Print, prim::isinstance, prim::TypeCheck,
        aten::Int, aten::Float, aten::Bool, aten::ScalarImplicit, aten::IntImplicit,
        aten::FloatImplicit, aten::append, Symbol::fromQualString("aten::extend"), aten::insert, aten::_set_item,
        aten::list, aten::warn, aten::format, aten::__is__, aten::__isnot__, aten::__not__,
        aten::__contains__, aten::str,
        Symbol::fromQualString("aten::_unwrap_optional"),
    };
    return kinds.count(kind) > 0;
}

// Message formatting (f-strings in asserts): fx formats proxies into text, it records no node.
bool producesOnlyStrings(const Node* node)
{
    for (const Value* output : node->outputs())
        if (output->type()->kind() != c10::TypeKind::StringType)
            return false;
    return !node->outputs().empty();
}

// Ops that mutate their first input in place: the mutated container carries the new proxies.
bool mutatesFirstInput(Symbol kind)
{
    return kind == aten::append || kind == Symbol::fromQualString("aten::extend") || kind == aten::insert || kind == aten::_set_item;
}

class NodeNamer {
public:
    NodeNamer(FlatGraph flat, const torch::jit::Module& module, const LeafPolicy& policy)
        : module_(module), policy_(policy)
    {
        result_.flat = std::move(flat);
    }

    NamedGraph run()
    {
        nameInputs();
        nameBlock(result_.flat.graph->block(), false);
        return std::move(result_);
    }

private:
    using Origins = std::vector<size_t>;

    void nameInputs()
    {
        const auto& schema = module_.get_method("forward").function().getSchema();
        const auto inputs = result_.flat.graph->inputs();
        for (size_t i = 1; i < inputs.size(); ++i) {
            GraphNode node;
            node.kind = NodeKind::Input;
            node.op = "placeholder";
            std::string name = i < schema.arguments().size() ? schema.arguments()[i].name()
                                                            : inputs[i]->debugNameBase();
            node.name = counter_.assign(fxNodeName(name));
            record(std::move(node), inputs[i], {});
        }
    }

    void nameBlock(Block* block, bool insideControlFlow)
    {
        for (Node* node : block->nodes())
            nameNode(node, insideControlFlow);
    }

    void nameNode(Node* node, bool insideControlFlow)
    {
        const Symbol kind = node->kind();
        if (kind == prim::Constant)
            return;
        for (Value* input : node->inputs())
            if (input->node()->kind() == prim::GetAttr)
                nameParameterRead(input->node(), insideControlFlow);
        if (kind == prim::Loop) {
            // Loop-carried inputs (after the trip count and condition) enter the body as its
            // parameters (after the iteration counter).
            Block* body = node->blocks().at(0);
            for (size_t i = 2; i < node->inputs().size() && i - 1 < body->inputs().size(); ++i) {
                const auto it = origins_.find(node->input(i));
                if (it != origins_.end())
                    origins_[body->inputs()[i - 1]] = it->second;
            }
        }
        if (kind == prim::If || kind == prim::Loop) {
            for (Block* block : node->blocks())
                nameBlock(block, true);
            passThrough(node);
            return;
        }
        if (kind == prim::GetAttr) {
            if (!isInTracedCode(node))
                nameParameterRead(node, insideControlFlow);
            return;
        }
        if (kind == prim::CallMethod)
            return nameLeafModuleCall(node, insideControlFlow);

        const Origins origins = inputOrigins(node, 0);
        if (origins.empty())
            return; // fx evaluates it as plain Python: no node
        if (kind == prim::CallFunction)
            return nameLeafFunctionCall(node, origins, insideControlFlow);
        if (isStructural(kind) || producesOnlyStrings(node)) {
            passThrough(node);
            return;
        }
        if (readsPythonDict(node)) {
            markOutputs(node, kind == aten::__getitem__ ? dictEntryOrigins(node) : origins);
            return;
        }
        if (isTensorIndexing(kind) && extendSubscript(node, origins))
            return;

        GraphNode description;
        description.kind = NodeKind::Op;
        description.op = fxOpName(node);
        description.modulePath = pathOf(node);
        description.insideControlFlow = insideControlFlow;
        description.name = counter_.assign(qualify(description.modulePath, description.op));
        recordNode(std::move(description), node, origins);
        if (isTensorIndexing(kind))
            openSubscript(node);
    }

    // Whether `value` is a proxy itself (the value of a recorded node), not a container of proxies.
    bool isProxy(const Value* value) const
    {
        const auto it = origins_.find(value);
        return it != origins_.end() && it->second.size() == 1 && result_.nodes[it->second.front()].value == value;
    }

    // A read of a dict that fx sees as a Python dict (built in the traced code, such as the features of
    // IntermediateLayerGetter), not as a proxy (a leaf's output): plain Python, no node.
    bool readsPythonDict(const Node* node) const
    {
        static const std::set<Symbol> reads = {aten::__getitem__, aten::values, aten::keys, aten::len,
                                               Symbol::fromQualString("aten::items"), Symbol::fromQualString("aten::get")};
        return reads.count(node->kind()) && !node->inputs().empty()
            && node->input(0)->type()->kind() == c10::TypeKind::DictType && !isProxy(node->input(0));
    }

    // TorchScript's dict keys: str, int, float, bool, Tensor; only constants can be compared here.
    static bool isSameKey(const c10::optional<c10::IValue>& stored, const c10::IValue& key)
    {
        if (!stored)
            return false;
        if (stored->isString() && key.isString())
            return stored->toStringRef() == key.toStringRef();
        if (stored->isInt() && key.isInt())
            return stored->toInt() == key.toInt();
        return false;
    }

    // What `dict[key]` of a Python dict holds: the value last stored under a constant key before this
    // read (`out[name] = x`, or the dict literal); every value of the dict when that cannot be told.
    Origins dictEntryOrigins(Node* read) const
    {
        const auto key = torch::jit::toIValue(read->input(1));
        Value* dict = read->input(0);
        const Value* stored = nullptr;
        if (key && dict->node()->kind() == prim::DictConstruct)
            for (size_t i = 0; i + 1 < dict->node()->inputs().size(); i += 2)
                if (isSameKey(torch::jit::toIValue(dict->node()->input(i)), *key))
                    stored = dict->node()->input(i + 1);
        const Node* latest = nullptr;
        for (const auto& use : dict->uses()) {
            Node* user = use.user;
            if (!key || user->kind() != aten::_set_item || use.offset != 0 || !user->isBefore(read))
                continue;
            if (isSameKey(torch::jit::toIValue(user->input(1)), *key) && (!latest || latest->isBefore(user))) {
                latest = user;
                stored = user->input(2);
            }
        }
        const auto it = stored ? origins_.find(stored) : origins_.end();
        return it != origins_.end() ? it->second : inputOrigins(read, 0);
    }

    // Attribute reads carry no source; the code around them tells whether they were traced.
    static bool isInTracedCode(const Node* node)
    {
        for (const Node* next = node->next(); next->kind() != prim::Return; next = next->next())
            if (next->kind() != prim::GetAttr && next->kind() != prim::Constant && next->sourceRange().source())
                return isTracedNode(next);
        return false;
    }

    // fx records a parameter read where Python evaluates it. Compiled code keeps the read there;
    // torch.jit.trace hoists reads without source in no particular order, so those are named
    // where their value is first used.
    void nameParameterRead(Node* node, bool insideControlFlow)
    {
        if (origins_.count(node->output()))
            return;
        Value* owner = node->input(0);
        const auto ownerType = owner->type()->cast<c10::ClassType>();
        if (!ownerType || !ownerType->is_module() || !node->output()->type()->isSubtypeOf(*c10::TensorType::get()))
            return;
        const auto slot = ownerType->findAttributeSlot(node->s(attr::name));
        if (!slot || !ownerType->is_parameter(*slot))
            return; // buffers are plain tensors to torch.fx (proxy_buffer_attributes is off)
        const std::string target = qualify(modulePathOf(owner), node->s(attr::name));
        const auto cached = parameterNodes_.find(target);
        if (cached != parameterNodes_.end()) {
            origins_[node->output()] = {cached->second};
            return;
        }
        GraphNode description;
        description.kind = NodeKind::Attribute;
        description.op = "get_attr";
        description.modulePath = pathOf(node);
        description.moduleClass = LeafPolicy::pythonName(ownerType->name()->qualifiedName());
        description.insideControlFlow = insideControlFlow;
        description.name = counter_.assign(qualify(description.modulePath, fxNodeName(target)));
        parameterNodes_[target] = result_.nodes.size();
        recordNode(std::move(description), node, {});
    }

    void nameLeafModuleCall(Node* node, bool insideControlFlow)
    {
        const auto type = node->input(0)->type()->cast<c10::ClassType>();
        GraphNode description;
        description.kind = NodeKind::LeafModule;
        description.modulePath = modulePathOf(node->input(0));
        if (type) {
            description.moduleClass = LeafPolicy::pythonName(type->name()->qualifiedName());
            const auto dot = description.moduleClass.rfind('.');
            description.op = description.moduleClass.substr(dot == std::string::npos ? 0 : dot + 1);
        }
        description.insideControlFlow = insideControlFlow;
        description.name = counter_.assign(description.modulePath);
        recordNode(std::move(description), node, inputOrigins(node, 1));
    }

    void nameLeafFunctionCall(Node* node, const Origins& origins, bool insideControlFlow)
    {
        const auto functionType = node->input(0)->type()->cast<c10::FunctionType>();
        GraphNode description;
        description.kind = NodeKind::Function;
        const std::string qualified = functionType->function()->qualname().qualifiedName();
        description.op = fxNodeName(policy_.leafFunctionName(qualified));
        description.moduleClass = LeafPolicy::pythonName(qualified);
        description.modulePath = pathOf(node);
        description.insideControlFlow = insideControlFlow;
        description.name = counter_.assign(qualify(description.modulePath, description.op));
        recordNode(std::move(description), node, origins);
    }

    // The torch.fx op name: the Python function, method or operator fx would have recorded.
    static std::string fxOpName(const Node* node)
    {
        const Symbol kind = node->kind();
        std::string name = kind.toUnqualString();
        if (kind.is_prim()) {
            if (kind == prim::dtype || kind == prim::device || kind == prim::is_cuda
                || kind == prim::requires_grad || kind == prim::layout)
                return "getattr";
            if (kind == prim::TupleIndex)
                return "getitem";
        }
        if (name.size() > 4 && name.compare(0, 2, "__") == 0 && name.compare(name.size() - 2, 2, "__") == 0)
            return operatorName(name.substr(2, name.size() - 4));
        // Python slices a list (`x.shape[-2:]`) only by subscript; its source range stops before the ']'.
        if (kind == aten::slice && node->input(0)->type()->kind() == c10::TypeKind::ListType)
            return "getitem";
        const std::string text = originalSourceText(node);
        if (isTensorIndexing(kind) && !text.empty() && text.back() == ']')
            return kind == aten::index_put_ || kind == aten::copy_ ? "setitem" : "getitem";
        // `.shape` compiles to aten::size with TorchScript's builtin source, not the model's.
        if (kind == aten::size && node->inputs().size() == 1 && !contains(text, "size("))
            return "getattr";
        if (kind == aten::div && !contains(text, "div("))
            return "truediv";
        if ((kind == aten::floor_divide || kind == aten::floordiv) && !contains(text, "floor_divide("))
            return "floordiv";
        if (kind == aten::remainder && !contains(text, "remainder("))
            return "mod";
        if (kind == aten::rsub)
            return "sub";
        if (kind == aten::bitwise_not && contains(text, "~"))
            return "invert";
        if (name.size() > 1 && name.back() == '_' && name[name.size() - 2] != '_' && !isExplicitInPlaceCall(node))
            name.pop_back(); // in-place only inside a leaf call such as F.relu(x, inplace=True)
        return fxNodeName(name);
    }

    // A subscript like `x[:, 0]` is one getitem for fx but several slice/select nodes here, all
    // carrying the subscript's source range: they extend the open getitem node.
    bool extendSubscript(Node* node, const Origins& origins)
    {
        if (!openSubscript_ || !haveSameOriginalSource(openSubscript_, node))
            return false;
        NamedNode& named = result_.nodes.back();
        for (size_t origin : origins)
            if (origin != result_.nodes.size() - 1)
                addUnique(named.description.inputs, origin);
        named.value = node->outputs().size() == 1 ? node->output() : nullptr;
        named.description.singleValue = named.value != nullptr;
        markOutputs(node, {result_.nodes.size() - 1});
        openSubscript_ = node;
        return true;
    }

    void openSubscript(Node* node)
    {
        const std::string text = originalSourceText(node);
        openSubscript_ = !text.empty() && text.back() == ']' ? node : nullptr;
    }

    void passThrough(Node* node)
    {
        const Origins origins = inputOrigins(node, 0);
        if (origins.empty())
            return;
        if (mutatesFirstInput(node->kind()) && !node->inputs().empty()) {
            Origins& container = origins_[node->input(0)];
            for (size_t origin : origins)
                addUnique(container, origin);
        }
        markOutputs(node, origins);
    }

    Origins inputOrigins(const Node* node, size_t firstInput) const
    {
        Origins origins;
        for (size_t i = firstInput; i < node->inputs().size(); ++i) {
            const auto it = origins_.find(node->input(i));
            if (it != origins_.end())
                for (size_t origin : it->second)
                    addUnique(origins, origin);
        }
        for (const Block* block : node->blocks())
            for (const Value* output : block->outputs()) {
                const auto it = origins_.find(output);
                if (it != origins_.end())
                    for (size_t origin : it->second)
                        addUnique(origins, origin);
            }
        return origins;
    }

    void markOutputs(const Node* node, const Origins& origins)
    {
        for (const Value* output : node->outputs())
            origins_[output] = origins;
    }

    void recordNode(GraphNode description, Node* node, const Origins& inputs)
    {
        openSubscript_ = nullptr;
        Value* value = node->outputs().size() == 1 ? node->output() : nullptr;
        record(std::move(description), value, inputs);
        markOutputs(node, {result_.nodes.size() - 1});
    }

    void record(GraphNode description, Value* value, const Origins& inputs)
    {
        description.inputs = inputs;
        description.singleValue = value != nullptr;
        if (value)
            description.valueType = value->type()->annotation_str();
        else
            description.valueType = "Tuple";
        result_.nodes.push_back(NamedNode{std::move(description), value});
        if (value)
            origins_[value] = {result_.nodes.size() - 1};
    }

    std::string pathOf(const Node* node) const
    {
        const auto it = result_.flat.modulePaths.find(node);
        return it == result_.flat.modulePaths.end() ? std::string() : it->second;
    }

    static std::string qualify(const std::string& path, const std::string& name)
    {
        return path.empty() ? name : path + "." + name;
    }

    static void addUnique(Origins& origins, size_t origin)
    {
        if (std::find(origins.begin(), origins.end(), origin) == origins.end())
            origins.push_back(origin);
    }

    const torch::jit::Module& module_;
    const LeafPolicy& policy_;
    NamedGraph result_;
    QualnameCounter counter_;
    std::unordered_map<const Value*, Origins> origins_;
    std::unordered_map<std::string, size_t> parameterNodes_;
    const Node* openSubscript_ = nullptr;
};

} // namespace

std::vector<std::string> NamedGraph::names() const
{
    std::vector<std::string> result;
    result.reserve(nodes.size());
    for (const NamedNode& node : nodes)
        result.push_back(node.description.name);
    return result;
}

NamedGraph nameGraphNodes(FlatGraph flat, const torch::jit::Module& module, const LeafPolicy& policy)
{
    return NodeNamer(std::move(flat), module, policy).run();
}

} // namespace featscope
