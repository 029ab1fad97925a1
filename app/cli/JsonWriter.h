#pragma once

#include <cstdint>
#include <string>
#include <vector>

/// Quotes and escapes a string as a JSON string literal.
std::string jsonString(const std::string& text);

/// A JSON array of strings.
std::string jsonStringArray(const std::vector<std::string>& items);

/// A number as JSON: shortest text that reads back as the same double; NaN and infinities as null.
std::string jsonNumber(double value);

/// A JSON array of whole numbers.
std::string jsonIntegerArray(const std::vector<std::int64_t>& items);
