#include <featscope/ImageInputs.h>

#include <featscope/Errors.h>

namespace featscope {
namespace {

std::string describe(const c10::Argument& argument)
{
    return "'" + argument.name() + "' (" + argument.type()->annotation_str() + ")";
}

std::string signature(const c10::FunctionSchema& schema)
{
    std::string text;
    for (std::size_t i = 1; i < schema.arguments().size(); ++i) {
        const c10::Argument& argument = schema.arguments()[i];
        text += (text.empty() ? "" : ", ") + argument.name() + ": " + argument.type()->annotation_str();
    }
    return "forward(" + text + ")";
}

bool isTensor(const c10::TypePtr& type)
{
    return type->kind() == c10::TypeKind::TensorType;
}

} // namespace

ImageInputs::ImageInputs(const c10::FunctionSchema& schema)
{
    const auto& arguments = schema.arguments();
    if (arguments.size() < 2)
        throw Error("The model's " + signature(schema) + " takes no input, so there is nothing an image can fill.");
    const c10::Argument& first = arguments[1];
    c10::TypePtr type = first.type();
    if (const auto optional = type->cast<c10::OptionalType>())
        type = optional->getElementType();
    const auto list = type->cast<c10::ListType>();
    if (isTensor(type))
        packing_ = Packing::Batch;
    else if (list && isTensor(list->getElementType()))
        packing_ = Packing::List;
    else
        throw Error("An image cannot fill the model's first argument " + describe(first) + " of " + signature(schema)
                    + ": images go into a Tensor (a batch [N, C, H, W]) or a List[Tensor] (one [C, H, W] tensor per "
                      "image). Run this model from code with inputs of its own types.");
    imageArgument_ = first.name();
    for (std::size_t i = 2; i < arguments.size(); ++i) {
        const c10::Argument& argument = arguments[i];
        if (argument.default_value())
            otherArguments_.push_back(*argument.default_value());
        else if (argument.type()->kind() == c10::TypeKind::OptionalType)
            otherArguments_.emplace_back();
        else
            throw Error("The model's " + signature(schema) + " also needs argument " + describe(argument)
                        + ", which has no default value and cannot be filled from an image. Run this model from "
                          "code, or export a model whose forward takes only the image.");
    }
}

std::vector<c10::IValue> ImageInputs::operator()(const std::vector<torch::Tensor>& images) const
{
    std::vector<c10::IValue> inputs;
    inputs.reserve(1 + otherArguments_.size());
    if (packing_ == Packing::Batch)
        inputs.emplace_back(torch::stack(images));
    else
        inputs.emplace_back(c10::List<torch::Tensor>(images));
    inputs.insert(inputs.end(), otherArguments_.begin(), otherArguments_.end());
    return inputs;
}

} // namespace featscope
