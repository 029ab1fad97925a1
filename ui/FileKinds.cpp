#include "FileKinds.h"

#include <QFileInfo>
#include <QObject>
#include <QStringList>

namespace featscope::ui {

namespace {

const QStringList& modelSuffixes()
{
    static const QStringList suffixes{QStringLiteral("pt"), QStringLiteral("pth"), QStringLiteral("ptl"), QStringLiteral("zip"),
                                      QStringLiteral("torchscript")};
    return suffixes;
}

// What the engine's image decoder (Qt's image plugins) reads.
const QStringList& imageSuffixes()
{
    static const QStringList suffixes{QStringLiteral("png"), QStringLiteral("jpg"), QStringLiteral("jpeg"), QStringLiteral("bmp"),
                                      QStringLiteral("gif"), QStringLiteral("webp"), QStringLiteral("pgm"), QStringLiteral("ppm")};
    return suffixes;
}

QString patterns(const QStringList& suffixes)
{
    QStringList globs;
    for (const QString& suffix : suffixes)
        globs.append(QStringLiteral("*.") + suffix);
    return globs.join(QLatin1Char(' '));
}

} // namespace

bool isModelFile(const QString& path) { return modelSuffixes().contains(QFileInfo(path).suffix().toLower()); }

bool isImageFile(const QString& path) { return imageSuffixes().contains(QFileInfo(path).suffix().toLower()); }

QString modelFileFilter()
{
    return QObject::tr("TorchScript models (%1);;All files (*)").arg(patterns(modelSuffixes()));
}

QString imageFileFilter() { return QObject::tr("Images (%1)").arg(patterns(imageSuffixes())); }

} // namespace featscope::ui
