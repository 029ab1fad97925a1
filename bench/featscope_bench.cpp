// featscope-bench: the featscope side of bench/benchmark.py.
//
//   featscope-bench serve   line protocol on stdin/stdout (one command per line, one JSON reply per line),
//                           so the driver can keep a model loaded here and interleave these timings with
//                           torchvision's in its own process (only one side runs at a time).
//   featscope-bench run MODEL.pt --input X.pt --return NODE[=KEY]... [--threads N] [--repeat N]
//                           what a user's inference process does: load, create the extractor, eval, run on
//                           the input; prints its own peak RSS (VmHWM) and its sandboxed loader's (for the
//                           memory figure).
//
// Serve commands (arguments separated by spaces; paths must not contain spaces):
//   threads N                    at::set_num_threads(N)
//   executor                     report the TorchScript executor's settings (profiling mode, profiled runs)
//   load PATH                    featscope::loadModule
//   jitload PATH                 time a bare torch::jit::load (no sandbox), for comparison with load
//   names REPS                   time getGraphNodeNames on the loaded module
//   describe REPS                time describeGraph in both modes (what the GUI's engine adds on opening)
//   create REPS NODE=KEY...      time createFeatureExtractor on the loaded module
//   extractor NODE=KEY...        build the extractor ("plain"), eval mode
//   optimize                     "optimized" = optimizeForInference(plain)
//   refuse_train                 optimizeForInference on a training-mode extractor must throw
//   module NAME PATH             load any TorchScript file under NAME (eval mode), e.g. a hand-split
//   save NAME PATH               save module NAME as a TorchScript file
//   input PATH                   tensor written by torch.save in Python
//   forward NAME REPS WARMUP     time NAME(input) under NoGradGuard; NAME = plain, optimized or a module
//   dump NAME PATH               run NAME once and torch.save-compatible pickle its output
//   diff A B                     max |A(input) - B(input)| and max |A(input)| over the dict's values
//   quit

#include <featscope/Errors.h>
#include <featscope/FeatureExtraction.h>
#include <featscope/InferenceExport.h>
#include <featscope/ModuleLoader.h>
#include <featscope/Runtime.h>

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/script.h>

#include <ATen/Parallel.h>

#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string jsonString(const std::string& text)
{
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buffer[8];
                std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
                out += buffer;
            } else {
                out += c;
            }
        }
    }
    return out + "\"";
}

std::string jsonNumbers(const std::vector<double>& values)
{
    std::ostringstream out;
    out.precision(9);
    out << "[";
    for (size_t i = 0; i < values.size(); ++i)
        out << (i ? ", " : "") << values[i];
    out << "]";
    return out.str();
}

featscope::ReturnNodes parseReturnNodes(const std::vector<std::string>& specs)
{
    featscope::ReturnNodes nodes;
    for (const std::string& spec : specs) {
        const auto eq = spec.find('=');
        if (eq == std::string::npos)
            nodes.push_back({spec, spec});
        else
            nodes.push_back({spec.substr(0, eq), spec.substr(eq + 1)});
    }
    return nodes;
}

std::vector<char> readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

torch::Tensor loadTensor(const std::string& path)
{
    return torch::jit::pickle_load(readFile(path)).toTensor();
}

// This process's own peak RSS: VmHWM of its address space. Unlike getrusage's ru_maxrss, it starts
// afresh at exec, so it does not carry over the size of the process that started this one.
long peakRssKb()
{
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.compare(0, 6, "VmHWM:") == 0)
            return std::stol(line.substr(6));
    throw std::runtime_error("no VmHWM in /proc/self/status");
}

// The largest peak RSS of the children this process waited for: featscope::loadModule's sandboxed
// pre-read, a separate process forked while this one was still small.
long childrenPeakRssKb()
{
    rusage usage{};
    ::getrusage(RUSAGE_CHILDREN, &usage);
    return usage.ru_maxrss;
}

/// Max |a - b| and max |a| over two outputs (a tensor or a Dict[str, Tensor] with the same keys).
std::pair<double, double> maxAbsDiff(const c10::IValue& a, const c10::IValue& b)
{
    if (a.isTensor())
        return {(a.toTensor() - b.toTensor()).abs().max().item<double>(), a.toTensor().abs().max().item<double>()};
    double worst = 0, scale = 0;
    const auto da = a.toGenericDict();
    const auto db = b.toGenericDict();
    if (da.size() != db.size())
        throw std::runtime_error("outputs have different keys");
    for (const auto& entry : da) {
        const torch::Tensor ta = entry.value().toTensor();
        worst = std::max(worst, (ta - db.at(entry.key()).toTensor()).abs().max().item<double>());
        scale = std::max(scale, ta.abs().max().item<double>());
    }
    return {worst, scale};
}

class Server {
public:
    int run()
    {
        std::string line;
        while (std::getline(std::cin, line)) {
            std::istringstream in(line);
            std::string command;
            in >> command;
            if (command.empty())
                continue;
            if (command == "quit")
                break;
            std::vector<std::string> args;
            for (std::string arg; in >> arg;)
                args.push_back(arg);
            std::string reply;
            try {
                reply = handle(command, args);
            } catch (const c10::Error& error) {
                reply = "{\"ok\": false, \"error\": " + jsonString(error.what_without_backtrace()) + "}";
            } catch (const std::exception& error) {
                reply = "{\"ok\": false, \"error\": " + jsonString(error.what()) + "}";
            }
            std::cout << reply << std::endl;
        }
        return 0;
    }

private:
    std::string handle(const std::string& command, const std::vector<std::string>& args)
    {
        const auto arg = [&](size_t i) -> const std::string& {
            if (i >= args.size())
                throw std::runtime_error(command + ": missing argument " + std::to_string(i + 1));
            return args[i];
        };
        const auto rest = [&](size_t from) { return std::vector<std::string>(args.begin() + std::min(from, args.size()), args.end()); };

        if (command == "threads") {
            at::set_num_threads(std::stoi(arg(0)));
            return "{\"ok\": true, \"threads\": " + std::to_string(at::get_num_threads()) + "}";
        }
        if (command == "executor") {
            // The profiling executor (LibTorch's default) runs a graph unoptimised while it records shapes
            // (getNumProfiledRuns() runs), then optimises it: warm-up must cover those runs.
            return std::string("{\"ok\": true, \"profiling_mode\": ") + (torch::jit::getProfilingMode() ? "true" : "false")
                + ", \"executor_mode\": " + (torch::jit::getExecutorMode() ? "true" : "false")
                + ", \"profiled_runs\": " + std::to_string(torch::jit::getNumProfiledRuns().load())
                + ", \"bailout_depth\": " + std::to_string(torch::jit::getBailoutDepth()) + "}";
        }
        if (command == "load") {
            const auto start = Clock::now();
            model_ = featscope::loadModule(arg(0));
            const double ms = msSince(start);
            hasModel_ = true;
            modules_.clear();
            // As the engine does: the next load's reader process starts up now, outside the timed part.
            featscope::prepareModuleReader();
            return "{\"ok\": true, \"ms\": " + std::to_string(ms) + "}";
        }
        if (command == "jitload") {
            // torch::jit::load alone, to separate loadModule's sandboxed pre-read from LibTorch's own reading.
            const auto start = Clock::now();
            torch::jit::Module module = torch::jit::load(arg(0));
            return "{\"ok\": true, \"ms\": " + std::to_string(msSince(start)) + "}";
        }
        if (command == "names") {
            requireModel();
            const int reps = std::stoi(arg(0));
            std::vector<double> samples;
            featscope::GraphNodeNames names;
            for (int i = 0; i < reps; ++i) {
                const auto start = Clock::now();
                names = featscope::getGraphNodeNames(model_);
                samples.push_back(msSince(start));
            }
            return "{\"ok\": true, \"samples_ms\": " + jsonNumbers(samples) + ", \"train\": "
                + std::to_string(names.train.size()) + ", \"eval\": " + std::to_string(names.eval.size()) + "}";
        }
        if (command == "describe") {
            requireModel();
            const int reps = std::stoi(arg(0));
            std::vector<double> samples;
            size_t nodes = 0;
            for (int i = 0; i < reps; ++i) {
                const auto start = Clock::now();
                nodes = featscope::describeGraph(model_, featscope::Mode::Train).nodes.size()
                    + featscope::describeGraph(model_, featscope::Mode::Eval).nodes.size();
                samples.push_back(msSince(start));
            }
            return "{\"ok\": true, \"samples_ms\": " + jsonNumbers(samples) + ", \"nodes\": " + std::to_string(nodes) + "}";
        }
        if (command == "create") {
            requireModel();
            const int reps = std::stoi(arg(0));
            const auto nodes = parseReturnNodes(rest(1));
            std::vector<double> samples;
            for (int i = 0; i < reps; ++i) {
                const auto start = Clock::now();
                const torch::jit::Module extractor = featscope::createFeatureExtractor(model_, nodes);
                samples.push_back(msSince(start));
            }
            return "{\"ok\": true, \"samples_ms\": " + jsonNumbers(samples) + "}";
        }
        if (command == "extractor") {
            requireModel();
            torch::jit::Module extractor = featscope::createFeatureExtractor(model_, parseReturnNodes(rest(0)));
            extractor.eval();
            modules_.insert_or_assign("plain", extractor);
            return "{\"ok\": true}";
        }
        if (command == "optimize") {
            const auto start = Clock::now();
            modules_.insert_or_assign("optimized", featscope::optimizeForInference(get("plain")));
            return "{\"ok\": true, \"ms\": " + std::to_string(msSince(start)) + "}";
        }
        if (command == "refuse_train") {
            torch::jit::Module training = get("plain").clone();
            training.train();
            try {
                featscope::optimizeForInference(training);
            } catch (const featscope::Error& error) {
                return "{\"ok\": true, \"refused\": true, \"message\": " + jsonString(error.what()) + "}";
            }
            return "{\"ok\": true, \"refused\": false}";
        }
        if (command == "module") {
            torch::jit::Module module = torch::jit::load(arg(1));
            module.eval();
            modules_.insert_or_assign(arg(0), module);
            return "{\"ok\": true}";
        }
        if (command == "save") {
            get(arg(0)).save(arg(1));
            return "{\"ok\": true}";
        }
        if (command == "input") {
            input_ = loadTensor(arg(0));
            return "{\"ok\": true, \"shape\": " + jsonString(toString(input_.sizes())) + "}";
        }
        if (command == "forward") {
            torch::jit::Module module = get(arg(0));
            const int reps = std::stoi(arg(1));
            const int warmup = args.size() > 2 ? std::stoi(args[2]) : 0;
            torch::NoGradGuard noGrad;
            for (int i = 0; i < warmup; ++i)
                module.forward({input_});
            std::vector<double> samples;
            for (int i = 0; i < reps; ++i) {
                const auto start = Clock::now();
                const c10::IValue output = module.forward({input_});
                samples.push_back(msSince(start));
            }
            return "{\"ok\": true, \"samples_ms\": " + jsonNumbers(samples) + "}";
        }
        if (command == "dump") {
            torch::NoGradGuard noGrad;
            const c10::IValue output = get(arg(0)).forward({input_});
            const std::vector<char> bytes = torch::jit::pickle_save(output);
            std::ofstream out(arg(1), std::ios::binary);
            out.write(bytes.data(), std::streamsize(bytes.size()));
            if (!out)
                throw std::runtime_error("cannot write " + arg(1));
            return "{\"ok\": true}";
        }
        if (command == "diff") {
            torch::NoGradGuard noGrad;
            const auto [d, scale] = maxAbsDiff(get(arg(0)).forward({input_}), get(arg(1)).forward({input_}));
            std::ostringstream out;
            out.precision(9);
            out << "{\"ok\": true, \"max_abs_diff\": " << d << ", \"max_abs_value\": " << scale << "}";
            return out.str();
        }
        if (command == "rss")
            return "{\"ok\": true, \"peak_rss_kb\": " + std::to_string(peakRssKb()) + "}";
        throw std::runtime_error("unknown command '" + command + "'");
    }

    static std::string toString(c10::IntArrayRef sizes)
    {
        std::ostringstream out;
        out << sizes;
        return out.str();
    }

    void requireModel() const
    {
        if (!hasModel_)
            throw std::runtime_error("no model loaded");
    }

    torch::jit::Module get(const std::string& name)
    {
        const auto found = modules_.find(name);
        if (found == modules_.end())
            throw std::runtime_error("no module '" + name + "'");
        return found->second;
    }

    torch::jit::Module model_;
    bool hasModel_ = false;
    std::map<std::string, torch::jit::Module> modules_;
    torch::Tensor input_;
};

/// featscope-bench run: a user's inference process, start to end, for peak RSS.
int runOnce(const std::vector<std::string>& args)
{
    std::string model, input;
    std::vector<std::string> returns;
    int threads = 2, repeat = 1;
    for (size_t i = 0; i < args.size(); ++i) {
        const auto next = [&]() -> std::string {
            if (i + 1 >= args.size())
                throw std::runtime_error(args[i] + " needs a value");
            return args[++i];
        };
        if (args[i] == "--input")
            input = next();
        else if (args[i] == "--return")
            returns.push_back(next());
        else if (args[i] == "--threads")
            threads = std::stoi(next());
        else if (args[i] == "--repeat")
            repeat = std::stoi(next());
        else
            model = args[i];
    }
    if (model.empty() || input.empty() || returns.empty())
        throw std::runtime_error("usage: featscope-bench run MODEL.pt --input X.pt --return NODE[=KEY]...");
    at::set_num_threads(threads);
    const torch::jit::Module module = featscope::loadModule(model);
    const long loadedKb = peakRssKb();
    torch::jit::Module extractor = featscope::createFeatureExtractor(module, parseReturnNodes(returns));
    extractor.eval();
    const torch::Tensor x = loadTensor(input);
    const long createdKb = peakRssKb();
    torch::NoGradGuard noGrad;
    double checksum = 0;
    for (int i = 0; i < repeat; ++i)
        for (const auto& entry : extractor.forward({x}).toGenericDict())
            checksum += entry.value().toTensor().sum().item<double>();
    std::cout << "{\"peak_rss_kb\": " << peakRssKb() << ", \"children_peak_rss_kb\": " << childrenPeakRssKb()
              << ", \"peak_after_load_kb\": " << loadedKb << ", \"peak_before_forward_kb\": " << createdKb
              << ", \"checksum\": " << checksum << "}" << std::endl;
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    const std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (!args.empty() && args[0] == "serve") {
            featscope::prepareModuleReader();
            // The programs' default thread policy; the driver's "threads N" overrides it for pinned figures.
            featscope::configureThreads();
            return Server().run();
        }
        if (!args.empty() && args[0] == "run")
            return runOnce({args.begin() + 1, args.end()});
    } catch (const c10::Error& error) {
        std::cerr << "featscope-bench: " << error.what_without_backtrace() << "\n";
        return 1;
    } catch (const std::exception& error) {
        std::cerr << "featscope-bench: " << error.what() << "\n";
        return 1;
    }
    std::cerr << "usage: featscope-bench serve | run MODEL.pt --input X.pt --return NODE[=KEY]... (see bench/featscope_bench.cpp)\n";
    return 2;
}
