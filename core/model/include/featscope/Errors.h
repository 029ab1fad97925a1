#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace featscope {

/// Any failure featscope reports to a user; what() is a complete, actionable message.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A requested node name that does not exist; carries the closest existing names.
class UnknownNodeError : public Error {
public:
    UnknownNodeError(const std::string& message, std::vector<std::string> suggestions)
        : Error(message), suggestions_(std::move(suggestions)) {}
    const std::vector<std::string>& suggestions() const { return suggestions_; }

private:
    std::vector<std::string> suggestions_;
};

/// A memory cap was reached; what() names the cap and how to raise it.
class OutOfMemoryError : public Error {
public:
    using Error::Error;
};

} // namespace featscope
