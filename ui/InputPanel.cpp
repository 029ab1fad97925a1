#include "InputPanel.h"

#include "Heatmap.h"

#include "ReturnNodesModel.h"

#include <featscope/Errors.h>
#include <featscope/imaging/PreprocessedImage.h>

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QSaveFile>
#include <QSlider>
#include <QVBoxLayout>

#include <algorithm>

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

QString inputsKey(const RunInputs& inputs)
{
    return inputs.image + QLatin1Char('\n') + QString::fromUtf8(QJsonDocument(inputs.preprocessing).toJson());
}

} // namespace

InputPanel::InputPanel(ModelDocument* document, QWidget* parent)
    : QWidget(parent), m_document(document), m_view(new QComboBox), m_opacity(new QSlider(Qt::Horizontal)),
      m_smooth(new QCheckBox(tr("Smooth"))), m_caption(new QLabel), m_canvas(new Canvas(this)), m_sourceBox(new QComboBox),
      m_camNode(new QComboBox), m_camMethod(new QComboBox), m_camClass(new QComboBox), m_explain(new QPushButton(tr("Explain"))),
      m_saveCam(new QPushButton(tr("Save CAM…")))
{
    setObjectName(QStringLiteral("inputPanel"));
    m_view->addItem(tr("As the model sees it"));
    m_view->addItem(tr("Original, crop outlined"));
    m_view->setObjectName(QStringLiteral("inputView"));
    m_sourceBox->addItem(tr("Feature map"), int(Overlay::FeatureMap));
    m_sourceBox->addItem(tr("CAM"), int(Overlay::Cam));
    m_sourceBox->setObjectName(QStringLiteral("overlaySource"));
    m_opacity->setRange(0, 100);
    m_opacity->setValue(55);
    m_opacity->setObjectName(QStringLiteral("overlayOpacity"));
    m_opacity->setToolTip(tr("Opacity of the map over the image"));
    m_smooth->setObjectName(QStringLiteral("smoothOverlay"));
    m_smooth->setToolTip(tr("Upsample the map bilinearly (off: one block per map cell)"));
    m_camNode->setObjectName(QStringLiteral("camNode"));
    m_camNode->setToolTip(tr("Node to explain the prediction at: one of the return nodes"));
    m_camNode->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_camNode->setMinimumContentsLength(12);
    m_camMethod->setObjectName(QStringLiteral("camMethod"));
    m_camMethod->addItem(tr("Grad-CAM"), QStringLiteral("gradcam"));
    m_camMethod->addItem(tr("Grad-CAM++"), QStringLiteral("gradcam++"));
    m_camMethod->addItem(tr("Gradient × activation"), QStringLiteral("gradxact"));
    m_camClass->setObjectName(QStringLiteral("camClass"));
    m_camClass->setToolTip(tr("Class whose score is explained"));
    m_explain->setObjectName(QStringLiteral("explain"));
    m_explain->setToolTip(tr("Compute a class activation map at the node, without hooks"));
    m_saveCam->setObjectName(QStringLiteral("saveCam"));
    m_saveCam->setEnabled(false);
    m_caption->setWordWrap(true);
    m_caption->setTextFormat(Qt::PlainText);
    m_caption->setObjectName(QStringLiteral("inputCaption"));
    auto* controls = new QHBoxLayout;
    controls->addWidget(m_view);
    controls->addWidget(m_sourceBox);
    controls->addWidget(m_opacity, 1);
    controls->addWidget(m_smooth);
    auto* camControls = new QGridLayout;
    camControls->addWidget(new QLabel(tr("Explain at:")), 0, 0);
    camControls->addWidget(m_camNode, 0, 1, 1, 2);
    camControls->addWidget(m_camMethod, 1, 0);
    camControls->addWidget(m_camClass, 1, 1);
    camControls->addWidget(m_explain, 1, 2);
    camControls->addWidget(m_saveCam, 1, 3);
    camControls->setColumnStretch(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(controls);
    layout->addWidget(m_canvas, 1);
    layout->addWidget(m_caption);
    layout->addLayout(camControls);

    connect(m_view, &QComboBox::currentIndexChanged, this, [this](int index) {
        m_showOriginal = index == 1;
        m_canvas->update();
    });
    connect(m_sourceBox, &QComboBox::currentIndexChanged, this, [this] { setOverlaySource(Overlay(m_sourceBox->currentData().toInt())); });
    connect(m_opacity, &QSlider::valueChanged, m_canvas, qOverload<>(&QWidget::update));
    connect(m_smooth, &QCheckBox::toggled, m_canvas, qOverload<>(&QWidget::update));
    connect(m_explain, &QPushButton::clicked, this, [this] {
        Q_EMIT explainRequested(m_camNode->currentText(), m_camMethod->currentData().toString(), m_camClass->currentData().toInt());
    });
    connect(m_saveCam, &QPushButton::clicked, this, [this] {
        const QString base = QStringLiteral("%1_%2.npy").arg(QFileInfo(m_document->model().file).completeBaseName(), m_document->cam().method);
        const QString path = QFileDialog::getSaveFileName(this, tr("Save Class Activation Map"), base,
                                                          tr("NumPy array (*.npy);;PNG image, the overlay (*.png)"));
        QString error;
        if (!path.isEmpty() && !exportCam(path, &error))
            m_caption->setText(error);
    });
    connect(document, &ModelDocument::imageChanged, this, &InputPanel::reload);
    connect(document, &ModelDocument::receptiveRegionChanged, this, &InputPanel::updateCaption);
    connect(document, &ModelDocument::preprocessingChanged, this, &InputPanel::reload);
    connect(document, &ModelDocument::resultsChanged, this, &InputPanel::reload);
    connect(document, &ModelDocument::modelChanged, this, [this] {
        updateCamChoices();
        reload();
    });
    connect(m_smooth, &QCheckBox::clicked, this, [this] { m_smoothChosen = true; });
    connect(document, &ModelDocument::camChanged, this, [this] {
        updateCamChoices();
        // The controls say what the map shown was computed with, however it was asked for.
        const CamMap& cam = m_document->cam();
        if (!cam.isEmpty()) {
            m_camNode->setCurrentIndex(m_camNode->findText(cam.node));
            m_camMethod->setCurrentIndex(m_camMethod->findData(cam.method));
            // CAMs are usually shown upsampled bilinearly; feature maps cell by cell. The user's choice wins.
            if (!m_smoothChosen)
                m_smooth->setChecked(true);
        }
        m_saveCam->setEnabled(!m_document->cam().isEmpty());
        setOverlaySource(m_document->cam().isEmpty() ? Overlay::FeatureMap : Overlay::Cam);
        reload();
    });
    ReturnNodesModel* returns = document->returnNodes();
    connect(returns, &QAbstractItemModel::dataChanged, this, &InputPanel::updateCamChoices);
    connect(returns, &QAbstractItemModel::rowsInserted, this, &InputPanel::updateCamChoices);
    connect(returns, &QAbstractItemModel::rowsRemoved, this, &InputPanel::updateCamChoices);
    connect(returns, &QAbstractItemModel::modelReset, this, &InputPanel::updateCamChoices);
    updateCamChoices();
}

QString InputPanel::className(int index) const
{
    const QStringList& classes = m_document->model().classes;
    return index >= 0 && index < classes.size() ? classes.at(index) : tr("class %1").arg(index);
}

void InputPanel::updateCamChoices()
{
    // Nodes: the return nodes that resolve (a CAM needs a node of the model) to a tensor (a CAM needs maps; a
    // dict of FPN levels or a shape has none), the last one first chosen.
    const QString node = m_camNode->currentText();
    QSet<QString> resolved;
    for (const auto& entry : m_document->returnNodes()->entries())
        resolved.insert(entry.resolved);
    QHash<QString, QString> valueTypes; // of the resolved nodes only: a model has thousands of nodes
    for (const GraphNodeInfo& graphNode : m_document->graph().nodes)
        if (resolved.contains(graphNode.name))
            valueTypes.insert(graphNode.name, graphNode.valueType);
    QStringList nodes;
    for (const auto& entry : m_document->returnNodes()->entries()) {
        const QString type = valueTypes.value(entry.resolved);
        if (!entry.resolved.isEmpty() && !nodes.contains(entry.resolved) && (type.isEmpty() || type == QLatin1String("Tensor")))
            nodes.append(entry.resolved);
    }
    {
        const QSignalBlocker block(m_camNode);
        m_camNode->clear();
        m_camNode->addItems(nodes);
        if (!m_document->cam().isEmpty() && !nodes.contains(m_document->cam().node))
            m_camNode->addItem(m_document->cam().node);
        m_camNode->setCurrentIndex(nodes.contains(node) ? int(nodes.indexOf(node)) : int(nodes.size()) - 1);
    }
    m_explain->setEnabled(!nodes.isEmpty());
    m_explain->setToolTip(nodes.isEmpty() ? tr("Choose a return node to explain the prediction at")
                                          : tr("Compute a class activation map at the node, without hooks"));
    // Classes: the top one, or one of the last CAM's top five.
    const int chosen = m_camClass->currentData().isValid() ? m_camClass->currentData().toInt() : -1;
    const QSignalBlocker block(m_camClass);
    m_camClass->clear();
    m_camClass->addItem(tr("top class"), -1);
    for (const CamMap::TopClass& top : m_document->cam().top)
        m_camClass->addItem(tr("%1 (%2%)").arg(className(top.index)).arg(100 * top.probability, 0, 'f', 1), top.index);
    m_camClass->setCurrentIndex(std::max(0, m_camClass->findData(chosen)));
}

void InputPanel::setOverlaySource(Overlay source)
{
    m_source = source;
    {
        const QSignalBlocker block(m_sourceBox);
        m_sourceBox->setCurrentIndex(m_sourceBox->findData(int(source)));
    }
    reload();
}

RunInputs InputPanel::shownInputs() const
{
    // A map belongs to the image and preprocessing it was computed from; before any, show the current ones.
    if (m_source == Overlay::Cam && !m_document->cam().isEmpty())
        return m_document->cam().inputs;
    return m_document->outputs().isEmpty() ? m_document->runInputs() : m_document->resultsInputs();
}

void InputPanel::reload()
{
    const RunInputs inputs = shownInputs();
    const QString key = inputsKey(inputs);
    if (key != m_loadedKey) {
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
    }
    updateCaption();
}

void InputPanel::setOverlay(const MapOverlay& overlay)
{
    // The engine finds receptive regions of a node's value; one tensor of a dict or tuple it does not pick out.
    const bool newCell = overlay.cell.x() >= 0 && overlay.path.isEmpty()
                         && (overlay.cell != m_overlay.cell || overlay.node != m_overlay.node);
    m_overlay = overlay;
    updateCaption();
    if (newCell)
        Q_EMIT receptiveRegionRequested(overlay.node, overlay.cell, overlay.layout);
}

QRectF InputPanel::receptiveRect(QSize size) const
{
    const ReceptiveRegion& region = m_document->receptiveRegion();
    if (m_source != Overlay::FeatureMap || region.inInput.isEmpty() || region.node != m_overlay.node || region.cell != m_overlay.cell
        || region.inputs != shownInputs() || m_input.isNull())
        return {};
    const QRectF input = inputRect(pictureRect(size));
    const double sx = input.width() / m_input.width(), sy = input.height() / m_input.height();
    return QRectF(input.left() + region.inInput.left() * sx, input.top() + region.inInput.top() * sy,
                  region.inInput.width() * sx, region.inInput.height() * sy);
}

void InputPanel::updateCaption()
{
    QStringList caption;
    if (!m_problem.isEmpty())
        caption.append(m_problem);
    else if (!m_input.isNull())
        caption.append(tr("%1 · model input %2×%3").arg(QFileInfo(shownInputs().image).fileName()).arg(m_input.width()).arg(m_input.height()));
    const CamMap& cam = m_document->cam();
    if (m_source == Overlay::Cam && !cam.isEmpty()) {
        const auto explained = std::find_if(cam.top.cbegin(), cam.top.cend(), [&](const CamMap::TopClass& t) { return t.index == cam.classIndex; });
        caption.append(tr("%1 at %2 (%3×%4, %5) for %6%7")
                           .arg(m_camMethod->itemText(m_camMethod->findData(cam.method)), cam.node)
                           .arg(cam.height)
                           .arg(cam.width)
                           .arg(cam.layout, className(cam.classIndex))
                           .arg(explained != cam.top.cend() ? tr(" (%1%)").arg(100 * explained->probability, 0, 'f', 1) : QString()));
        QStringList top;
        for (const CamMap::TopClass& t : cam.top)
            top.append(tr("%1 %2%").arg(className(t.index)).arg(100 * t.probability, 0, 'f', 1));
        caption.append(tr("top: %1").arg(top.join(QStringLiteral(", "))));
        if (*std::max_element(cam.values.cbegin(), cam.values.cend()) <= 0)
            caption.append(tr("the map is zero everywhere: this class's score does not grow with any part of this node "
                              "(or, with random weights, the head gives no gradient)"));
    } else {
        if (!m_overlay.colours.isNull())
            caption.append(m_overlay.title);
        const ReceptiveRegion& region = m_document->receptiveRegion();
        if (m_overlay.cell.x() >= 0 && !receptiveRect(size()).isEmpty())
            caption.append(tr("cell (%1, %2) looks at %3 x %4 input pixels (dashed: found from the graph; solid: the cell's "
                              "share in proportion)")
                               .arg(m_overlay.cell.x()).arg(m_overlay.cell.y()).arg(region.inInput.width()).arg(region.inInput.height()));
        else if (m_overlay.cell.x() >= 0)
            caption.append(tr("cell (%1, %2): its share of the input in proportion to the grid").arg(m_overlay.cell.x()).arg(m_overlay.cell.y()));
    }
    m_caption->setText(caption.join(QStringLiteral(" · ")));
    m_canvas->update();
}

QImage InputPanel::overlayColours() const
{
    if (m_source == Overlay::FeatureMap)
        return m_overlay.colours;
    const CamMap& cam = m_document->cam();
    if (cam.isEmpty())
        return {};
    // CAMs are drawn as they usually are: jet, from zero to the map's largest value.
    const double top = *std::max_element(cam.values.cbegin(), cam.values.cend());
    return colourised(cam.values.constData(), cam.width, cam.height, QCPRange(0, top > 0 ? top : 1),
                      QCPColorGradient(QCPColorGradient::gpJet));
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
    if (m_source != Overlay::FeatureMap || m_overlay.colours.isNull() || cell.x() < 0)
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
    const QImage colours = overlayColours();
    if (!colours.isNull()) {
        // Cells to input pixels: nearest keeps one block per cell; smooth interpolates between cell centres.
        const QImage scaled = colours.scaled(input.size().toSize().expandedTo(QSize(1, 1)), Qt::IgnoreAspectRatio,
                                             m_smooth->isChecked() ? Qt::SmoothTransformation : Qt::FastTransformation);
        painter.setOpacity(m_opacity->value() / 100.0);
        painter.drawImage(input.topLeft(), scaled);
        painter.setOpacity(1.0);
    }
    if (m_showOriginal) {
        painter.setPen(QPen(QColor(0x21, 0x96, 0xf3), 2, Qt::DashLine));
        painter.drawRect(input);
    }
    const QRectF region = receptiveRect(size);
    if (!region.isEmpty()) {
        painter.setPen(QPen(Qt::white, 3, Qt::DashLine));
        painter.drawRect(region);
        painter.setPen(QPen(QColor(0x21, 0x96, 0xf3), 1.5, Qt::DashLine));
        painter.drawRect(region);
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

bool InputPanel::exportCam(const QString& path, QString* error) const
{
    const CamMap& cam = m_document->cam();
    if (cam.isEmpty()) {
        *error = tr("There is no class activation map to save; press Explain first.");
        return false;
    }
    if (path.endsWith(QLatin1String(".npy"), Qt::CaseInsensitive)) {
        if (!writeNpy(path, {cam.height, cam.width}, cam.values.constData(), cam.values.size(), error)) {
            *error = tr("Cannot write %1: %2").arg(path, *error);
            return false;
        }
        return true;
    }
    if (!path.endsWith(QLatin1String(".png"), Qt::CaseInsensitive)) {
        *error = tr("Save the map as .npy (its values) or .png (the overlay), not as %1.").arg(QFileInfo(path).fileName());
        return false;
    }
    // The overlay on the model input, at the input's size, whatever is shown now.
    QImage input = m_input;
    if (m_source != Overlay::Cam || shownInputs().image != cam.inputs.image || input.isNull()) {
        *error = tr("Show the CAM over its image first (Show: CAM).");
        return false;
    }
    QImage picture = input.convertToFormat(QImage::Format_RGB32);
    {
        QPainter painter(&picture);
        painter.setOpacity(m_opacity->value() / 100.0);
        painter.drawImage(picture.rect(), overlayColours().scaled(picture.size(), Qt::IgnoreAspectRatio,
                                                                  m_smooth->isChecked() ? Qt::SmoothTransformation : Qt::FastTransformation));
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || !picture.save(&file, "PNG") || !file.commit()) {
        *error = tr("Cannot write %1: %2").arg(path, file.errorString());
        return false;
    }
    return true;
}

} // namespace featscope::ui
