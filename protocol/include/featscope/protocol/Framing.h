#pragma once

// The engine's stdout framing (docs/engine-protocol.md, "Framing"): every message is one JSON object on one
// line; a message whose object has "payload": [n0, n1, ...] is followed by exactly n0 + n1 + ... raw bytes,
// part after part (a run's tensors). Lengths are declared before the bytes, and checked against Limits
// before anything is allocated, so a broken or hostile stream is a protocol error, never a huge allocation
// or a misread line.

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <deque>
#include <limits>

namespace featscope::protocol {

/// One message: its JSON object (without the "payload" field, which framing reads and writes) and the
/// payload parts that field declared.
struct Frame {
    QJsonObject header;
    QList<QByteArray> payload;
};

/// What a decoder accepts. The defaults bound what one run can return (a 4 GiB response is already more
/// than a window can show); tests and fuzzers pass smaller ones.
struct FrameLimits {
    qsizetype maxHeaderBytes = qsizetype(64) << 20;  ///< one JSON line (a 10k-node graph is a few MB)
    qint64 maxPayloadBytes = qint64(4) << 30;        ///< all parts of one message together
    qsizetype maxPayloadParts = 4096;                ///< parts of one message
};

/// The JSON line of `frame` with its "payload" field set from frame.payload; the parts go after it as they are.
QByteArray encodeHeaderLine(const Frame& frame);
/// The whole message: the header line, then the parts.
QByteArray encodeFrame(const Frame& frame);

/// A header line read as JSON: its object, or why it is none (`error` set).
struct ParsedHeader {
    QJsonObject object;
    QString error;
};

/// Reads frames from a byte stream that arrives in arbitrary pieces (QProcess's readyRead). A payload part
/// is allocated once, at its declared size, when its first byte is due, and filled as bytes arrive, so a
/// big tensor costs no more than copying each piece once.
///
/// Header lines of at least deferHeaderBytes() bytes can be parsed elsewhere (a 10,000-node model's
/// description is a 5 MB line, 50-100 ms of parsing that a GUI thread cannot spare): feed() stops after
/// such a line and keeps what follows; the caller parses deferredHeader() with parseHeader(), on any thread,
/// and hands the result to resume(). The bytes and frames are the same either way.
class FrameDecoder {
public:
    explicit FrameDecoder(FrameLimits limits = {}) : m_limits(limits) {}

    /// Header lines of at least `bytes` bytes wait for resume() instead of being parsed by feed() (by
    /// default none do).
    void setDeferHeaderBytes(qsizetype bytes) { m_deferHeaderBytes = bytes; }
    qsizetype deferHeaderBytes() const { return m_deferHeaderBytes; }
    /// True while a deferred header line waits for resume(); feed() keeps what arrives meanwhile.
    bool waitingForHeader() const { return !m_deferredLine.isEmpty(); }
    QByteArray deferredHeader() const { return m_deferredLine; }
    /// Reads one header line; safe on any thread.
    static ParsedHeader parseHeader(const QByteArray& line);
    /// Goes on after the deferred line with `header` (parseHeader of deferredHeader()), then with the bytes kept
    /// meanwhile. Returns false, as feed() does, once the stream broke the framing.
    bool resume(const ParsedHeader& header);

    /// Consumes `size` bytes. Returns false once the stream broke the framing (error() says how); from then
    /// on the decoder ignores input: the stream cannot be resynchronised.
    bool feed(const char* data, qsizetype size);
    bool feed(const QByteArray& bytes) { return feed(bytes.constData(), bytes.size()); }

    bool hasFrame() const { return !m_ready.empty(); }
    /// The oldest complete frame; call only when hasFrame().
    Frame takeFrame();

    bool failed() const { return !m_error.isEmpty(); }
    QString error() const { return m_error; }
    /// True between frames (nothing of a next message has arrived).
    bool idle() const { return !m_inPayload && m_line.isEmpty(); }

private:
    bool startFrame(const ParsedHeader& header);
    bool fail(const QString& message);
    /// Moves on to the next part of m_frame that still needs bytes, or hands the frame over when none does.
    void advancePart();

    FrameLimits m_limits;
    QByteArray m_line;
    bool m_inPayload = false;
    Frame m_frame;
    QList<qint64> m_partSizes;
    qsizetype m_part = 0;
    std::deque<Frame> m_ready;
    QString m_error;
    qsizetype m_deferHeaderBytes = std::numeric_limits<qsizetype>::max();
    QByteArray m_deferredLine; ///< a header line waiting for resume()
    QByteArray m_held;         ///< bytes that came after it

};

} // namespace featscope::protocol
