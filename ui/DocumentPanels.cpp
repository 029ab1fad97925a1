#include "DocumentPanels.h"

#include "ModelDocument.h"

#include <QComboBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPushButton>
#include <QSet>
#include <QVBoxLayout>

namespace featscope::ui {

ModelPanel::ModelPanel(ModelDocument* document, QWidget* parent)
    : QGroupBox(tr("Model"), parent), m_document(document), m_label(new QLabel), m_mode(new QComboBox)
{
    auto* layout = new QVBoxLayout(this);
    m_label->setObjectName(QStringLiteral("modelInfo"));
    m_label->setWordWrap(true);
    m_label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_label->setText(tr("No model open."));
    layout->addWidget(m_label);
    auto* modeRow = new QHBoxLayout;
    m_mode->addItem(tr("eval"), int(Mode::Eval));
    m_mode->addItem(tr("train"), int(Mode::Train));
    m_mode->setObjectName(QStringLiteral("modeBox"));
    m_mode->setToolTip(tr("Graph, node names and run in training or evaluation mode"));
    modeRow->addWidget(new QLabel(tr("Mode:")));
    modeRow->addWidget(m_mode);
    modeRow->addStretch();
    layout->addLayout(modeRow);
    connect(m_mode, &QComboBox::currentIndexChanged, this, [this] { m_document->setMode(Mode(m_mode->currentData().toInt())); });
    auto showMode = [this] {
        const QSignalBlocker block(m_mode);
        m_mode->setCurrentIndex(m_mode->findData(int(m_document->mode())));
    };
    connect(document, &ModelDocument::modeChanged, this, showMode);
    connect(document, &ModelDocument::modelChanged, this, [this, showMode] {
        showMode();
        showModel();
    });
}

void ModelPanel::showModel()
{
    const ModelInfo& model = m_document->model();
    const ModeGraph& train = model.graph(Mode::Train);
    const ModeGraph& eval = model.graph(Mode::Eval);
    int onlyTrain = 0, onlyEval = 0;
    if (!model.modesHaveSameNames()) {
        const QSet<QString> trainNames(train.names.cbegin(), train.names.cend());
        const QSet<QString> evalNames(eval.names.cbegin(), eval.names.cend());
        onlyTrain = int((trainNames - evalNames).size());
        onlyEval = int((evalNames - trainNames).size());
    }
    QString text = tr("<b>%1</b><br>class %2<br>%3 parameters · inputs: %4<br>nodes: %5 train, %6 eval")
                       .arg(QFileInfo(model.file).fileName().toHtmlEscaped(), model.className.toHtmlEscaped(),
                            QLocale().toString(model.parameterCount), model.inputs.join(QStringLiteral(", ")).toHtmlEscaped())
                       .arg(train.names.size())
                       .arg(eval.names.size());
    if (onlyTrain || onlyEval)
        text += tr(" (%1 only in train, %2 only in eval)").arg(onlyTrain).arg(onlyEval);
    if (model.hasPreprocessing)
        text += tr("<br>preprocessing from the model file");
    if (!model.classes.isEmpty())
        text += tr("<br>%n class(es)", nullptr, int(model.classes.size()));
    // An op library is native code the engine runs unchecked: say that it was trusted, and which.
    if (!model.opsLibraries.isEmpty())
        text += tr("<br><span style='color:#8a5300'>trusted op libraries (native code, run unchecked): %1</span>")
                    .arg(model.opsLibraries.join(QStringLiteral("; ")).toHtmlEscaped());
    m_label->setText(text);
    m_label->setToolTip(model.file);
}

ImagePanel::ImagePanel(ModelDocument* document, QWidget* parent)
    : QGroupBox(tr("Image"), parent), m_path(new QLineEdit), m_run(new QPushButton(tr("Run"))), m_cancel(new QPushButton(tr("Cancel")))
{
    auto* layout = new QVBoxLayout(this);
    auto* imageRow = new QHBoxLayout;
    m_path->setPlaceholderText(tr("PNG or JPEG image (or drop one here)"));
    m_path->setObjectName(QStringLiteral("imagePath"));
    auto* browse = new QPushButton(tr("Browse…"));
    imageRow->addWidget(m_path, 1);
    imageRow->addWidget(browse);
    layout->addLayout(imageRow);
    auto* runRow = new QHBoxLayout;
    m_run->setObjectName(QStringLiteral("runButton"));
    m_run->setStyleSheet(QStringLiteral("font-weight: bold;"));
    m_cancel->setObjectName(QStringLiteral("cancelButton"));
    m_cancel->setToolTip(tr("Stop the running model (Esc)"));
    m_cancel->setEnabled(false);
    runRow->addWidget(m_run, 1);
    runRow->addWidget(m_cancel);
    layout->addLayout(runRow);
    connect(browse, &QPushButton::clicked, this, &ImagePanel::browseRequested);
    connect(m_path, &QLineEdit::textChanged, document, &ModelDocument::setImagePath);
    auto showImage = [this, document] {
        if (m_path->text().trimmed() != document->imagePath())
            m_path->setText(document->imagePath());
    };
    connect(document, &ModelDocument::imageChanged, this, showImage);
    connect(document, &ModelDocument::modelChanged, this, showImage);
}

} // namespace featscope::ui
