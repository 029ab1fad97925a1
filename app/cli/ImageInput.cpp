#include "ImageInput.h"

#include "CliText.h"
#include "CommandLine.h"

#include <featscope/Errors.h>
#include <featscope/ImageInputs.h>

#include <QByteArray>
#include <QImageReader>

#include <algorithm>
#include <filesystem>
#include <set>

namespace featscope::cli {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string text)
{
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return text;
}

const std::set<std::string>& imageExtensions()
{
    static const std::set<std::string> extensions = [] {
        std::set<std::string> out;
        for (const QByteArray& format : QImageReader::supportedImageFormats())
            out.insert("." + lower(format.toStdString()));
        out.erase(".svg"); // vector formats are not photographs
        out.erase(".svgz");
        return out;
    }();
    return extensions;
}

} // namespace

bool hasImageExtension(const std::string& path)
{
    return imageExtensions().count(lower(fs::path(path).extension().string())) > 0;
}

std::vector<std::string> collectImages(const std::vector<std::string>& inputs)
{
    std::vector<std::string> out;
    for (const std::string& input : inputs) {
        std::error_code error;
        const auto status = fs::status(input, error);
        if (!fs::exists(status))
            throw Error("Cannot read " + quote(input) + ": it does not exist. Give image files or folders of images.");
        if (!fs::is_directory(status)) {
            out.push_back(fs::path(input).lexically_normal().string());
            continue;
        }
        fs::recursive_directory_iterator it(input, fs::directory_options::skip_permission_denied, error);
        if (error)
            throw Error("Cannot list the folder " + quote(input) + ": " + error.message() + ".");
        for (const fs::recursive_directory_iterator end; it != end; it.increment(error)) {
            if (error)
                throw Error("Cannot list the folder " + quote(input) + ": " + error.message() + ".");
            const std::string name = it->path().filename().string();
            if (!name.empty() && name[0] == '.') { // hidden files and folders (also our own partial files)
                if (it->is_directory(error))
                    it.disable_recursion_pending();
                continue;
            }
            if (it->is_regular_file(error) && hasImageExtension(name))
                out.push_back(it->path().lexically_normal().string());
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    for (const std::string& path : out)
        if (path.find('\n') != std::string::npos || path.find('\r') != std::string::npos)
            throw Error("Cannot index " + quote(path) + ": the path contains a line break. Rename the file.");
    return out;
}

std::vector<c10::IValue> imageAsInputs(const torch::jit::Module& model, const std::string& preprocessingModelPath,
                                       const std::string& imagePath, InputSize& inputSize)
{
    const Preprocessing preprocessing = modelPreprocessing(preprocessingModelPath);
    const torch::Tensor image = loadImage(imagePath, preprocessing);
    inputSize = InputSize{image.size(1), image.size(2)};
    return ImageInputs(model.get_method("forward").function().getSchema())({image});
}

std::pair<std::string, std::vector<std::string>> modelAndImageArguments(const std::vector<std::string>& positional)
{
    if (positional.empty())
        throw UsageError{"missing MODEL.pt"};
    if (positional.size() == 1)
        throw UsageError{"give at least one image or folder of images after MODEL.pt"};
    return {positional.front(), std::vector<std::string>(positional.begin() + 1, positional.end())};
}

} // namespace featscope::cli
