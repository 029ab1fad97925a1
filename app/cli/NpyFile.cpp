#include "NpyFile.h"

#include <featscope/Errors.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>


namespace featscope::cli {

std::string npyHeader(std::uint64_t rows, std::uint64_t cols)
{
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", "
                       + std::to_string(cols) + "), }";
    const std::size_t prefix = 10; // magic (6) + version (2) + header length (2)
    dict.resize(kNpyHeaderSize - prefix - 1, ' ');
    dict += '\n';
    std::string header = "\x93NUMPY";
    header += char(1);
    header += char(0);
    const std::size_t length = dict.size();
    header += char(length & 0xff);
    header += char((length >> 8) & 0xff);
    return header + dict;
}

NpyMatrix readNpyHeader(const std::string& path, bool partial)
{
    const std::string what = "'" + path + "'";
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("Cannot open " + what + ".");
    char prefix[10] = {};
    in.read(prefix, sizeof prefix);
    if (in.gcount() != 10 || std::string(prefix, 6) != "\x93NUMPY")
        throw Error(what + " is not a NumPy .npy file.");
    const int major = static_cast<unsigned char>(prefix[6]);
    if (major != 1)
        throw Error(what + " uses .npy format version " + std::to_string(major) + "; featscope reads version 1.0.");
    const std::size_t length = static_cast<unsigned char>(prefix[8]) | (static_cast<unsigned char>(prefix[9]) << 8);
    std::string dict(length, '\0');
    in.read(dict.data(), std::streamsize(length));
    if (std::size_t(in.gcount()) != length)
        throw Error(what + " has a truncated .npy header.");
    static const std::regex descr(R"('descr'\s*:\s*'<f4')");
    static const std::regex fortran(R"('fortran_order'\s*:\s*False)");
    static const std::regex shape(R"('shape'\s*:\s*\(\s*(\d+)\s*,\s*(\d+)\s*,?\s*\))");
    std::smatch match;
    if (!std::regex_search(dict, descr) || !std::regex_search(dict, fortran) || !std::regex_search(dict, match, shape))
        throw Error(what + " is not a 2-D C-order float32 array (header: " + dict.substr(0, dict.find('}') + 1) + ").");
    // Shapes come from files others may have crafted: parse without throwing, and never let a product wrap.
    const auto number = [&](const std::string& digits) {
        if (digits.size() > 18)
            throw Error(what + " claims a shape of " + digits.substr(0, 24) + (digits.size() > 24 ? "..." : "")
                        + " rows or columns, far more than any descriptor file holds.");
        return static_cast<std::uint64_t>(std::stoull(digits));
    };
    NpyMatrix m;
    m.rows = number(match[1].str());
    m.cols = number(match[2].str());
    m.dataOffset = 10 + length;
    const std::uint64_t size = std::filesystem::file_size(path);
    const std::uint64_t dataBytes = size >= m.dataOffset ? size - m.dataOffset : 0;
    if (partial) {
        m.rows = m.cols == 0 ? 0 : dataBytes / 4 / m.cols;
        return m;
    }
    const bool sizeMatches = m.cols == 0 ? dataBytes == 0
                                         : m.rows <= dataBytes / 4 / m.cols && m.rows * m.cols * 4 == dataBytes;
    if (size < m.dataOffset || !sizeMatches)
        throw Error(what + " is truncated or has trailing bytes: its header says " + std::to_string(m.rows) + " x "
                    + std::to_string(m.cols) + " float32 values.");
    return m;
}

} // namespace featscope::cli
