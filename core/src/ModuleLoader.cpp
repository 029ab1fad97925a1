#include <featscope/ModuleLoader.h>

#include <featscope/Errors.h>

#include <caffe2/serialize/inline_container.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <unistd.h>

namespace featscope {
namespace {

namespace fs = std::filesystem;

constexpr const char* saveHint =
    "Save a TorchScript module in Python with torch.jit.script(model).save(path) or "
    "torch.jit.trace(model, example).save(path).";

std::string quoted(const std::string& path)
{
    return "'" + path + "'";
}

std::string firstLine(const std::string& text)
{
    const auto end = text.find('\n');
    return end == std::string::npos ? text : text.substr(0, end);
}

// Checks what can be checked without parsing the archive and says what the file is instead.
void checkFile(const std::string& path)
{
    std::error_code error;
    const auto status = fs::status(path, error);
    if (!fs::exists(status))
        throw Error("Cannot open " + quoted(path) + ": the file does not exist. Check the path.");
    if (fs::is_directory(status))
        throw Error("Cannot open " + quoted(path) + ": it is a directory, not a TorchScript file. Give the path of a .pt file.");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("Cannot open " + quoted(path) + ": the file cannot be read (permissions?). Check that you may read it.");
    char magic[4] = {};
    in.read(magic, sizeof magic);
    const auto size = in.gcount();
    if (size == 0)
        throw Error("Cannot open " + quoted(path) + ": the file is empty. " + saveHint);
    if (size < 4 || magic[0] != 'P' || magic[1] != 'K' || magic[2] != '\3' || magic[3] != '\4') {
        if (static_cast<unsigned char>(magic[0]) == 0x80)
            throw Error("Cannot open " + quoted(path) + ": it is a Python pickle (an old torch.save file, e.g. a state_dict), not a TorchScript module. " + saveHint);
        throw Error("Cannot open " + quoted(path) + ": it is not a TorchScript file (no zip archive). " + saveHint);
    }
}

void checkArchive(const std::string& path)
{
    try {
        caffe2::serialize::PyTorchStreamReader reader(path);
        if (!reader.hasRecord("constants.pkl") && reader.hasRecord("data.pkl"))
            throw Error("Cannot open " + quoted(path) + ": it was saved with torch.save (a state_dict or pickled object), not as TorchScript. " + saveHint);
    } catch (const c10::Error& error) {
        throw Error("Cannot open " + quoted(path) + ": the archive is truncated or corrupt (" + firstLine(error.what_without_backtrace()) + "). Save the model again.");
    }
}

} // namespace

torch::jit::Module loadModule(const std::string& path)
{
    checkFile(path);
    checkArchive(path);
    try {
        torch::jit::Module module = torch::jit::load(path, torch::kCPU);
        if (!module.find_method("forward"))
            throw Error("Cannot use " + quoted(path) + ": the module has no forward method.");
        return module;
    } catch (const c10::Error& error) {
        throw Error("Cannot load " + quoted(path) + " as TorchScript: " + firstLine(error.what_without_backtrace()) + " " + saveHint);
    }
}

void saveModuleAtomically(const torch::jit::Module& module, const std::string& path)
{
    const fs::path target(path);
    const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
    if (!fs::is_directory(directory))
        throw Error("Cannot save " + quoted(path) + ": the folder " + quoted(directory.string()) + " does not exist.");
    const fs::path temporary = directory / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()));
    try {
        module.save(temporary.string());
        std::FILE* file = std::fopen(temporary.c_str(), "rb");
        if (file) {
            ::fsync(fileno(file));
            std::fclose(file);
        }
        fs::rename(temporary, target);
    } catch (const std::exception& error) {
        std::error_code ignored;
        fs::remove(temporary, ignored);
        throw Error("Cannot save " + quoted(path) + ": " + firstLine(error.what()) + ". The previous file, if any, is unchanged.");
    }
}

} // namespace featscope
