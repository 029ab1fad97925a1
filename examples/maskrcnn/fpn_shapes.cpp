// The C++ side of the Mask R-CNN example: the ResNet-50 body featscope exported and the FPN the
// Python example scripted, loaded with plain LibTorch (no featscope library), run on one input.
//
//   fpn_shapes resnet50_body.pt fpn.pt [HEIGHT WIDTH]
//
// prints the shape of every body output ('0'..'3', strides 4..32) and every pyramid level
// ('0'..'3' and 'pool'), in the dict order the modules return them.

#include <torch/script.h>

#include <cstdlib>
#include <iostream>

namespace {

void printShapes(const char* what, const c10::impl::GenericDict& dict)
{
    for (const auto& entry : dict)
        std::cout << what << " " << entry.key().toStringRef() << ": " << entry.value().toTensor().sizes() << "\n";
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 3 && argc != 5) {
        std::cerr << "Usage: fpn_shapes BODY.pt FPN.pt [HEIGHT WIDTH]\n";
        return 2;
    }
    const int64_t height = argc == 5 ? std::atoll(argv[3]) : 224;
    const int64_t width = argc == 5 ? std::atoll(argv[4]) : 224;
    try {
        torch::jit::Module body = torch::jit::load(argv[1]);
        torch::jit::Module fpn = torch::jit::load(argv[2]);
        body.eval();
        fpn.eval();
        torch::NoGradGuard noGrad;
        torch::manual_seed(0);
        const torch::Tensor image = torch::rand({1, 3, height, width});
        const c10::impl::GenericDict features = body.forward({image}).toGenericDict();
        printShapes("body", features);
        // FeaturePyramidNetwork.forward takes and returns Dict[str, Tensor].
        const c10::impl::GenericDict pyramid = fpn.forward({features}).toGenericDict();
        printShapes("pyramid", pyramid);
    } catch (const c10::Error& error) {
        std::cerr << "fpn_shapes: " << error.what_without_backtrace() << "\n";
        return 1;
    }
    return 0;
}
