#include "ContentHash.h"

#include "CliText.h"

#include <featscope/Errors.h>

#include <fstream>
#include <iomanip>
#include <sstream>

namespace featscope::cli {

std::string Fnv::hex() const
{
    std::ostringstream out;
    out << std::hex << std::setw(16) << std::setfill('0') << hash_;
    return out.str();
}

std::string fileHash(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("Cannot read " + quote(path) + ".");
    Fnv fnv;
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), std::streamsize(buffer.size()));
        fnv.add(buffer.data(), std::size_t(in.gcount()));
    }
    return fnv.hex();
}

std::string listHash(const std::vector<std::string>& paths)
{
    Fnv fnv;
    for (const std::string& path : paths) {
        fnv.add(path);
        fnv.add("\n");
    }
    return fnv.hex();
}

} // namespace featscope::cli
