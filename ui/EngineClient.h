#pragma once

#include <featscope/protocol/ErrorKind.h>
#include <featscope/protocol/Framing.h>
#include <featscope/protocol/Messages.h>

#include <QFutureWatcher>
#include <QJsonObject>
#include <QObject>
#include <QProcess>
#include <QStringList>
#include <QTimer>

#include <functional>
#include <utility>

namespace featscope::ui {

/// Talks to the featscope-engine process (docs/engine-protocol.md): queues requests, restarts the engine
/// after a crash, kill or timeout, and replays the last successful "load" so the next request finds the model.
/// Loads let an engine that holds no model read the file itself ("readInEngine": one read instead of two); a
/// load whose engine dies on it is tried once more through the restarted engine's sandboxed reader, so that a
/// file that crashes LibTorch ends as an error naming the file, never as a lost model.
/// The engine's answers are decoded as they arrive (protocol::FrameDecoder), a run's tensors included, and a
/// header line of megabytes (a big model's load answer) is parsed on a worker, so a big result never blocks
/// the window in one piece.
class EngineClient : public QObject {
    Q_OBJECT
public:
    /// Receives the response object; on failure it has "ok": false and "error".
    using Callback = std::function<void(const QJsonObject& response)>;
    /// Receives the whole response, payload included.
    using FrameCallback = std::function<void(const protocol::Frame& response)>;

    explicit EngineClient(QObject* parent = nullptr);
    ~EngineClient() override;

    /// The engine beside the running executable, or $FEATSCOPE_ENGINE when set.
    static QString defaultProgram();
    void setProgram(const QString& program) { m_program = program; }
    QString program() const { return m_program; }
    /// Extra command-line arguments for the engine (e.g. --debug-run-delay-ms for tests).
    void setArguments(const QStringList& arguments) { m_arguments = arguments; }

    /// Starts the engine process now, if none runs: LibTorch takes most of a second to start in it, time better
    /// spent while the window is built than after the first request. Requests start it anyway.
    void startEngine();

    /// Queues `command` with `params`; `timeoutMs` (0 = none) kills a hung engine. Returns the request id.
    int send(const QString& command, QJsonObject params, Callback callback, int timeoutMs = 0);
    int sendForFrame(const QString& command, QJsonObject params, FrameCallback callback, int timeoutMs = 0);

    /// Typed requests (docs/engine-protocol.md); each returns the request id, for cancel().
    int load(const protocol::LoadRequest& request, std::function<void(const protocol::LoadResult&)> done, int timeoutMs = 0);
    int run(const protocol::RunRequest& request, std::function<void(const protocol::RunResult&)> done, int timeoutMs = 0);
    int exportExtractor(const protocol::ExportRequest& request, std::function<void(const protocol::ExportResult&)> done,
                        int timeoutMs = 0);
    int cam(const protocol::CamRequest& request, std::function<void(const protocol::CamResult&)> done, int timeoutMs = 0);
    /// Stops request `id`: drops it if queued. A running run is asked to stop (the engine answers "cancelled"
    /// and keeps the model); if the engine does not answer within kCancelGraceMs, or for other requests, it
    /// is killed (the callback gets ErrorKind::Cancelled either way, and the next request replays the load).
    void cancel(int id);
    static constexpr int kCancelGraceMs = 2000;
    /// Forgets the model to replay after a restart.
    void clearSession() { m_session = {}; }

    bool isBusy() const { return m_current.id != 0; }
    /// Id of the request being served, 0 when idle.
    int currentRequest() const { return m_current.id; }
    /// Process id of the running engine, 0 when none.
    qint64 processId() const;

Q_SIGNALS:
    void busyChanged(bool busy);
    /// The engine died or was killed; `message` explains why and `kind` says which of those it was
    /// (Cancelled when the user asked for it). It restarts on the next request.
    void engineStopped(const QString& message, featscope::protocol::ErrorKind kind);

private:
    struct Request {
        int id = 0;
        QString command;
        QJsonObject params;
        FrameCallback callback;
        int timeoutMs = 0;
        bool internal = false; ///< a replayed load
    };

    void ensureStarted();
    void startNext();
    void finishCurrent(const protocol::Frame& response);
    void onReadyRead();
    /// Hands the decoded frames to their requests (or stops the engine when `decoded` is false, the stream broke),
    /// and starts parsing a long header on a worker when the decoder waits for one.
    void takeFrames(bool decoded);
    void onHeaderParsed();
    /// Parses on this thread the long headers the decoder waits for, and hands their frames over.
    void readDeferredHeaders();
    void onFinished(int exitCode, QProcess::ExitStatus status);
    void onError(QProcess::ProcessError error);
    void onTimeout();
    void killEngine(const QString& reason, featscope::protocol::ErrorKind kind);
    QString stderrTail() const;

    QString m_program;
    QStringList m_arguments;
    QProcess* m_process = nullptr;
    QList<Request> m_queue;
    Request m_current;
    Request m_session; ///< last successful load, replayed after a restart
    QTimer m_timer;
    QTimer m_cancelGrace; ///< runs from an in-engine cancel until its answer; kills the engine when it fires
    protocol::FrameDecoder m_decoder;
    QFutureWatcher<std::pair<int, protocol::ParsedHeader>> m_headerParse;
    int m_headerParses = 0; ///< counts parses started or abandoned; a worker's result counts only for the latest
    QByteArray m_stderr;
    QString m_killReason;
    int m_nextId = 1;
};

} // namespace featscope::ui
