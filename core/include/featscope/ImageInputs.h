#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

namespace featscope {

/// How a batch of images becomes the arguments of a forward with a given schema.
///
/// Contract: the images fill forward's first argument: a Tensor gets them stacked into one
/// [N, C, H, W] batch, a List[Tensor] gets one [C, H, W] tensor per image (torchvision's detection
/// models), an Optional of either the same. Every later argument gets its default value, or None
/// when it is Optional. The constructor throws featscope::Error naming the argument (and its type)
/// that an image cannot fill: a first argument of another type (Dict[str, Tensor], int, ...), or a
/// later one without a default that is not Optional. So a model is checked once, before any image.
class ImageInputs {
public:
    /// `schema` is Method::function().getSchema(), self first.
    explicit ImageInputs(const c10::FunctionSchema& schema);

    /// The positional arguments without self, for Module::forward. The images are [C, H, W], all
    /// of one size when the argument is a Tensor.
    std::vector<c10::IValue> operator()(const std::vector<torch::Tensor>& images) const;

    /// The name of the argument the images fill ("x", "images", "waveforms").
    const std::string& imageArgument() const { return imageArgument_; }

private:
    enum class Packing { Batch, List };
    Packing packing_ = Packing::Batch;
    std::string imageArgument_;
    std::vector<c10::IValue> otherArguments_;
};

} // namespace featscope
