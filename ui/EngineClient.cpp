#include "EngineClient.h"
#include "ExitCodes.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QtConcurrent/QtConcurrentRun>

namespace featscope::ui {

namespace {

using protocol::ErrorKind;

// Header lines this long are parsed on a worker: a 10,000-node model's load answer is a 5 MB line, 50-100 ms
// of parsing; a run's header, with its tensors in the payload, is a few kilobytes.
constexpr qsizetype kParseOffThreadBytes = 256 * 1024;

protocol::Frame failure(const QString& message, ErrorKind kind)
{
    return protocol::Frame{QJsonObject{{QStringLiteral("ok"), false}, {QStringLiteral("error"), message},
                                       {QStringLiteral("errorType"), protocol::toString(kind)}},
                           {}};
}

QString describeCommand(const QString& command)
{
    if (command == QLatin1String("load"))
        return QStringLiteral("loading the model");
    if (command == QLatin1String("run"))
        return QStringLiteral("running the model");
    if (command == QLatin1String("export"))
        return QStringLiteral("exporting the extractor");
    return QStringLiteral("serving a %1 request").arg(command);
}

} // namespace

EngineClient::EngineClient(QObject* parent) : QObject(parent), m_program(defaultProgram())
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &EngineClient::onTimeout);
    connect(&m_headerParse, &QFutureWatcherBase::finished, this, &EngineClient::onHeaderParsed);
    m_cancelGrace.setSingleShot(true);
    connect(&m_cancelGrace, &QTimer::timeout, this, [this] {
        if (m_current.id != 0)
            killEngine(QStringLiteral("Cancelled."), ErrorKind::Cancelled);
    });
}

EngineClient::~EngineClient()
{
    if (m_process) {
        m_process->disconnect(this);
        if (m_process->state() != QProcess::NotRunning) {
            m_process->write("{\"cmd\":\"quit\"}\n");
            m_process->closeWriteChannel();
            if (!m_process->waitForFinished(500)) {
                m_process->kill();
                m_process->waitForFinished(1000);
            }
        }
        delete m_process;
    }
}

QString EngineClient::defaultProgram()
{
    const QString fromEnv = qEnvironmentVariable("FEATSCOPE_ENGINE");
    if (!fromEnv.isEmpty())
        return fromEnv;
    // Beside the GUI in the build tree; in an installation, in its helper folder (libexec/featscope/,
    // FEATSCOPE_HELPERS_FROM_BINDIR comes from CMake's GNUInstallDirs).
    const QDir programDir(QCoreApplication::applicationDirPath());
    const QString beside = programDir.filePath(QStringLiteral("featscope-engine"));
    const QString installed = QDir::cleanPath(programDir.filePath(QStringLiteral(FEATSCOPE_HELPERS_FROM_BINDIR "/featscope-engine")));
    return QFileInfo(beside).isExecutable() || !QFileInfo(installed).isExecutable() ? beside : installed;
}

qint64 EngineClient::processId() const
{
    return m_process && m_process->state() == QProcess::Running ? m_process->processId() : 0;
}

int EngineClient::send(const QString& command, QJsonObject params, Callback callback, int timeoutMs)
{
    return sendForFrame(command, std::move(params), callback ? FrameCallback([callback](const protocol::Frame& response) {
        callback(response.header);
    }) : FrameCallback(), timeoutMs);
}

int EngineClient::load(const protocol::LoadRequest& request, std::function<void(const protocol::LoadResult&)> done, int timeoutMs)
{
    protocol::LoadRequest readInEngine = request;
    readInEngine.readInEngine = true; // onFinished tries it again through the reader should the engine die
    return sendForFrame(QStringLiteral("load"), readInEngine.toJson(), [done](const protocol::Frame& response) {
        done(protocol::LoadResult::fromFrame(response));
    }, timeoutMs);
}

int EngineClient::run(const protocol::RunRequest& request, std::function<void(const protocol::RunResult&)> done, int timeoutMs)
{
    return sendForFrame(QStringLiteral("run"), request.toJson(), [done](const protocol::Frame& response) {
        done(protocol::RunResult::fromFrame(response));
    }, timeoutMs);
}

int EngineClient::exportExtractor(const protocol::ExportRequest& request,
                                  std::function<void(const protocol::ExportResult&)> done, int timeoutMs)
{
    return sendForFrame(QStringLiteral("export"), request.toJson(), [done](const protocol::Frame& response) {
        done(protocol::ExportResult::fromFrame(response));
    }, timeoutMs);
}

int EngineClient::cam(const protocol::CamRequest& request, std::function<void(const protocol::CamResult&)> done, int timeoutMs)
{
    return sendForFrame(QStringLiteral("cam"), request.toJson(), [done](const protocol::Frame& response) {
        done(protocol::CamResult::fromFrame(response));
    }, timeoutMs);
}

int EngineClient::sendForFrame(const QString& command, QJsonObject params, FrameCallback callback, int timeoutMs)
{
    Request r;
    r.id = m_nextId++;
    r.command = command;
    r.params = std::move(params);
    r.callback = std::move(callback);
    r.timeoutMs = timeoutMs;
    m_queue.append(r);
    QTimer::singleShot(0, this, &EngineClient::startNext);
    return r.id;
}

void EngineClient::cancel(int id)
{
    for (int i = 0; i < m_queue.size(); ++i) {
        if (m_queue[i].id == id) {
            Request r = m_queue.takeAt(i);
            if (r.callback)
                r.callback(failure(QStringLiteral("Cancelled."), ErrorKind::Cancelled));
            return;
        }
    }
    if (m_current.id != id)
        return;
    // A run stops at its next op inside the engine, which keeps the model; anything else cannot be interrupted.
    if (m_current.command == QLatin1String("run") && m_process && m_process->state() == QProcess::Running) {
        if (!m_cancelGrace.isActive()) {
            m_process->write(QJsonDocument(QJsonObject{{QStringLiteral("cmd"), QStringLiteral("cancel")},
                                                       {QStringLiteral("id"), id}})
                                 .toJson(QJsonDocument::Compact)
                             + '\n');
            m_cancelGrace.start(kCancelGraceMs);
        }
        return;
    }
    killEngine(QStringLiteral("Cancelled."), ErrorKind::Cancelled);
}

void EngineClient::startEngine()
{
    ensureStarted();
}

void EngineClient::ensureStarted()
{
    if (m_process)
        return;
    m_decoder = protocol::FrameDecoder();
    m_decoder.setDeferHeaderBytes(kParseOffThreadBytes);
    ++m_headerParses; // a parse still running belongs to the previous process
    m_stderr.clear();
    m_process = new QProcess(this);
    connect(m_process, &QProcess::readyReadStandardOutput, this, &EngineClient::onReadyRead);
    connect(m_process, &QProcess::readyReadStandardError, this, [this] {
        m_stderr += m_process->readAllStandardError();
        if (m_stderr.size() > 16384)
            m_stderr = m_stderr.right(8192);
    });
    connect(m_process, &QProcess::finished, this, &EngineClient::onFinished);
    connect(m_process, &QProcess::errorOccurred, this, &EngineClient::onError);
    m_process->start(m_program, m_arguments);
    // Replay the model the user had open (even before another load: if that one fails, the old model stays).
    if (m_session.id != 0) {
        Request replay = m_session;
        replay.id = m_nextId++;
        replay.internal = true;
        replay.callback = nullptr;
        m_queue.prepend(replay);
    }
}

void EngineClient::startNext()
{
    if (m_current.id != 0 || m_queue.isEmpty())
        return;
    ensureStarted();
    m_current = m_queue.takeFirst();
    QJsonObject message = m_current.params;
    message.insert(QStringLiteral("id"), m_current.id);
    message.insert(QStringLiteral("cmd"), m_current.command);
    m_process->write(QJsonDocument(message).toJson(QJsonDocument::Compact) + '\n');
    if (m_current.timeoutMs > 0)
        m_timer.start(m_current.timeoutMs);
    Q_EMIT busyChanged(true);
}

void EngineClient::finishCurrent(const protocol::Frame& frame)
{
    m_timer.stop();
    m_cancelGrace.stop();
    Request done = m_current;
    m_current = {};
    const QJsonObject& response = frame.header;
    const bool ok = response.value(QStringLiteral("ok")).toBool();
    if (done.command == QLatin1String("load")) {
        // A failed user load keeps the previous model (the engine still holds it). A replay that the engine
        // refused (the file changed or went away) forgets the model and says so; a replay cut short by a crash,
        // kill or timeout keeps it, to be replayed by the next restart.
        const bool engineGone =
            protocol::engineIsGone(protocol::errorKindFromString(response.value(QStringLiteral("errorType")).toString()));
        if (ok && !done.internal) {
            m_session = done;
            m_session.callback = nullptr;
        } else if (!ok && done.internal && !engineGone) {
            m_session = {};
            Q_EMIT engineStopped(QStringLiteral("The engine restarted but could not reopen %1: %2 Open the model again.")
                                     .arg(done.params.value(QStringLiteral("path")).toString(),
                                          response.value(QStringLiteral("error")).toString()),
                                 protocol::errorKindFromString(response.value(QStringLiteral("errorType")).toString()));
        }
    }
    if (done.callback)
        done.callback(frame);
    if (m_queue.isEmpty())
        Q_EMIT busyChanged(false);
    else
        QTimer::singleShot(0, this, &EngineClient::startNext);
}

void EngineClient::onReadyRead()
{
    // Each piece goes into the frame it belongs to as it arrives: a run's tensors are never copied in one block.
    takeFrames(m_decoder.feed(m_process->readAllStandardOutput()));
}

void EngineClient::takeFrames(bool decoded)
{
    if (!decoded) {
        killEngine(QStringLiteral("The engine's answer could not be read (%1); it was stopped and will restart.")
                       .arg(m_decoder.error()),
                   ErrorKind::Protocol);
        return;
    }
    while (m_process && m_decoder.hasFrame()) {
        const protocol::Frame response = m_decoder.takeFrame();
        if (response.header.contains(QStringLiteral("event")))
            continue; // progress events are optional and not shown yet
        if (m_current.id != 0 && response.header.value(QStringLiteral("id")).toInt() == m_current.id)
            finishCurrent(response);
    }
    if (m_process && m_decoder.waitingForHeader() && !m_headerParse.isRunning()) {
        const int parse = ++m_headerParses;
        m_headerParse.setFuture(QtConcurrent::run([parse, line = m_decoder.deferredHeader()] {
            return std::make_pair(parse, protocol::FrameDecoder::parseHeader(line));
        }));
    }
}

void EngineClient::onHeaderParsed()
{
    const auto [parse, header] = m_headerParse.result();
    if (parse != m_headerParses) { // for another process or already read: start the parse the decoder waits for, if any
        if (m_process)
            takeFrames(true);
        return;
    }
    takeFrames(m_decoder.resume(header));
}

void EngineClient::readDeferredHeaders()
{
    ++m_headerParses; // the worker's parse, if one runs, is not waited for
    while (m_process && m_decoder.waitingForHeader())
        takeFrames(m_decoder.resume(protocol::FrameDecoder::parseHeader(m_decoder.deferredHeader())));
}

void EngineClient::killEngine(const QString& reason, ErrorKind kind)
{
    if (!m_process)
        return;
    QProcess* dying = m_process;
    m_process = nullptr;
    dying->disconnect(this);
    connect(dying, &QProcess::finished, dying, &QObject::deleteLater);
    dying->kill();
    if (m_current.id != 0)
        finishCurrent(failure(reason, kind));
    Q_EMIT engineStopped(reason, kind);
}

void EngineClient::onTimeout()
{
    if (m_current.id == 0)
        return;
    killEngine(QStringLiteral("The engine did not answer within %1 s while %2; it was stopped and will restart.")
                   .arg(m_current.timeoutMs / 1000.0, 0, 'f', 1)
                   .arg(describeCommand(m_current.command)),
               ErrorKind::Timeout);
}

QString EngineClient::stderrTail() const
{
    QString text = QString::fromLocal8Bit(m_stderr).trimmed();
    const QStringList lines = text.split(QLatin1Char('\n'));
    return lines.mid(std::max<qsizetype>(0, lines.size() - 4)).join(QLatin1Char('\n'));
}

void EngineClient::onFinished(int exitCode, QProcess::ExitStatus status)
{
    // An answer the engine sent before it ended is delivered first, as if its header had been parsed at once
    // (reading it may find the stream broken instead, which stops the engine here).
    readDeferredHeaders();
    QProcess* dead = m_process;
    if (!dead)
        return;
    m_stderr += dead->readAllStandardError();
    m_process = nullptr;
    dead->disconnect(this);
    dead->deleteLater();
    // The engine answered a request that ran past its time cap and then ended itself (docs/engine-protocol.md):
    // the user already has that answer, and the next request restarts the engine.
    if (status == QProcess::NormalExit && exitCode == featscope::kExitEngineStoppedByTimeCap && m_current.id == 0)
        return;
    // An engine that held no model read this file itself and died of it: it held nothing, so nothing is lost.
    // The load goes once more through the sandboxed reader of the restarted engine, whose answer names the
    // file and what is wrong with it (or loads it, if this was not the file's doing).
    if (m_current.id != 0 && m_current.command == QLatin1String("load")
        && m_current.params.value(QStringLiteral("readInEngine")).toBool()) {
        Request retry = m_current;
        retry.params.remove(QStringLiteral("readInEngine"));
        m_current = {};
        m_timer.stop();
        m_cancelGrace.stop();
        m_queue.prepend(retry);
        QTimer::singleShot(0, this, &EngineClient::startNext);
        return;
    }
    QString message = status == QProcess::CrashExit
        ? QStringLiteral("The engine crashed")
        : QStringLiteral("The engine exited with code %1").arg(exitCode);
    if (m_current.id != 0)
        message += QStringLiteral(" while %1").arg(describeCommand(m_current.command));
    message += QStringLiteral(". The model may be damaged or hostile; your selection is kept and the engine "
                              "restarts for the next request.");
    const QString tail = stderrTail();
    if (!tail.isEmpty())
        message += QStringLiteral("\nEngine output: ") + tail;
    if (m_current.id != 0)
        finishCurrent(failure(message, ErrorKind::Crash));
    Q_EMIT engineStopped(message, ErrorKind::Crash);
}

void EngineClient::onError(QProcess::ProcessError error)
{
    if (error != QProcess::FailedToStart || !m_process)
        return;
    const QString message = QStringLiteral("Cannot start the engine '%1': %2. Build featscope-engine and keep it "
                                           "beside the featscope executable, or reinstall featscope (or set FEATSCOPE_ENGINE).")
                                .arg(m_program, m_process->errorString());
    QProcess* dead = m_process;
    m_process = nullptr;
    dead->disconnect(this);
    dead->deleteLater();
    // Fail everything queued: retrying would fail the same way.
    QList<Request> pending = m_queue;
    m_queue.clear();
    if (m_current.id != 0)
        finishCurrent(failure(message, ErrorKind::Start));
    for (const Request& r : pending)
        if (r.callback)
            r.callback(failure(message, ErrorKind::Start));
    Q_EMIT engineStopped(message, ErrorKind::Start);
}

} // namespace featscope::ui
