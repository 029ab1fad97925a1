#include <featscope/protocol/Framing.h>

#include <QJsonArray>
#include <QJsonDocument>

#include <cmath>
#include <cstring>
#include <utility>

namespace featscope::protocol {
namespace {

const QString kPayload = QStringLiteral("payload");

} // namespace

QByteArray encodeHeaderLine(const Frame& frame)
{
    QJsonObject header = frame.header;
    header.remove(kPayload);
    if (!frame.payload.isEmpty()) {
        QJsonArray sizes;
        for (const QByteArray& part : frame.payload)
            sizes.append(double(part.size()));
        header.insert(kPayload, sizes);
    }
    // Compact JSON escapes newlines inside strings, so the line ends at its only '\n'.
    return QJsonDocument(header).toJson(QJsonDocument::Compact) + '\n';
}

QByteArray encodeFrame(const Frame& frame)
{
    QByteArray bytes = encodeHeaderLine(frame);
    for (const QByteArray& part : frame.payload)
        bytes += part;
    return bytes;
}

bool FrameDecoder::fail(const QString& message)
{
    m_error = message;
    m_line.clear();
    m_deferredLine.clear();
    m_held.clear();
    m_frame = {};
    m_partSizes.clear();
    return false;
}

bool FrameDecoder::feed(const char* data, qsizetype size)
{
    if (failed())
        return false;
    if (waitingForHeader()) {
        m_held.append(data, size);
        return true;
    }
    const char* const end = data + size;
    while (data < end) {
        if (m_inPayload) {
            QByteArray& part = m_frame.payload[m_part];
            const qsizetype wanted = qsizetype(m_partSizes[m_part]) - part.size();
            const qsizetype take = std::min<qsizetype>(wanted, end - data);
            part.append(data, take);
            data += take;
            if (part.size() == m_partSizes[m_part]) {
                ++m_part;
                advancePart();
            }
            continue;
        }
        const char* newline = static_cast<const char*>(std::memchr(data, '\n', std::size_t(end - data)));
        const qsizetype lineBytes = (newline ? newline : end) - data;
        if (m_line.size() + lineBytes > m_limits.maxHeaderBytes)
            return fail(QStringLiteral("The engine sent a message line longer than %1 bytes.").arg(m_limits.maxHeaderBytes));
        m_line.append(data, lineBytes);
        data += lineBytes;
        if (!newline)
            break;
        ++data; // the newline
        QByteArray line = std::exchange(m_line, QByteArray());
        if (line.trimmed().isEmpty())
            continue;
        if (line.size() >= m_deferHeaderBytes) {
            m_deferredLine = std::move(line);
            m_held = QByteArray(data, end - data);
            return true;
        }
        if (!startFrame(parseHeader(line)))
            return false;
    }
    return true;
}

ParsedHeader FrameDecoder::parseHeader(const QByteArray& line)
{
    QJsonParseError parseError{};
    const QJsonDocument document = QJsonDocument::fromJson(line, &parseError);
    if (!document.isObject())
        return {{}, QStringLiteral("The engine sent a line that is not a JSON object (%1).").arg(parseError.errorString())};
    return {document.object(), {}};
}

bool FrameDecoder::resume(const ParsedHeader& header)
{
    if (failed() || !waitingForHeader())
        return !failed();
    m_deferredLine.clear();
    if (!startFrame(header))
        return false;
    return feed(std::exchange(m_held, QByteArray()));
}

bool FrameDecoder::startFrame(const ParsedHeader& header)
{
    if (!header.error.isEmpty())
        return fail(header.error);
    m_frame = Frame{header.object, {}};
    m_partSizes.clear();
    // The sizes are framing, not content: the frame carries them as its parts.
    const QJsonValue declared = m_frame.header.take(kPayload);
    if (!declared.isUndefined()) {
        if (!declared.isArray())
            return fail(QStringLiteral("The engine's \"payload\" is not a list of byte counts."));
        const QJsonArray sizes = declared.toArray();
        if (sizes.size() > m_limits.maxPayloadParts)
            return fail(QStringLiteral("The engine declared %1 payload parts; at most %2 are accepted.")
                            .arg(sizes.size())
                            .arg(m_limits.maxPayloadParts));
        qint64 total = 0;
        for (const QJsonValue& value : sizes) {
            const double size = value.toDouble(-1);
            if (!value.isDouble() || size < 0 || size != std::floor(size) || size > double(m_limits.maxPayloadBytes - total))
                return fail(QStringLiteral("The engine declared a payload part of %1 bytes; parts are whole numbers and at "
                                           "most %2 bytes in all.")
                                .arg(value.isDouble() ? QString::number(size, 'g', 20)
                                                      : QString::fromUtf8(QJsonDocument(QJsonArray{value}).toJson(QJsonDocument::Compact)).mid(1).chopped(1))
                                .arg(m_limits.maxPayloadBytes));
            total += qint64(size);
            m_partSizes.append(qint64(size));
        }
    }
    m_part = 0;
    advancePart();
    return true;
}

void FrameDecoder::advancePart()
{
    // Zero-byte parts are complete as soon as they are due.
    while (m_part < m_partSizes.size()) {
        QByteArray part;
        part.reserve(qsizetype(m_partSizes[m_part]));
        m_frame.payload.append(std::move(part));
        if (m_partSizes[m_part] > 0) {
            m_inPayload = true;
            return;
        }
        ++m_part;
    }
    m_inPayload = false;
    m_partSizes.clear();
    m_ready.push_back(std::exchange(m_frame, Frame{}));
}

Frame FrameDecoder::takeFrame()
{
    Frame frame = std::move(m_ready.front());
    m_ready.pop_front();
    return frame;
}

} // namespace featscope::protocol
