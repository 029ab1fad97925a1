#include "ResultsPanel.h"

#include "Heatmap.h"
#include "ModelDocument.h"

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QPushButton>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QRegularExpression>
#include <QHeaderView>
#include <QSaveFile>
#include <QSignalBlocker>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>

namespace featscope::ui {

ResultsPanel::ResultsPanel(QWidget* parent)
    : QWidget(parent), m_gradient(new QComboBox), m_normalisation(new QComboBox), m_summary(new QLabel),
      m_staleBanner(new QLabel), m_tabs(new QTabWidget), m_pin(new QPushButton(tr("Pin as Reference"))),
      m_unpin(new QPushButton(tr("Unpin")))
{
    for (const auto& g : colourMaps())
        m_gradient->addItem(g.first);
    m_gradient->setObjectName(QStringLiteral("colourMap"));
    m_normalisation->addItem(tr("Per channel"), int(Normalisation::PerChannel));
    m_normalisation->addItem(tr("Per node"), int(Normalisation::PerNode));
    m_normalisation->addItem(tr("Global (all maps)"), int(Normalisation::Global));
    m_normalisation->setObjectName(QStringLiteral("normalisation"));
    m_normalisation->setToolTip(tr("Colour range: each map's own min/max, the output's, or that of all outputs "
                                   "with spatial maps (vectors such as logits are left out)"));
    m_summary->setWordWrap(true);
    m_tabs->setObjectName(QStringLiteral("resultTabs"));
    m_tabs->setDocumentMode(true);

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Colour map:")));
    controls->addWidget(m_gradient);
    controls->addSpacing(12);
    controls->addWidget(new QLabel(tr("Normalise:")));
    controls->addWidget(m_normalisation);
    controls->addSpacing(12);
    controls->addWidget(m_summary, 1);
    m_pin->setObjectName(QStringLiteral("pinReference"));
    m_pin->setToolTip(tr("Keep these outputs to compare the next runs with (e.g. on another image): each map then "
                         "shows this run, the reference or their difference on one colour scale"));
    m_unpin->setObjectName(QStringLiteral("unpinReference"));
    m_unpin->setEnabled(false);
    controls->addWidget(m_pin);
    controls->addWidget(m_unpin);
    connect(m_pin, &QPushButton::clicked, this, [this] { pinReference(QFileInfo(m_shownImage).fileName()); });
    connect(m_unpin, &QPushButton::clicked, this, &ResultsPanel::clearReference);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(controls);
    m_staleBanner->setObjectName(QStringLiteral("staleBanner"));
    m_staleBanner->setWordWrap(true);
    m_staleBanner->setStyleSheet(QStringLiteral("background: #fff3cd; color: #6d4c00; border: 1px solid #e0b040; "
                                                "padding: 4px; font-weight: bold;"));
    m_staleBanner->hide();
    layout->addWidget(m_staleBanner);
    layout->addWidget(m_tabs, 1);

    connect(m_tabs, &QTabWidget::currentChanged, this, &ResultsPanel::overlayChanged);
    connect(m_gradient, &QComboBox::currentIndexChanged, this, &ResultsPanel::applyDisplay);
    connect(m_normalisation, &QComboBox::currentIndexChanged, this, &ResultsPanel::applyDisplay);
    clear();
}

void ResultsPanel::clear(const QString& message)
{
    {
        // Removing a tab makes the next one current: the outputs being removed must not be announced as shown
        // (the input view and the top-images panel would take their node for the next model's).
        const QSignalBlocker quiet(m_tabs);
        while (m_tabs->count() > 0) {
            QWidget* w = m_tabs->widget(0);
            m_tabs->removeTab(0);
            delete w;
        }
    }
    m_texts = nullptr;
    Q_EMIT overlayChanged();
    showMessage(message.isEmpty() ? tr("No results yet: tick return nodes, choose an image and press Run (Ctrl+R).")
                                  : message,
                false);
    setOutOfDate({});
}

void ResultsPanel::setOutOfDate(const QString& reason)
{
    m_outOfDate = m_tabs->count() > 0 ? reason : QString();
    m_staleBanner->setText(tr("Out of date: %1 These maps are from the earlier run; press Run (Ctrl+R) to update them.")
                               .arg(m_outOfDate));
    m_staleBanner->setVisible(!m_outOfDate.isEmpty());
    // Dimmed tabs say the same at a glance.
    m_tabs->setStyleSheet(m_outOfDate.isEmpty() ? QString() : QStringLiteral("QTabBar::tab { color: #9e9e9e; }"));
}

void ResultsPanel::showMessage(const QString& message, bool error)
{
    m_summary->setText(message);
    m_summary->setStyleSheet(error ? QStringLiteral("color: #c62828; font-weight: bold;") : QString());
}

bool ResultsPanel::showResults(const ModelDocument& document)
{
    MapContext context;
    const QVector<qint64>& input = document.inputShape();
    if (input.size() == 4)
        context.input = featscope::InputSize{input[2], input[3]};
    context.classes = document.model().classes;
    m_shownImage = document.resultsInputs().image;
    return setResults(document.outputs(), document.textOutputs(), document.resultsSummary(), context, document.layouts());
}

bool ResultsPanel::setResults(const QVector<RunOutput>& outputs, const QVector<RunText>& texts, const QString& summary,
                              const MapContext& context, const QHash<QString, QString>& layouts)
{
    // A new run keeps what the user was looking at: the output's tab, and per output the page and the
    // channel (or the mean) shown large.
    const QString currentKey = currentView() ? currentView()->output().key : QString();
    QHash<QString, QPair<int, int>> shown; // key -> (page, large channel)
    for (int i = 0; i < m_tabs->count(); ++i)
        if (FeatureMapView* v = view(i))
            shown.insert(v->output().key, {v->page(), v->largeChannel()});
    clear();
    QStringList problems;
    // The global colour range spans the spatial maps ([N, C, H, W...]); a vector such as the logits has another
    // scale and would wash every map out. Only when there are no maps does it span everything.
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    float loAll = lo, hiAll = hi;
    QVector<FeatureMapView*> views;
    QStringList predictions;
    for (const RunOutput& output : outputs) {
        QString error;
        FeatureTensor tensor = FeatureTensor::fromOutput(output, &error);
        if (tensor.isEmpty()) {
            problems.append(error);
            continue;
        }
        const auto r = tensor.range();
        loAll = std::min(loAll, r.first);
        hiAll = std::max(hiAll, r.second);
        if (tensor.shape().size() >= 4) {
            lo = std::min(lo, r.first);
            hi = std::max(hi, r.second);
        }
        MapContext viewContext = context;
        viewContext.layout = layouts.value(output.node);
        auto* view = new FeatureMapView(output, std::move(tensor), viewContext);
        connect(view, &FeatureMapView::layoutChosen, this, &ResultsPanel::layoutChosen);
        if (m_reference.contains(output.key))
            view->setReference(m_reference.value(output.key), m_referenceLabel);
        connect(view, &FeatureMapView::overlayChanged, this, [this, view] {
            if (view == currentView())
                Q_EMIT overlayChanged();
        });
        // A classifier's answer belongs in the run's summary: its classes are the output's entries.
        if (!context.classes.isEmpty() && output.shape.size() == 2 && output.shape.last() == context.classes.size())
            predictions.append(tr("%1 predicts %2").arg(output.key, view->prediction()));
        views.append(view);
        m_tabs->addTab(view, QStringLiteral("%1  [%2]").arg(output.key, output.shapeText()));
        if (shown.contains(output.key)) {
            view->setPage(shown.value(output.key).first);
            view->setLargeChannel(shown.value(output.key).second);
        }
        if (output.key == currentKey)
            m_tabs->setCurrentWidget(view);
    }
    if (!texts.isEmpty()) {
        m_texts = new QTableWidget(int(texts.size()), 4);
        m_texts->setObjectName(QStringLiteral("textOutputs"));
        m_texts->setHorizontalHeaderLabels({tr("Output"), tr("Node"), tr("Type"), tr("Value")});
        m_texts->setEditTriggers(QAbstractItemView::NoEditTriggers);
        m_texts->verticalHeader()->hide();
        m_texts->horizontalHeader()->setStretchLastSection(true);
        for (int row = 0; row < texts.size(); ++row) {
            const RunText& text = texts[row];
            const QStringList cells{text.key, text.node, text.type, text.text};
            for (int column = 0; column < cells.size(); ++column) {
                auto* item = new QTableWidgetItem(cells[column]);
                item->setToolTip(cells[column]);
                m_texts->setItem(row, column, item);
            }
        }
        m_texts->resizeColumnsToContents();
        m_tabs->addTab(m_texts, tr("Values (%1)").arg(texts.size()));
        if (outputs.isEmpty())
            m_tabs->setCurrentWidget(m_texts);
    }
    m_globalRange = std::isfinite(lo) ? qMakePair(lo, hi) : qMakePair(loAll, hiAll);
    applyDisplay();
    QString text = summary;
    if (!predictions.isEmpty())
        text += QStringLiteral(" · ") + predictions.join(QStringLiteral(" · "));
    showMessage(problems.isEmpty() ? text : text + QLatin1Char(' ') + problems.join(QLatin1Char(' ')), !problems.isEmpty());
    return problems.isEmpty();
}

int ResultsPanel::outputCount() const { return m_tabs->count() - (m_texts ? 1 : 0); }

FeatureMapView* ResultsPanel::view(int index) const { return qobject_cast<FeatureMapView*>(m_tabs->widget(index)); }

FeatureMapView* ResultsPanel::currentView() const { return qobject_cast<FeatureMapView*>(m_tabs->currentWidget()); }

MapOverlay ResultsPanel::currentOverlay() const
{
    const FeatureMapView* view = currentView();
    return view ? view->overlay() : MapOverlay{};
}

void ResultsPanel::applyDisplay()
{
    const auto preset = colourMaps().value(m_gradient->currentIndex()).second;
    const auto norm = Normalisation(m_normalisation->currentData().toInt());
    for (int i = 0; i < m_tabs->count(); ++i)
        if (FeatureMapView* v = view(i)) {
            v->setGradient(preset);
            v->setNormalisation(norm, m_globalRange);
        }
    Q_EMIT displayChanged();
}

void ResultsPanel::setNormalisation(Normalisation normalisation)
{
    m_normalisation->setCurrentIndex(m_normalisation->findData(int(normalisation)));
}

Normalisation ResultsPanel::normalisation() const { return Normalisation(m_normalisation->currentData().toInt()); }

void ResultsPanel::setGradientName(const QString& name)
{
    const int index = m_gradient->findText(name);
    if (index >= 0)
        m_gradient->setCurrentIndex(index);
}

QString ResultsPanel::gradientName() const { return m_gradient->currentText(); }

bool ResultsPanel::exportPng(const QString& path, QString* error) const
{
    FeatureMapView* v = currentView();
    if (!v) {
        *error = tr("There are no maps to save; run the model first.");
        return false;
    }
    // The saved image says what it shows: output key, node, shape, and the run it came from.
    const QImage maps = v->renderImage();
    QFont titleFont = font();
    titleFont.setBold(true);
    const QFontMetrics fm(titleFont);
    const int titleHeight = 2 * fm.height() + 12;
    QImage image(std::max(maps.width(), 400), maps.height() + titleHeight, QImage::Format_RGB32);
    image.fill(Qt::white);
    {
        QPainter painter(&image);
        painter.setFont(titleFont);
        painter.setPen(Qt::black);
        painter.drawText(QRect(6, 4, image.width() - 12, fm.height()), Qt::AlignLeft | Qt::AlignVCenter,
                         QStringLiteral("%1 = %2  [%3]").arg(v->output().key, v->output().node, v->output().shapeText()));
        painter.setFont(font());
        painter.setPen(QColor(0x40, 0x40, 0x40));
        painter.drawText(QRect(6, 6 + fm.height(), image.width() - 12, fm.height()), Qt::AlignLeft | Qt::AlignVCenter,
                         m_summary->text());
        painter.drawImage(0, titleHeight, maps);
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || !image.save(&file, "PNG") || !file.commit()) {
        *error = tr("Cannot write %1: %2").arg(path, file.errorString());
        return false;
    }
    return true;
}

void ResultsPanel::pinReference(const QString& label)
{
    m_reference.clear();
    for (int i = 0; i < m_tabs->count(); ++i)
        if (FeatureMapView* v = view(i))
            m_reference.insert(v->output().key, v->tensor());
    m_referenceLabel = label;
    for (int i = 0; i < m_tabs->count(); ++i)
        if (FeatureMapView* v = view(i))
            v->setReference(m_reference.value(v->output().key), label);
    m_unpin->setEnabled(!m_reference.isEmpty());
    m_unpin->setToolTip(tr("Stop comparing with %1").arg(label));
}

void ResultsPanel::clearReference()
{
    m_reference.clear();
    for (int i = 0; i < m_tabs->count(); ++i)
        if (FeatureMapView* v = view(i))
            v->setReference({}, {});
    m_unpin->setEnabled(false);
}

QStringList ResultsPanel::exportNpy(const QString& directory, QString* error) const
{
    QStringList written;
    static const QRegularExpression unsafe(QStringLiteral("[^A-Za-z0-9_.-]"));
    for (int i = 0; i < outputCount(); ++i) {
        FeatureMapView* v = view(i);
        QString name = v->output().key;
        name.replace(unsafe, QStringLiteral("_"));
        const QString path = QDir(directory).filePath(name + QStringLiteral(".npy"));
        const FeatureTensor& t = v->tensor();
        if (!writeNpy(path, t.shape(), t.data().constData(), t.data().size(), error)) {
            *error = tr("Cannot write %1: %2").arg(path, *error);
            return written;
        }
        written.append(path);
    }
    if (written.isEmpty())
        *error = tr("There are no tensors to save; run the model first.");
    return written;
}

} // namespace featscope::ui
