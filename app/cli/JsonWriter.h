#pragma once

#include <string>
#include <vector>

/// Quotes and escapes a string as a JSON string literal.
std::string jsonString(const std::string& text);

/// A JSON array of strings.
std::string jsonStringArray(const std::vector<std::string>& items);
