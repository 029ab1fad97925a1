#include "LoadOptionsDialog.h"

#include "ModelController.h"

#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace featscope::ui {

namespace {

QPlainTextEdit* listEditor(const QString& objectName, const QStringList& lines, const QString& placeholder)
{
    auto* editor = new QPlainTextEdit(lines.join(QLatin1Char('\n')));
    editor->setObjectName(objectName);
    editor->setPlaceholderText(placeholder);
    editor->setLineWrapMode(QPlainTextEdit::NoWrap);
    editor->setMaximumHeight(editor->fontMetrics().lineSpacing() * 5 + 12);
    return editor;
}

QStringList lines(const QPlainTextEdit* editor)
{
    QStringList out;
    for (const QString& line : editor->toPlainText().split(QLatin1Char('\n'))) {
        const QString entry = line.trimmed();
        if (!entry.isEmpty() && !out.contains(entry))
            out.append(entry);
    }
    return out;
}

} // namespace

LoadOptionsDialog::LoadOptionsDialog(const QString& modelFile, const LoadOptions& options, const QStringList& loaded,
                                     QWidget* parent)
    : QDialog(parent),
      m_opsLibraries(listEditor(QStringLiteral("opsLibraries"), options.opsLibraries, tr("/path/to/libmy_ops.so"))),
      m_leafModules(listEditor(QStringLiteral("leafModules"), options.leafModules, tr("mypackage.blocks.Attention"))),
      m_leafFunctions(listEditor(QStringLiteral("leafFunctions"), options.leafFunctions, tr("mypackage.ops.window_partition")))
{
    setObjectName(QStringLiteral("loadOptionsDialog"));
    setWindowTitle(tr("Load Options for %1").arg(QFileInfo(modelFile).fileName()));
    auto* layout = new QVBoxLayout(this);

    auto* trust = new QLabel(tr("<b>An op library is native code.</b> Loading one runs its code in the engine with your "
                                "rights, unchecked, as trusted as PyTorch itself; its ops then count as known. Add only "
                                "libraries you trust, for models that call custom TorchScript ops (torchvision's are "
                                "loaded by themselves)."));
    trust->setObjectName(QStringLiteral("trustWarning"));
    trust->setWordWrap(true);
    trust->setStyleSheet(QStringLiteral("background: #fff3cd; color: #6d4c00; border: 1px solid #e0b040; padding: 4px;"));
    layout->addWidget(trust);

    auto* form = new QFormLayout;
    auto* libraries = new QVBoxLayout;
    libraries->addWidget(m_opsLibraries);
    auto* browse = new QPushButton(tr("Add Library…"));
    browse->setObjectName(QStringLiteral("addOpsLibrary"));
    connect(browse, &QPushButton::clicked, this, [this, modelFile] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Op Library"), QFileInfo(modelFile).absolutePath(),
                                                          tr("Shared libraries (*.so *.so.*);;All files (*)"));
        if (!path.isEmpty())
            m_opsLibraries->appendPlainText(path);
    });
    libraries->addWidget(browse, 0, Qt::AlignLeft);
    form->addRow(tr("Op libraries:"), libraries);
    form->addRow(tr("Leaf modules:"), m_leafModules);
    form->addRow(tr("Leaf functions:"), m_leafFunctions);
    layout->addLayout(form);
    auto* hint = new QLabel(tr("One entry per line. Leaf modules and functions are torchvision's leaf_modules and "
                               "autowrap_functions, by qualified name: their calls stay one node."));
    hint->setWordWrap(true);
    layout->addWidget(hint);

    auto* loadedLabel = new QLabel(loaded.isEmpty() ? tr("The engine has loaded no op library.")
                                                    : tr("Loaded in the engine, trusted: %1").arg(loaded.join(QStringLiteral("; "))));
    loadedLabel->setObjectName(QStringLiteral("loadedOpsLibraries"));
    loadedLabel->setWordWrap(true);
    loadedLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(loadedLabel);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Load Model"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
    resize(560, sizeHint().height());
}

LoadOptions LoadOptionsDialog::options() const
{
    return LoadOptions{lines(m_opsLibraries), lines(m_leafModules), lines(m_leafFunctions)};
}

void LoadOptionsDialog::editAndReload(QWidget* parent, ModelController* controller, const ModelDocument* document)
{
    const QString model = controller->requestedModel();
    if (model.isEmpty()) {
        QMessageBox::information(parent, tr("Load Options"), tr("Open a model first (File > Open Model)."));
        return;
    }
    const bool isOpen = document->hasModel() && document->model().file == model;
    LoadOptionsDialog dialog(model, controller->requestedOptions(), isOpen ? document->model().opsLibraries : QStringList(), parent);
    if (dialog.exec() != QDialog::Accepted)
        return;
    // Loading again costs time; a model that is open with these very options needs none.
    if (isOpen && dialog.options() == document->loadOptions())
        return;
    controller->openModel(model, dialog.options());
}

} // namespace featscope::ui
