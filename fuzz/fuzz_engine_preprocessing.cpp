// The engine's image preprocessing: input is one line of JSON options, then image bytes. The options go
// through ImagePreprocessing::fromJson (a run request's "preprocessing") and fromModelMetadata (a model's
// featscope.json), and the image, written to a scratch file, through loadImageTensor with both.

#include "FuzzSupport.h"
#include "ImagePreprocessing.h"

#include <featscope/Errors.h>

#include <QCoreApplication>
#include <QJsonDocument>

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace {

namespace fuzz = featscope::fuzz;

void checkTensor(const torch::Tensor& tensor, const ImagePreprocessing& options)
{
    // The promise of loadImageTensor: [1, C, H, W] with C the asked channels and H, W the crop when cropping.
    if (tensor.dim() != 4 || tensor.size(0) != 1 || tensor.size(1) != options.channels)
        std::abort();
    if (options.centerCrop > 0 && (tensor.size(2) != options.centerCrop || tensor.size(3) != options.centerCrop))
        std::abort();
}

void preprocess(const QString& image, const ImagePreprocessing& options)
{
    try {
        checkTensor(loadImageTensor(image, options), options);
    } catch (const featscope::Error&) {
    }
    (void)QJsonDocument(options.toJson()).toJson();
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
    const QByteArray input(reinterpret_cast<const char*>(data), qsizetype(size));
    const qsizetype newline = input.indexOf('\n');
    const QByteArray json = newline < 0 ? input : input.left(newline);
    const QByteArray imageBytes = newline < 0 ? QByteArray() : input.mid(newline + 1);
    const std::string imagePath = fuzz::scratchFolder() + "/image";
    fuzz::writeFile(imagePath, imageBytes.constData(), std::size_t(imageBytes.size()));
    const QJsonObject options = QJsonDocument::fromJson(json).object();
    preprocess(QString::fromStdString(imagePath), ImagePreprocessing::fromJson(options));
    preprocess(QString::fromStdString(imagePath), ImagePreprocessing::fromModelMetadata(options));
    return 0;
}
