// featscope-bench-bare-load MODEL.pt: what a bare LibTorch program does to open a model, and nothing else:
// start (LibTorch's libraries and static registrations), torch::jit::load, exit. It links LibTorch alone, not
// featscope's core, so its load is LibTorch's own (without core's SubgraphRewriterShortcut). The GUI figure
// times it from launch to exit, in the same run as the inspector: the reference for "first drawn".

#include <torch/script.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: featscope-bench-bare-load MODEL.pt\n");
        return 2;
    }
    const torch::jit::Module module = torch::jit::load(argv[1], torch::kCPU);
    std::printf("%zu\n", module.get_methods().size());
    std::fflush(stdout);
    std::_Exit(0); // as featscope's reader: LibTorch's static destructors would only add to the time
}
