#include "InputPanel.h"

#include "ModelDocument.h"

#include <featscope/Errors.h>
#include <featscope/imaging/PreprocessedImage.h>

#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QLabel>
#include <QPainter>
#include <QSlider>
#include <QVBoxLayout>

namespace featscope::ui {

namespace {

/// Paints the panel's picture; the panel decides what it is.
class Canvas : public QWidget {
public:
    explicit Canvas(InputPanel* panel) : m_panel(panel) { setMinimumSize(160, 160); }

protected:
    void paintEvent(QPaintEvent*) override
    {
        QPainter painter(this);
        painter.drawImage(0, 0, m_panel->render(size()));
    }

private:
    InputPanel* m_panel;
};

} // namespace

InputPanel::InputPanel(ModelDocument* document, QWidget* parent)
    : QWidget(parent), m_document(document), m_view(new QComboBox), m_opacity(new QSlider(Qt::Horizontal)),
      m_smooth(new QCheckBox(tr("Smooth"))), m_caption(new QLabel), m_canvas(new Canvas(this))
{
    setObjectName(QStringLiteral("inputPanel"));
    m_view->addItem(tr("As the model sees it"));
    m_view->addItem(tr("Original, crop outlined"));
    m_view->setObjectName(QStringLiteral("inputView"));
    m_opacity->setRange(0, 100);
    m_opacity->setValue(55);
    m_opacity->setObjectName(QStringLiteral("overlayOpacity"));
    m_opacity->setToolTip(tr("Opacity of the map over the image"));
    m_smooth->setObjectName(QStringLiteral("smoothOverlay"));
    m_smooth->setToolTip(tr("Upsample the map bilinearly (off: one block per map cell)"));
    m_caption->setWordWrap(true);
    m_caption->setObjectName(QStringLiteral("inputCaption"));
    auto* controls = new QHBoxLayout;
    controls->addWidget(m_view);
    controls->addWidget(new QLabel(tr("Map:")));
    controls->addWidget(m_opacity, 1);
    controls->addWidget(m_smooth);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(controls);
    layout->addWidget(m_canvas, 1);
    layout->addWidget(m_caption);

    connect(m_view, &QComboBox::currentIndexChanged, this, [this](int index) {
        m_showOriginal = index == 1;
        m_canvas->update();
    });
    connect(m_opacity, &QSlider::valueChanged, m_canvas, qOverload<>(&QWidget::update));
    connect(m_smooth, &QCheckBox::toggled, m_canvas, qOverload<>(&QWidget::update));
    connect(document, &ModelDocument::imageChanged, this, &InputPanel::reload);
    connect(document, &ModelDocument::preprocessingChanged, this, &InputPanel::reload);
    connect(document, &ModelDocument::resultsChanged, this, &InputPanel::reload);
    connect(document, &ModelDocument::modelChanged, this, &InputPanel::reload);
}

void InputPanel::reload()
{
    // The maps belong to the image and preprocessing of their run; before any run, show the current ones.
    const bool hasResults = !m_document->outputs().isEmpty();
    const RunInputs inputs = hasResults ? m_document->resultsInputs() : m_document->runInputs();
    const QString key = inputs.image + QLatin1Char('\n') + QString::fromUtf8(QJsonDocument(inputs.preprocessing).toJson());
    if (key == m_loadedKey)
        return;
    m_loadedKey = key;
    m_input = m_original = QImage();
    m_problem.clear();
    if (inputs.image.isEmpty()) {
        m_problem = tr("No image chosen.");
    } else {
        try {
            const auto image = imaging::preprocessImage(inputs.image.toStdString(),
                                                        preprocessingFromRequest(inputs.preprocessing, m_document->preprocessing()));
            m_input = image.input;
            m_original = image.original;
            m_inputInOriginal = image.inputInOriginal;
        } catch (const featscope::Error& e) {
            m_problem = QString::fromStdString(e.what());
        }
    }
    setOverlay(m_overlay);
}

void InputPanel::setOverlay(const MapOverlay& overlay)
{
    m_overlay = overlay;
    QStringList caption;
    if (!m_problem.isEmpty())
        caption.append(m_problem);
    else if (!m_input.isNull())
        caption.append(tr("%1 · model input %2×%3").arg(QFileInfo(m_loadedKey.section(QLatin1Char('\n'), 0, 0)).fileName())
                           .arg(m_input.width())
                           .arg(m_input.height()));
    if (!overlay.colours.isNull())
        caption.append(overlay.title);
    if (overlay.cell.x() >= 0)
        caption.append(tr("cell (%1, %2): its share of the input in proportion to the grid").arg(overlay.cell.x()).arg(overlay.cell.y()));
    m_caption->setText(caption.join(QStringLiteral(" · ")));
    m_canvas->update();
}

QRectF InputPanel::pictureRect(QSize size) const
{
    const QImage& image = shownImage();
    if (image.isNull() || size.isEmpty())
        return {};
    const QSizeF fitted = QSizeF(image.size()).scaled(QSizeF(size), Qt::KeepAspectRatio);
    return QRectF(QPointF((size.width() - fitted.width()) / 2, (size.height() - fitted.height()) / 2), fitted);
}

QRectF InputPanel::inputRect(const QRectF& picture) const
{
    if (!m_showOriginal || m_original.isNull())
        return picture;
    const double sx = picture.width() / m_original.width(), sy = picture.height() / m_original.height();
    return QRectF(picture.left() + m_inputInOriginal.left() * sx, picture.top() + m_inputInOriginal.top() * sy,
                  m_inputInOriginal.width() * sx, m_inputInOriginal.height() * sy);
}

QRectF InputPanel::cellRect(QPoint cell, QSize size) const
{
    if (m_overlay.colours.isNull() || cell.x() < 0)
        return {};
    const QRectF input = inputRect(pictureRect(size));
    const double w = input.width() / m_overlay.colours.width(), h = input.height() / m_overlay.colours.height();
    return QRectF(input.left() + cell.x() * w, input.top() + cell.y() * h, w, h);
}

QImage InputPanel::render(QSize size) const
{
    QImage canvas(size, QImage::Format_ARGB32_Premultiplied);
    canvas.fill(palette().color(QPalette::Window));
    const QRectF picture = pictureRect(size);
    if (picture.isEmpty())
        return canvas;
    QPainter painter(&canvas);
    painter.setRenderHint(QPainter::SmoothPixmapTransform, true);
    painter.drawImage(picture, shownImage());
    const QRectF input = inputRect(picture);
    if (!m_overlay.colours.isNull()) {
        // Cells to input pixels: nearest keeps one block per cell; smooth interpolates between cell centres.
        const QImage scaled = m_overlay.colours.scaled(input.size().toSize().expandedTo(QSize(1, 1)), Qt::IgnoreAspectRatio,
                                                       m_smooth->isChecked() ? Qt::SmoothTransformation : Qt::FastTransformation);
        painter.setOpacity(m_opacity->value() / 100.0);
        painter.drawImage(input.topLeft(), scaled);
        painter.setOpacity(1.0);
    }
    if (m_showOriginal) {
        painter.setPen(QPen(QColor(0x21, 0x96, 0xf3), 2, Qt::DashLine));
        painter.drawRect(input);
    }
    const QRectF cell = cellRect(m_overlay.cell, size);
    if (!cell.isEmpty()) {
        painter.setPen(QPen(Qt::white, 3));
        painter.drawRect(cell);
        painter.setPen(QPen(Qt::black, 1));
        painter.drawRect(cell);
    }
    return canvas;
}

} // namespace featscope::ui
