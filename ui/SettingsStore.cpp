#include "SettingsStore.h"

#include <QCryptographicHash>
#include <QFileInfo>
#include <QJsonDocument>

namespace featscope::ui {

SettingsStore::SettingsStore() : m_settings(QSettings::IniFormat, QSettings::UserScope, QStringLiteral("featscope"), QStringLiteral("featscope")) {}

QStringList SettingsStore::recentFiles() const { return m_settings.value(QStringLiteral("recentFiles")).toStringList(); }

void SettingsStore::addRecentFile(const QString& path)
{
    QStringList files = recentFiles();
    const QString absolute = QFileInfo(path).absoluteFilePath();
    files.removeAll(absolute);
    files.prepend(absolute);
    while (files.size() > kMaxRecent)
        files.removeLast();
    m_settings.setValue(QStringLiteral("recentFiles"), files);
}

QString SettingsStore::lastDirectory() const { return m_settings.value(QStringLiteral("lastDirectory")).toString(); }

void SettingsStore::setLastDirectory(const QString& path)
{
    const QFileInfo info(path);
    m_settings.setValue(QStringLiteral("lastDirectory"), info.isDir() ? info.absoluteFilePath() : info.absolutePath());
}

QByteArray SettingsStore::windowGeometry() const { return m_settings.value(QStringLiteral("window/geometry")).toByteArray(); }

QByteArray SettingsStore::windowState() const { return m_settings.value(QStringLiteral("window/state")).toByteArray(); }

void SettingsStore::setWindowLayout(const QByteArray& geometry, const QByteArray& state)
{
    m_settings.setValue(QStringLiteral("window/geometry"), geometry);
    m_settings.setValue(QStringLiteral("window/state"), state);
}

QString SettingsStore::modelKey(const QString& path)
{
    const QByteArray hash = QCryptographicHash::hash(QFileInfo(path).absoluteFilePath().toUtf8(), QCryptographicHash::Sha1);
    return QStringLiteral("models/") + QString::fromLatin1(hash.toHex().left(16));
}

QJsonObject SettingsStore::modelState(const QString& path) const
{
    return QJsonDocument::fromJson(m_settings.value(modelKey(path)).toByteArray()).object();
}

void SettingsStore::setModelState(const QString& path, const QJsonObject& state)
{
    QJsonObject withPath = state;
    withPath.insert(QStringLiteral("path"), QFileInfo(path).absoluteFilePath());
    m_settings.setValue(modelKey(path), QJsonDocument(withPath).toJson(QJsonDocument::Compact));
}

} // namespace featscope::ui
