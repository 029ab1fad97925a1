// Uses featscope's public API the way README shows it: load a model, list its node names, build an
// extractor and run it. Prints what it found; test_consumer.sh checks the lines.
#include <featscope/FeatureExtraction.h>
#include <featscope/ModuleLoader.h>

#include <algorithm>
#include <exception>
#include <future>
#include <iostream>
#include <string>
#include <thread>

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::cerr << "Usage: featscope_consumer MODEL.pt\n";
        return 2;
    }
    // A second thread while loading makes loadModule start the featscope-reader program instead of
    // forking this process, so a run shows that the installed helper is found.
    std::promise<void> loaded;
    std::thread waiting([done = loaded.get_future()]() mutable { done.wait(); });
    torch::jit::Module model;
    std::string failure;
    try {
        model = featscope::loadModule(argv[1]);
    } catch (const std::exception& error) {
        failure = error.what();
    }
    loaded.set_value();
    waiting.join();
    try {
        if (!failure.empty())
            throw std::runtime_error(failure);
        const auto names = featscope::getGraphNodeNames(model);
        std::cout << "eval nodes: " << names.eval.size() << "\n";
        std::cout << "has features.block3.pool: "
                  << (std::count(names.eval.begin(), names.eval.end(), "features.block3.pool") ? "yes" : "no") << "\n";
        auto extractor = featscope::createFeatureExtractor(model, {{"features.block3", "block3"}});
        extractor.eval();
        const auto outputs = extractor.forward({torch::zeros({1, 1, 28, 28})}).toGenericDict();
        std::cout << "block3: " << outputs.at("block3").toTensor().sizes() << "\n";
    } catch (const std::exception& error) {
        std::cerr << "featscope_consumer: " << error.what() << "\n";
        return 1;
    }
    return 0;
}
