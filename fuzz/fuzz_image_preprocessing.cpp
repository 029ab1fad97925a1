// The image pipeline the CLI and the engine share (featscope_imaging): input is one line of JSON, then
// image bytes. The JSON becomes a model archive's extra/featscope.json, read back through
// imaging::modelPreprocessing, and is also read as a run request's "preprocessing" object
// (Preprocessing::fromRequest); the image, written to a scratch file, is decoded by loadImage with each
// accepted result.

#include "FuzzSupport.h"

#include <featscope/Errors.h>
#include <featscope/imaging/ImageLoading.h>
#include <featscope/imaging/Preprocessing.h>

#include <caffe2/serialize/inline_container.h>

#include <QCoreApplication>
#include <QJsonDocument>

#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>

namespace {

namespace fuzz = featscope::fuzz;
using featscope::imaging::Preprocessing;

/// A zip archive like torch.jit.save writes, holding only extra/featscope.json: all modelPreprocessing reads.
void writeArchiveWithMetadata(const std::string& path, const std::string& metadata)
{
    caffe2::serialize::PyTorchStreamWriter writer(path);
    writer.writeRecord("extra/featscope.json", metadata.data(), metadata.size());
    writer.writeEndOfFile();
}

void preprocess(const std::string& imagePath, const std::function<Preprocessing()>& parse)
{
    Preprocessing preprocessing;
    try {
        preprocessing = parse();
    } catch (const featscope::Error&) {
        return; // the CLI and the engine stop here with the message
    }
    preprocessing.validate(); // both parsers promise validated values: a throw here is a bug
    (void)preprocessing.toJson();
    (void)QJsonDocument(preprocessing.toRequest()).toJson();
    try {
        // The promise of loadImage: [C, H, W] with C the asked channels and H, W the crop when cropping.
        const torch::Tensor tensor = featscope::imaging::loadImage(imagePath, preprocessing);
        if (tensor.dim() != 3 || tensor.size(0) != preprocessing.channels
            || (preprocessing.centerCrop > 0
                && (tensor.size(1) != preprocessing.centerCrop || tensor.size(2) != preprocessing.centerCrop)))
            std::abort();
    } catch (const featscope::Error&) {
    }
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

    preprocess(imagePath, [&] { return featscope::imaging::modelPreprocessing(modelPath); });
    const QJsonObject request = QJsonDocument::fromJson(QByteArray::fromStdString(metadata)).object();
    preprocess(imagePath, [&] { return Preprocessing::fromRequest(request); });
    return 0;
}
