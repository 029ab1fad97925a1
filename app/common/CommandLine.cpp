#include "CommandLine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

CommandLine::CommandLine(const std::vector<std::string>& args, const std::vector<std::string>& valueOptions,
                         const std::vector<std::string>& flags)
{
    const auto isIn = [](const std::vector<std::string>& list, const std::string& name) {
        return std::find(list.begin(), list.end(), name) != list.end();
    };
    bool onlyPositional = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (onlyPositional || arg.size() < 2 || arg[0] != '-') {
            positional_.push_back(arg);
            continue;
        }
        if (arg == "--") {
            onlyPositional = true;
            continue;
        }
        const auto equals = arg.find('=');
        const std::string name = arg.substr(0, equals);
        if (isIn(flags, name)) {
            if (equals != std::string::npos)
                throw UsageError{"the option " + name + " takes no value"};
            values_[name].push_back({});
        } else if (isIn(valueOptions, name)) {
            if (equals != std::string::npos) {
                values_[name].push_back(arg.substr(equals + 1));
            } else {
                if (i + 1 >= args.size())
                    throw UsageError{"the option " + name + " needs a value"};
                values_[name].push_back(args[++i]);
            }
        } else {
            throw UsageError{"unknown option '" + arg + "'"};
        }
    }
}

std::vector<std::string> CommandLine::values(const std::string& option) const
{
    const auto it = values_.find(option);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string CommandLine::value(const std::string& option, const std::string& fallback) const
{
    const auto it = values_.find(option);
    if (it == values_.end())
        return fallback;
    if (it->second.size() > 1)
        throw UsageError{"the option " + option + " is given more than once"};
    return it->second.front();
}

long long wholeNumber(const std::string& text, const std::string& option, long long min, long long max)
{
    try {
        std::size_t used = 0;
        const long long value = std::stoll(text, &used);
        if (used == text.size() && value >= min && value <= max)
            return value;
    } catch (const std::exception&) {
    }
    throw UsageError{option + " needs a whole number from " + std::to_string(min) + " to " + std::to_string(max)
                     + ", not '" + text + "'"};
}

int positiveInt(const std::string& text, const std::string& option)
{
    try {
        return int(wholeNumber(text, option, 1, 1000000));
    } catch (const UsageError&) {
        throw UsageError{option + " needs a whole number of at least 1, not '" + text + "'"};
    }
}

double decimalNumber(const std::string& text, const std::string& option, double above, double below, bool inclusive,
                     const std::string& expected)
{
    try {
        std::size_t used = 0;
        const double value = std::stod(text, &used);
        const bool inside = inclusive ? value >= above && value <= below : value > above && value < below;
        if (used == text.size() && inside)
            return value;
    } catch (const std::exception&) {
    }
    throw UsageError{option + " needs " + expected + ", not '" + text + "'"};
}

double nonNegativeNumber(const std::string& text, const std::string& option)
{
    return decimalNumber(text, option, 0.0, std::numeric_limits<double>::max(), true, "a finite number of at least 0");
}
