// featscope_imaging as a command, for test_image_pipeline.py to compare with torchvision's transforms:
//   preprocess_image (--model MODEL.pt | --request JSON) IMAGE OUT.f32
// writes the [C, H, W] tensor as little-endian float32 to OUT.f32 and its shape as JSON to stdout; a
// featscope::Error is printed to stderr with exit status 1.

#include <featscope/Errors.h>
#include <featscope/imaging/ImageLoading.h>
#include <featscope/imaging/Preprocessing.h>

#include <QByteArray>
#include <QCoreApplication>
#include <QJsonDocument>

#include <fstream>
#include <iostream>
#include <string>

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    if (argc != 5 || (std::string(argv[1]) != "--model" && std::string(argv[1]) != "--request")) {
        std::cerr << "usage: preprocess_image (--model MODEL.pt | --request JSON) IMAGE OUT.f32\n";
        return 2;
    }
    using featscope::imaging::Preprocessing;
    try {
        const Preprocessing preprocessing =
            std::string(argv[1]) == "--model"
                ? featscope::imaging::modelPreprocessing(argv[2])
                : Preprocessing::fromRequest(QJsonDocument::fromJson(QByteArray(argv[2])).object());
        const torch::Tensor tensor = featscope::imaging::loadImage(argv[3], preprocessing).contiguous();
        std::ofstream out(argv[4], std::ios::binary);
        out.write(reinterpret_cast<const char*>(tensor.data_ptr<float>()), std::streamsize(tensor.numel() * 4));
        if (!out.flush())
            throw featscope::Error(std::string("Cannot write '") + argv[4] + "'.");
        std::cout << "[" << tensor.size(0) << ", " << tensor.size(1) << ", " << tensor.size(2) << "]\n";
    } catch (const featscope::Error& error) {
        std::cerr << error.what() << "\n";
        return 1;
    }
    return 0;
}
