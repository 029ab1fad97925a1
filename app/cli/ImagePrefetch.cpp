#include "ImagePrefetch.h"

#include <algorithm>
#include <exception>
#include <thread>

namespace featscope::cli {

std::vector<Decoded> decodeRange(const std::vector<std::string>& images, std::size_t begin, std::size_t end,
                                 const Preprocessing& prep, int workers)
{
    std::vector<Decoded> out(end - begin);
    const auto work = [&](std::size_t first) {
        for (std::size_t i = first; i < out.size(); i += std::size_t(workers)) {
            out[i].index = begin + i;
            try {
                out[i].tensor = loadImage(images[begin + i], prep);
            } catch (const std::exception& error) {
                out[i].error = error.what();
            }
        }
    };
    workers = std::max(1, std::min<int>(workers, int(out.size())));
    std::vector<std::thread> threads;
    for (int w = 1; w < workers; ++w)
        threads.emplace_back(work, std::size_t(w));
    work(0);
    for (std::thread& t : threads)
        t.join();
    return out;
}

} // namespace featscope::cli
