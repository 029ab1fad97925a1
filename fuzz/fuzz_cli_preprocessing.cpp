// The CLI's preprocessing (`featscope-cli features`): input is one line of JSON, then image bytes. The JSON
// becomes a model archive's extra/featscope.json, read back through Preprocessing::fromModelFile (its parser
// and validate()), and the image, written to a scratch file, is decoded by loadImage with the result.

#include "FuzzSupport.h"
#include "ImageInput.h"

#include <featscope/Errors.h>

#include <caffe2/serialize/inline_container.h>

#include <QCoreApplication>

#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

namespace fuzz = featscope::fuzz;
using featscope::cli::Preprocessing;

/// A zip archive like torch.jit.save writes, holding only extra/featscope.json: all fromModelFile reads.
void writeArchiveWithMetadata(const std::string& path, const std::string& metadata)
{
    caffe2::serialize::PyTorchStreamWriter writer(path);
    writer.writeRecord("extra/featscope.json", metadata.data(), metadata.size());
    writer.writeEndOfFile();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
{
    static QCoreApplication app(*argc, *argv);
    fuzz::silenceQtMessages();
    torch::set_num_threads(1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string input(reinterpret_cast<const char*>(data), size);
    const std::size_t newline = input.find('\n');
    const std::string metadata = input.substr(0, newline);
    const std::string image = newline == std::string::npos ? std::string() : input.substr(newline + 1);
    const std::string modelPath = fuzz::scratchFolder() + "/model.pt";
    const std::string imagePath = fuzz::scratchFolder() + "/image";
    writeArchiveWithMetadata(modelPath, metadata);
    fuzz::writeFile(imagePath, image.data(), image.size());

    Preprocessing preprocessing;
    try {
        preprocessing = Preprocessing::fromModelFile(modelPath);
    } catch (const featscope::Error&) {
        return 0; // the CLI stops here with the message
    }
    preprocessing.validate(); // fromModelFile promises validated values: a throw here is a bug
    (void)preprocessing.toJson();
    try {
        const torch::Tensor tensor = featscope::cli::loadImage(imagePath, preprocessing);
        if (tensor.dim() != 3 || tensor.size(0) != preprocessing.channels
            || (preprocessing.centerCrop > 0
                && (tensor.size(1) != preprocessing.centerCrop || tensor.size(2) != preprocessing.centerCrop)))
            std::abort();
    } catch (const featscope::Error&) {
    }
    return 0;
}
