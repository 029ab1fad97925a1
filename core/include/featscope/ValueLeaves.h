#pragma once

#include <torch/script.h>

#include <optional>
#include <string>
#include <vector>

namespace featscope {

/// One part of an extracted value that a front end shows on its own: a tensor (drawn as maps), or
/// anything else as text.
struct ValueLeaf {
    /// Python's subscript from the whole value to this part: "['0']" (dict key), "[1]" (list or tuple
    /// index), "[0]['pool']" (nested); empty when the part is the whole value.
    std::string path;
    std::optional<torch::Tensor> tensor; ///< set for a tensor part
    std::string type;                    ///< TorchScript type of a text part ("int", "List[int]", "NoneType")
    std::string text;                    ///< a text part as TorchScript prints it ("3", "[1, 256, 7, 7]", "None")
};

/// Splits an output value (what a feature extractor returns for one key) into the parts to show.
///
/// Algorithm: a tensor is one part. A dict, list or tuple that holds a tensor somewhere inside is
/// split: each of its entries, in order, gets the container's path plus its subscript and is split in
/// turn. Any other value, containers without tensors included (a shape, a list of ints, None), is one
/// text part.
///
/// Contract: the parts come in the value's order (a dict's insertion order), every tensor of the value
/// is in exactly one part, and paths are unique within one value.
std::vector<ValueLeaf> splitValue(const c10::IValue& value);

} // namespace featscope
