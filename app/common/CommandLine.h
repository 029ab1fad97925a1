#pragma once

// The command-line parser of featscope-cli and featscope-engine: options, values and numbers are read
// one way in both programs.

#include <map>
#include <string>
#include <vector>

/// Thrown for a malformed command line; main prints it with the command's usage.
struct UsageError {
    std::string message;
};

/// The whole number `text` given for `option`, from `min` to `max`; else a UsageError naming the option
/// and the range. Rejects what std::atoll would silently read as 0 or cut short ("foo", "12mb", "").
long long wholeNumber(const std::string& text, const std::string& option, long long min, long long max);

/// The whole number of `option` given as `text` (1 to 1,000,000); else a UsageError naming the option.
int positiveInt(const std::string& text, const std::string& option);

/// The decimal number `text` given for `option`, in the open interval (`above`, `below`) or, when
/// `inclusive`, the closed one; else a UsageError saying `expected` ("a positive number").
double decimalNumber(const std::string& text, const std::string& option, double above, double below, bool inclusive,
                     const std::string& expected);
/// The finite number of at least 0 given as `text` for `option` (1e-5, 0.001, 0); else a UsageError naming the option.
double nonNegativeNumber(const std::string& text, const std::string& option);

/// A parsed command line: positional arguments and repeated --options, in order.
class CommandLine {
public:
    /// Parses `args` (without the program and command names). `valueOptions` take a value
    /// (--opt VALUE or --opt=VALUE), `flags` do not; anything else starting with '-' is an error.
    CommandLine(const std::vector<std::string>& args, const std::vector<std::string>& valueOptions,
                const std::vector<std::string>& flags);

    const std::vector<std::string>& positional() const { return positional_; }
    bool has(const std::string& option) const { return values_.count(option) > 0; }
    /// All values given for a value option, in command-line order.
    std::vector<std::string> values(const std::string& option) const;
    /// The single value of an option, or `fallback`; a repeated option is a UsageError.
    std::string value(const std::string& option, const std::string& fallback = {}) const;

private:
    std::vector<std::string> positional_;
    std::map<std::string, std::vector<std::string>> values_;
};
