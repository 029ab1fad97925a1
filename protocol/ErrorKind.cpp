#include <featscope/protocol/ErrorKind.h>

#include <array>
#include <utility>

namespace featscope::protocol {
namespace {

constexpr std::array<std::pair<ErrorKind, const char*>, 10> kNames{{
    {ErrorKind::Error, "error"},
    {ErrorKind::UnknownNode, "unknown_node"},
    {ErrorKind::Memory, "memory"},
    {ErrorKind::Torch, "torch"},
    {ErrorKind::Internal, "internal"},
    {ErrorKind::Protocol, "protocol"},
    {ErrorKind::Timeout, "timeout"},
    {ErrorKind::Crash, "crash"},
    {ErrorKind::Start, "start"},
    {ErrorKind::Cancelled, "cancelled"},
}};

} // namespace

QString toString(ErrorKind kind)
{
    for (const auto& [k, name] : kNames)
        if (k == kind)
            return QString::fromLatin1(name);
    return QStringLiteral("error");
}

ErrorKind errorKindFromString(const QString& text)
{
    for (const auto& [kind, name] : kNames)
        if (text == QLatin1String(name))
            return kind;
    return ErrorKind::Error;
}

bool engineIsGone(ErrorKind kind)
{
    return kind == ErrorKind::Timeout || kind == ErrorKind::Crash || kind == ErrorKind::Start
        || kind == ErrorKind::Cancelled;
}

} // namespace featscope::protocol
