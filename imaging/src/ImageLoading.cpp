#include <featscope/imaging/ImageLoading.h>

#include <featscope/imaging/PreprocessedImage.h>

namespace featscope::imaging {

torch::Tensor loadImage(const std::string& path, const Preprocessing& p)
{
    const QImage image = preprocessImage(path, p).input;
    const int c = p.channels, h = image.height(), w = image.width();
    torch::Tensor tensor = torch::empty({c, h, w}, torch::kFloat32);
    float* out = tensor.data_ptr<float>();
    float scale[3], shift[3];
    for (int ch = 0; ch < c; ++ch) {
        const double mean = p.mean.size() == 1 ? p.mean[0] : p.mean[std::size_t(ch)];
        const double std = p.std.size() == 1 ? p.std[0] : p.std[std::size_t(ch)];
        scale[ch] = float(1.0 / (255.0 * std));
        shift[ch] = float(-mean / std);
    }
    for (int y = 0; y < h; ++y) {
        const uchar* line = image.constScanLine(y);
        for (int x = 0; x < w; ++x)
            for (int ch = 0; ch < c; ++ch)
                out[(std::size_t(ch) * h + y) * w + x] = float(line[x * c + ch]) * scale[ch] + shift[ch];
    }
    return tensor;
}

} // namespace featscope::imaging
