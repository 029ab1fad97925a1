#pragma once

#include "ModelDocument.h"

#include <QDialog>

class QPlainTextEdit;

namespace featscope::ui {

class ModelController;

/// Model > Load Options: how the engine reads the model file, kept per file (LoadOptions): libraries of custom
/// TorchScript ops to load first, and torchvision's leaf modules and leaf functions (leaf_modules and
/// autowrap_functions of its tracer). The dialog says that an op library is native code that runs as trusted,
/// and lists the libraries the engine has loaded (torchvision's, loaded by itself for its ops, among them).
class LoadOptionsDialog : public QDialog {
    Q_OBJECT
public:
    /// `loaded` are the engine's loaded op libraries as ModelInfo::opsLibraries lists them.
    LoadOptionsDialog(const QString& modelFile, const LoadOptions& options, const QStringList& loaded, QWidget* parent = nullptr);

    /// The options as edited: one entry per non-empty line, trimmed, each once.
    LoadOptions options() const;

    /// The menu action: edits the options of the model last asked for (open, or failed to open for want of an
    /// op library) and, when they changed, loads it again with them; the selection is kept as on any reopen.
    static void editAndReload(QWidget* parent, ModelController* controller, const ModelDocument* document);

private:
    QPlainTextEdit* m_opsLibraries;
    QPlainTextEdit* m_leafModules;
    QPlainTextEdit* m_leafFunctions;
};

} // namespace featscope::ui
