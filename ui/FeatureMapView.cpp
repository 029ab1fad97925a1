#include "FeatureMapView.h"

#include "Heatmap.h"

#include <algorithm>

#include "WheelGuard.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QScrollArea>
#include <QSpinBox>
#include <QVBoxLayout>

#include <cmath>
#include <numeric>

namespace featscope::ui {

namespace {

QCPRange safeRange(float lo, float hi)
{
    if (!std::isfinite(lo) || !std::isfinite(hi))
        return QCPRange(0, 1);
    if (hi - lo < 1e-12)
        return QCPRange(lo - 0.5, hi + 0.5);
    return QCPRange(lo, hi);
}

void fill(QCPColorMap* map, const float* values, int width, int height)
{
    auto* data = map->data();
    data->setSize(width, height);
    data->setRange(QCPRange(0, std::max(1, width - 1)), QCPRange(0, std::max(1, height - 1)));
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            data->setCell(x, y, values[qsizetype(y) * width + x]);
}

void hideAxes(QCPAxisRect* rect)
{
    for (QCPAxis* axis : rect->axes()) {
        axis->setVisible(false);
        axis->grid()->setVisible(false);
    }
    rect->axis(QCPAxis::atLeft)->setRangeReversed(true); // row 0 at the top, like the image
}

/// sum_i exp(values[i] - largest): the softmax's denominator taken from the largest value, so it cannot
/// overflow; entry i's share (as a classifier's logits would give) is exp(values[i] - largest) / it.
double softmaxDenominator(const float* values, int count, float largest)
{
    double sum = 0;
    for (int i = 0; i < count; ++i)
        sum += std::exp(double(values[i]) - largest);
    return sum;
}

/// "tokens 14×14 + class token", "NCHW 512×28×28", "vector of 1000".
QString describeLayout(const featscope::TensorLayout& layout)
{
    using featscope::TensorLayoutKind;
    switch (layout.kind) {
    case TensorLayoutKind::Nchw:
        return QObject::tr("NCHW %1×%2").arg(layout.height).arg(layout.width);
    case TensorLayoutKind::Nhwc:
        return QObject::tr("NHWC %1×%2").arg(layout.height).arg(layout.width);
    case TensorLayoutKind::Tokens:
        return layout.classToken ? QObject::tr("tokens %1×%2 + class token").arg(layout.height).arg(layout.width)
                                 : QObject::tr("tokens %1×%2").arg(layout.height).arg(layout.width);
    case TensorLayoutKind::Vector:
        return QObject::tr("vector");
    case TensorLayoutKind::Unknown:
        break;
    }
    return QObject::tr("no grid");
}

} // namespace

FeatureMapView::FeatureMapView(const RunOutput& output, FeatureTensor tensor, MapContext context, QWidget* parent)
    : QWidget(parent), m_output(output), m_values(std::move(tensor)), m_context(std::move(context)), m_layout(new QComboBox),
      m_gridLabel(new QLabel), m_orderBox(new QComboBox), m_topList(new QLabel), m_vectorPlot(new QCustomPlot), m_grid(new QCustomPlot),
      m_large(new QCustomPlot), m_gridArea(new QScrollArea), m_page(new QSpinBox), m_channel(new QSpinBox),
      m_mean(new QCheckBox(tr("Mean of channels"))), m_info(new QLabel), m_largeTitle(new QLabel),
      m_gradient(QCPColorGradient::gpThermal)
{
    m_grid->setObjectName(QStringLiteral("channelGrid"));
    m_page->setObjectName(QStringLiteral("page"));
    m_channel->setObjectName(QStringLiteral("channel"));
    m_large->setObjectName(QStringLiteral("largeMap"));
    m_layout->setObjectName(QStringLiteral("layout"));
    m_vectorPlot->setObjectName(QStringLiteral("vectorPlot"));
    m_topList->setObjectName(QStringLiteral("topEntries"));
    m_topList->setTextFormat(Qt::RichText);
    m_topList->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    m_topList->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_info->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_page->setPrefix(tr("page "));
    m_channel->setPrefix(tr("channel "));
    m_channel->setToolTip(tr("Channel shown large (or click a map in the grid)"));
    m_layout->setToolTip(tr("Which dimensions are channels and which the spatial grid; remembered for this node"));

    m_gridArea->setWidget(m_grid);
    m_gridArea->setWidgetResizable(false);
    m_gridArea->setFrameShape(QFrame::NoFrame);
    m_gridArea->setAlignment(Qt::AlignLeft | Qt::AlignTop);

    m_compareBox = new QComboBox;
    m_compareBox->setObjectName(QStringLiteral("comparison"));
    m_compareBox->setVisible(false);
    connect(m_compareBox, &QComboBox::currentIndexChanged, this,
            [this] { setComparison(Comparison(m_compareBox->currentData().toInt())); });
    m_orderBox->setObjectName(QStringLiteral("channelOrder"));
    m_orderBox->addItem(tr("channel order"), int(ChannelOrder::Index));
    m_orderBox->addItem(tr("by mean activation"), int(ChannelOrder::Mean));
    m_orderBox->addItem(tr("by area firing"), int(ChannelOrder::Firing));
    m_orderBox->setToolTip(tr("Order of the tiles: channel index, or the strongest channels first (mean value, "
                              "or share of positions above zero)"));
    connect(m_orderBox, &QComboBox::currentIndexChanged, this,
            [this] { setChannelOrder(ChannelOrder(m_orderBox->currentData().toInt())); });
    auto* gridHeader = new QHBoxLayout;
    gridHeader->addWidget(m_gridLabel);
    gridHeader->addStretch();
    gridHeader->addWidget(m_orderBox);
    gridHeader->addWidget(m_page);
    auto* gridColumn = new QVBoxLayout;
    gridColumn->addLayout(gridHeader);
    gridColumn->addWidget(m_gridArea, 1);
    gridColumn->addWidget(m_topList, 1);

    auto* largeHeader = new QHBoxLayout;
    largeHeader->addWidget(m_largeTitle);
    largeHeader->addStretch();
    largeHeader->addWidget(m_compareBox);
    largeHeader->addWidget(m_channel);
    largeHeader->addWidget(m_mean);
    auto* largeColumn = new QVBoxLayout;
    largeColumn->addLayout(largeHeader);
    largeColumn->addWidget(m_large, 1);
    largeColumn->addWidget(m_vectorPlot, 1);

    auto* columns = new QHBoxLayout;
    columns->addLayout(gridColumn, 3);
    columns->addLayout(largeColumn, 2);
    auto* infoRow = new QHBoxLayout;
    infoRow->addWidget(m_info, 1);
    infoRow->addWidget(new QLabel(tr("Layout:")));
    infoRow->addWidget(m_layout);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(infoRow);
    layout->addLayout(columns, 1);

    // Large view: one colour map with its scale.
    QCPAxisRect* largeRect = m_large->axisRect();
    largeRect->axis(QCPAxis::atLeft)->setRangeReversed(true);
    m_largeMap = new QCPColorMap(largeRect->axis(QCPAxis::atBottom), largeRect->axis(QCPAxis::atLeft));
    m_largeMap->setInterpolate(false);
    m_largeMap->setTightBoundary(false);
    m_scale = new QCPColorScale(m_large);
    m_large->plotLayout()->addElement(0, 1, m_scale);
    m_scale->setBarWidth(12);
    m_largeMap->setColorScale(m_scale);
    // Cells are whole rows and columns: ticks on integers only.
    for (QCPAxis* axis : {largeRect->axis(QCPAxis::atBottom), largeRect->axis(QCPAxis::atLeft)}) {
        QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
        ticker->setTickStep(1.0);
        ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        axis->setTicker(ticker);
    }
    auto* group = new QCPMarginGroup(m_large);
    largeRect->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);

    connect(m_page, qOverload<int>(&QSpinBox::valueChanged), this, [this] { buildGrid(); });
    connect(m_channel, qOverload<int>(&QSpinBox::valueChanged), this, [this](int c) {
        if (!m_mean->isChecked())
            setLargeChannel(c);
    });
    connect(m_mean, &QCheckBox::toggled, this, [this](bool mean) { setLargeChannel(mean ? -1 : m_channel->value()); });
    connect(m_grid, &QCustomPlot::mousePress, this, [this](QMouseEvent* event) {
        if (QCPAxisRect* rect = m_grid->axisRectAt(event->position()))
            if (m_cellChannel.contains(rect)) {
                m_mean->setChecked(false);
                m_channel->setValue(m_cellChannel.value(rect));
                setLargeChannel(m_cellChannel.value(rect));
            }
    });

    connect(m_large, &QCustomPlot::mousePress, this, [this](QMouseEvent* event) {
        const int x = int(std::floor(m_large->xAxis->pixelToCoord(event->position().x()) + 0.5));
        const int y = int(std::floor(m_large->yAxis->pixelToCoord(event->position().y()) + 0.5));
        if (x >= 0 && x < m_tensor.width() && y >= 0 && y < m_tensor.height())
            setSelectedCell(QPoint(x, y));
    });

    // Square cells in the large view, with axes that span the map only: after each layout, the axis rect's
    // spare width or height becomes extra margin. The extra is computed from the room the layout gave
    // (margins without our extra), so applying it does not change it again on the next layout.
    connect(m_large, &QCustomPlot::afterLayout, this, [this] {
        QCPAxisRect* rect = m_large->axisRect();
        const QMargins base = rect->margins() - m_largeExtraMargins;
        const QRect outer = rect->outerRect();
        const int roomW = outer.width() - base.left() - base.right();
        const int roomH = outer.height() - base.top() - base.bottom();
        if (roomW <= 0 || roomH <= 0 || m_tensor.width() <= 0 || m_tensor.height() <= 0)
            return;
        const double cell = std::min(roomW / double(m_tensor.width()), roomH / double(m_tensor.height()));
        const int spareW = roomW - int(cell * m_tensor.width());
        const int spareH = roomH - int(cell * m_tensor.height());
        const QMargins extra(spareW / 2, spareH / 2, spareW - spareW / 2, spareH - spareH / 2);
        if (extra == m_largeExtraMargins)
            return;
        m_largeExtraMargins = extra;
        rect->setMinimumMargins(base + extra);
        m_large->replot(QCustomPlot::rpQueuedReplot);
    });

    std::vector<std::int64_t> shape(m_values.shape().cbegin(), m_values.shape().cend());
    const featscope::TensorLayout detected = featscope::detectTensorLayout(shape, m_context.input);
    m_layout->addItem(tr("auto: %1").arg(describeLayout(detected)), QString());
    m_layout->addItem(tr("NCHW"), QStringLiteral("nchw"));
    m_layout->addItem(tr("NHWC"), QStringLiteral("nhwc"));
    m_layout->addItem(tr("tokens"), QStringLiteral("tokens"));
    m_layout->setEnabled(m_values.shape().size() >= 3);
    connect(m_layout, &QComboBox::activated, this, [this] {
        const QString choice = m_layout->currentData().toString();
        if (setLayout(choice))
            Q_EMIT layoutChosen(m_output.node, choice);
    });
    if (m_context.layout.isEmpty() || !setLayout(m_context.layout))
        setLayout({});
    takeWheelOnlyWhenFocused(this);
}

bool FeatureMapView::setLayout(const QString& choice)
{
    std::vector<std::int64_t> shape(m_values.shape().cbegin(), m_values.shape().cend());
    featscope::TensorLayout layout;
    if (choice.isEmpty()) {
        layout = featscope::detectTensorLayout(shape, m_context.input);
    } else {
        const auto kind = featscope::parseSpatialLayout(choice.toStdString());
        std::string error;
        layout = kind ? featscope::applyTensorLayout(shape, *kind, m_context.input, &error) : featscope::TensorLayout{};
        if (!layout.isSpatial()) {
            m_layoutProblem = tr("Cannot read %1 as %2: %3").arg(m_output.shapeText(), choice, QString::fromStdString(error));
            {
                const QSignalBlocker block(m_layout);
                m_layout->setCurrentIndex(m_layout->findData(layoutChoice()));
            }
            showArrangement();
            return false;
        }
    }
    m_layoutProblem.clear();
    {
        const QSignalBlocker block(m_layout);
        m_layout->setCurrentIndex(m_layout->findData(choice));
    }
    m_tensor = m_values.arranged(layout);
    if (hasReference())
        m_referenceMaps = m_referenceValues.arranged(layout);
    showArrangement();
    return true;
}

QString FeatureMapView::layoutChoice() const { return m_layout->currentData().toString(); }

void FeatureMapView::showArrangement()
{
    QString info = tr("<b>%1</b> = %2 &nbsp; shape %3 &nbsp; min %4 &nbsp; max %5 &nbsp; mean %6 &nbsp; std %7")
                       .arg(m_output.key.toHtmlEscaped(), m_output.node.toHtmlEscaped(), m_output.shapeText())
                       .arg(m_output.min, 0, 'g', 4).arg(m_output.max, 0, 'g', 4)
                       .arg(m_output.mean, 0, 'g', 4).arg(m_output.std, 0, 'g', 4);
    if (!m_layoutProblem.isEmpty())
        info += QStringLiteral(" &nbsp; <span style='color:#c62828'>%1</span>").arg(m_layoutProblem.toHtmlEscaped());
    m_info->setText(info);

    const bool vector = isVector();
    for (QWidget* w : std::initializer_list<QWidget*>{m_gridArea, m_page, m_large, m_channel, m_mean, m_orderBox})
        w->setVisible(!vector);
    m_topList->setVisible(vector);
    m_vectorPlot->setVisible(vector);
    if (vector) {
        showVector();
        return;
    }
    const int pages = (m_tensor.channels() + kPageSize - 1) / kPageSize;
    {
        const QSignalBlocker block(m_page);
        m_page->setRange(1, std::max(1, pages));
        m_page->setSuffix(tr(" of %1").arg(std::max(1, pages)));
    }
    m_page->setVisible(pages > 1);
    {
        const QSignalBlocker block(m_channel);
        m_channel->setRange(0, std::max(0, m_tensor.channels() - 1));
    }
    QString label = m_tensor.channels() > 1 ? tr("%n channel(s) of %1×%2 — click one to enlarge", nullptr, m_tensor.channels())
                                                  .arg(m_tensor.height()).arg(m_tensor.width())
                                            : tr("1 map");
    if (!m_tensor.classToken().isEmpty())
        label += tr(" · class token set apart");
    m_gridLabel->setText(label);
    setChannelOrder(m_channelOrder); // ranks this arrangement's channels and builds the grid
    setLargeChannel(std::min(m_largeChannel, m_tensor.channels() - 1));
}

QString FeatureMapView::entryName(int index) const
{
    return index < m_context.classes.size() ? m_context.classes.at(index) : tr("index %1").arg(index);
}

void FeatureMapView::showVector()
{
    const int count = int(m_values.shape().last());
    const float* values = m_values.data().constData(); // batch item 0
    QVector<int> order(count);
    std::iota(order.begin(), order.end(), 0);
    const int top = std::min(kTopEntries, count);
    std::partial_sort(order.begin(), order.begin() + top, order.end(), [values](int a, int b) { return values[a] > values[b]; });
    const double sum = softmaxDenominator(values, count, values[order[0]]);
    QStringList rows;
    for (int rank = 0; rank < top; ++rank) {
        const int index = order[rank];
        rows.append(tr("<tr><td>%1.</td><td><b>%2</b></td><td align='right'>&nbsp;%3</td><td align='right'>&nbsp;%4%</td></tr>")
                        .arg(rank + 1)
                        .arg(entryName(index).toHtmlEscaped())
                        .arg(values[index], 0, 'g', 4)
                        .arg(100.0 * std::exp(double(values[index]) - values[order[0]]) / sum, 0, 'f', 1));
    }
    m_gridLabel->setText(tr("%n entries; the largest, with their softmax share", nullptr, count));
    m_topList->setText(QStringLiteral("<table>%1</table>").arg(rows.join(QString())));

    m_vectorPlot->clearPlottables();
    auto* all = new QCPBars(m_vectorPlot->xAxis, m_vectorPlot->yAxis);
    auto* best = new QCPBars(m_vectorPlot->xAxis, m_vectorPlot->yAxis);
    all->setPen(Qt::NoPen);
    all->setBrush(QColor(0x90, 0xa4, 0xae));
    best->setPen(Qt::NoPen);
    best->setBrush(QColor(0xe6, 0x51, 0x00));
    QVector<double> keys(count), heights(count);
    for (int i = 0; i < count; ++i) {
        keys[i] = i;
        heights[i] = values[i];
    }
    all->setData(keys, heights, true);
    for (int rank = 0; rank < top; ++rank)
        best->addData(order[rank], values[order[rank]]);
    all->setWidth(1.0);
    best->setWidth(std::max(1.0, count / 200.0)); // still visible among a thousand classes
    m_largeTitle->setText(m_context.classes.isEmpty() ? tr("Value per index") : tr("Value per class"));
    m_vectorPlot->xAxis->setLabel(m_context.classes.isEmpty() ? tr("index") : tr("class"));
    // A few classes are named on the axis; a thousand would be unreadable (the list names the top ones).
    if (!m_context.classes.isEmpty() && count <= 20) {
        QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
        for (int i = 0; i < count; ++i)
            ticker->addTick(i, entryName(i));
        m_vectorPlot->xAxis->setTicker(ticker);
        m_vectorPlot->xAxis->setTickLabelRotation(-30);
    }
    m_vectorPlot->yAxis->setLabel(tr("value"));
    m_vectorPlot->xAxis->setRange(-0.5, count - 0.5);
    all->rescaleValueAxis(true);
    m_vectorPlot->replot(QCustomPlot::rpQueuedReplot);
}

bool FeatureMapView::isVector() const { return m_values.shape().size() == 2 && m_values.shape().last() > 1; }

QString FeatureMapView::prediction() const
{
    if (!isVector())
        return {};
    const float* values = m_values.data().constData();
    const int count = int(m_values.shape().last());
    const int best = int(std::max_element(values, values + count) - values);
    return tr("%1 (%2%)").arg(entryName(best)).arg(100.0 / softmaxDenominator(values, count, values[best]), 0, 'f', 1);
}

void FeatureMapView::buildGrid()
{
    m_grid->plotLayout()->clear();
    m_grid->clearPlottables();
    m_grid->clearItems();
    m_cellChannel.clear();
    m_cells.clear();
    const int first = (m_page->value() - 1) * kPageSize;
    const int count = std::min(kPageSize, m_tensor.channels() - first);
    chooseColumns();
    for (int i = 0; i < count; ++i) {
        auto* rect = new QCPAxisRect(m_grid, true);
        m_grid->plotLayout()->addElement(i / m_columns, i % m_columns, rect);
        rect->setAutoMargins(QCP::msNone);
        rect->setMargins(QMargins(1, 1, 1, 1));
        hideAxes(rect);
        auto* map = new QCPColorMap(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
        map->setInterpolate(false);
        map->setTightBoundary(false);
        const int channel = m_order.value(first + i, first + i);
        fill(map, m_tensor.plane(channel), m_tensor.width(), m_tensor.height());
        map->rescaleAxes();
        map->setGradient(m_gradient);
        rect->axis(QCPAxis::atBottom)->setRange(-0.5, m_tensor.width() - 0.5);
        rect->axis(QCPAxis::atLeft)->setRange(-0.5, m_tensor.height() - 0.5);
        if (m_tensor.channels() > 1) {
            auto* label = new QCPItemText(m_grid);
            label->setClipToAxisRect(false);
            label->position->setType(QCPItemPosition::ptAxisRectRatio);
            label->position->setAxisRect(rect);
            label->position->setAxes(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
            label->position->setCoords(0.02, 0.02);
            label->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
            label->setText(QString::number(channel));
            label->setFont(QFont(font().family(), 7));
            label->setColor(Qt::white);
            label->setBrush(QColor(0, 0, 0, 120));
        }
        m_cellChannel.insert(rect, channel);
        m_cells.append(map);
    }
    updateRanges();
    fitGrid();
}

QCPRange FeatureMapView::rangeFor(int channel) const { return rangeIn(m_tensor, channel); }

QCPRange FeatureMapView::rangeIn(const FeatureTensor& maps, int channel) const
{
    switch (m_normalisation) {
    case Normalisation::PerChannel: {
        if (channel < 0) {
            const QVector<float> mean = maps.channelMean();
            const auto mm = std::minmax_element(mean.cbegin(), mean.cend());
            return mean.isEmpty() ? QCPRange(0, 1) : safeRange(*mm.first, *mm.second);
        }
        const auto r = maps.channelRange(channel);
        return safeRange(r.first, r.second);
    }
    case Normalisation::PerNode: {
        const auto r = maps.range();
        return safeRange(r.first, r.second);
    }
    case Normalisation::Global:
        return safeRange(m_globalRange.first, m_globalRange.second);
    }
    return QCPRange(0, 1);
}

QVector<float> FeatureMapView::largeValues() const
{
    auto valuesOf = [this](const FeatureTensor& maps) {
        if (m_largeChannel < 0)
            return maps.channelMean();
        const float* plane = maps.plane(m_largeChannel);
        return QVector<float>(plane, plane + qsizetype(maps.height()) * maps.width());
    };
    if (!hasReference() || m_comparison == Comparison::Run)
        return valuesOf(m_tensor);
    if (m_comparison == Comparison::Reference)
        return valuesOf(m_referenceMaps);
    QVector<float> difference = valuesOf(m_tensor);
    const QVector<float> reference = valuesOf(m_referenceMaps);
    for (qsizetype i = 0; i < difference.size(); ++i)
        difference[i] -= reference[i];
    return difference;
}

QCPRange FeatureMapView::largeRange() const
{
    if (!hasReference())
        return rangeFor(m_largeChannel);
    if (m_comparison == Comparison::Difference) {
        const QVector<float> difference = largeValues();
        float largest = 0;
        for (float v : difference)
            if (std::isfinite(v))
                largest = std::max(largest, std::abs(v));
        return largest > 0 ? QCPRange(-largest, largest) : QCPRange(-1, 1);
    }
    // One scale for both runs, so the same colour means the same value.
    QCPRange range = rangeIn(m_tensor, m_largeChannel);
    range.expand(rangeIn(m_referenceMaps, m_largeChannel));
    return range;
}

void FeatureMapView::setReference(const FeatureTensor& values, const QString& label)
{
    const bool fits = !values.isEmpty() && values.shape() == m_values.shape() && !isVector();
    m_referenceValues = fits ? values : FeatureTensor();
    m_referenceMaps = fits ? values.arranged(m_tensor.layout()) : FeatureTensor();
    m_referenceLabel = label;
    {
        const QSignalBlocker block(m_compareBox);
        m_compareBox->clear();
        m_compareBox->addItem(tr("this run"), int(Comparison::Run));
        m_compareBox->addItem(tr("reference: %1").arg(label), int(Comparison::Reference));
        m_compareBox->addItem(tr("difference (this − reference)"), int(Comparison::Difference));
        m_compareBox->setCurrentIndex(m_compareBox->findData(int(m_comparison)));
    }
    m_compareBox->setVisible(fits);
    updateLarge();
}

void FeatureMapView::setComparison(Comparison comparison)
{
    m_comparison = comparison;
    {
        const QSignalBlocker block(m_compareBox);
        m_compareBox->setCurrentIndex(m_compareBox->findData(int(comparison)));
    }
    updateLarge();
}

void FeatureMapView::updateRanges()
{
    const int first = (m_page->value() - 1) * kPageSize;
    for (int i = 0; i < m_cells.size(); ++i) {
        m_cells[i]->setGradient(m_gradient);
        m_cells[i]->setDataRange(rangeFor(m_order.value(first + i, first + i)));
    }
    m_grid->replot(QCustomPlot::rpQueuedReplot);
}

void FeatureMapView::setChannelOrder(ChannelOrder order)
{
    m_channelOrder = order;
    {
        const QSignalBlocker block(m_orderBox);
        m_orderBox->setCurrentIndex(m_orderBox->findData(int(order)));
    }
    const int channels = m_tensor.channels();
    m_order.resize(channels);
    std::iota(m_order.begin(), m_order.end(), 0);
    if (order != ChannelOrder::Index && !isVector()) {
        // Rank by the mean over positions, or by the share of positions where the channel is above zero.
        const qsizetype plane = qsizetype(m_tensor.height()) * m_tensor.width();
        QVector<double> score(channels, 0.0);
        for (int c = 0; c < channels; ++c) {
            const float* values = m_tensor.plane(c);
            double total = 0;
            for (qsizetype i = 0; i < plane; ++i)
                total += order == ChannelOrder::Mean ? double(values[i]) : (values[i] > 0 ? 1.0 : 0.0);
            score[c] = plane > 0 ? total / plane : 0.0;
        }
        std::stable_sort(m_order.begin(), m_order.end(), [&score](int a, int b) { return score[a] > score[b]; });
    }
    if (m_page->value() != 1)
        m_page->setValue(1); // rebuilds
    else
        buildGrid();
}

void FeatureMapView::setLargeChannel(int channel)
{
    m_largeChannel = std::clamp(channel, -1, m_tensor.channels() - 1);
    {
        const QSignalBlocker blockMean(m_mean), blockChannel(m_channel);
        m_mean->setChecked(m_largeChannel < 0);
        if (m_largeChannel >= 0)
            m_channel->setValue(m_largeChannel);
    }
    updateLarge();
}

int FeatureMapView::page() const { return m_page->value(); }

void FeatureMapView::setPage(int page) { m_page->setValue(page); }

void FeatureMapView::updateLarge()
{
    if (isVector())
        return; // drawn as bars, not as a map
    const QVector<float> values = largeValues();
    fill(m_largeMap, values.constData(), m_tensor.width(), m_tensor.height());
    if (m_largeChannel < 0) {
        m_largeTitle->setText(tr("Mean over %n channel(s)", nullptr, m_tensor.channels()));
    } else {
        QString title = tr("Channel %1 of %2").arg(m_largeChannel).arg(m_tensor.channels());
        if (m_largeChannel < m_tensor.classToken().size())
            title += tr(" · class token %1").arg(m_tensor.classToken().at(m_largeChannel), 0, 'g', 4);
        m_largeTitle->setText(title);
    }
    const bool difference = hasReference() && m_comparison == Comparison::Difference;
    m_largeMap->setGradient(difference ? QCPColorGradient(QCPColorGradient::gpPolar) : m_gradient);
    m_largeMap->setDataRange(largeRange());
    m_large->xAxis->setRange(-0.5, m_tensor.width() - 0.5);
    m_large->yAxis->setRange(-0.5, m_tensor.height() - 0.5);
    m_scale->axis()->setLabel(difference                                   ? tr("this run − reference")
                              : hasReference()                              ? tr("value (both runs)")
                              : m_normalisation == Normalisation::PerChannel ? tr("value (this map)")
                              : m_normalisation == Normalisation::PerNode    ? tr("value (this output)")
                                                                             : tr("value (all outputs)"));
    m_large->replot(QCustomPlot::rpQueuedReplot);
    Q_EMIT overlayChanged();
}

MapOverlay FeatureMapView::overlay() const
{
    MapOverlay overlay;
    if (isVector() || m_tensor.isEmpty())
        return overlay;
    const int width = m_tensor.width(), height = m_tensor.height();
    const QVector<float> shown = largeValues();
    const QCPColorGradient gradient = hasReference() && m_comparison == Comparison::Difference ? QCPColorGradient(QCPColorGradient::gpPolar) : m_gradient;
    overlay.colours = colourised(shown.constData(), width, height, largeRange(), gradient);
    overlay.title = m_largeChannel < 0 ? tr("%1: mean of %n channel(s)", nullptr, m_tensor.channels()).arg(m_output.key)
                                       : tr("%1: channel %2 of %3").arg(m_output.key).arg(m_largeChannel).arg(m_tensor.channels());
    if (m_selectedCell.x() >= 0 && m_selectedCell.x() < width && m_selectedCell.y() >= 0 && m_selectedCell.y() < height)
        overlay.cell = m_selectedCell;
    overlay.node = m_output.node;
    overlay.path = m_output.path;
    overlay.channel = m_largeChannel;
    overlay.layout = layoutChoice();
    return overlay;
}

void FeatureMapView::setSelectedCell(QPoint cell)
{
    m_selectedCell = cell;
    Q_EMIT overlayChanged();
}

void FeatureMapView::setGradient(QCPColorGradient::GradientPreset preset)
{
    m_gradient = QCPColorGradient(preset);
    updateRanges();
    updateLarge();
}

void FeatureMapView::setNormalisation(Normalisation normalisation, QPair<float, float> globalRange)
{
    m_normalisation = normalisation;
    m_globalRange = globalRange;
    updateRanges();
    updateLarge();
}

void FeatureMapView::chooseColumns()
{
    // The column count that gives the largest cells in the space available.
    const int first = (m_page->value() - 1) * kPageSize;
    const int count = std::max(1, std::min(kPageSize, m_tensor.channels() - first));
    const QSize area = m_gridArea->viewport()->size();
    const double aspect = double(m_tensor.width()) / std::max(1, m_tensor.height());
    double best = -1;
    for (int columns = 1; columns <= count; ++columns) {
        const int rows = (count + columns - 1) / columns;
        const double cell = std::min(area.height() / double(rows), area.width() / double(columns) / aspect);
        if (cell > best + 1e-9) {
            best = cell;
            m_columns = columns;
            m_rows = rows;
        }
    }
}

void FeatureMapView::fitGrid()
{
    const QSize area = m_gridArea->viewport()->size();
    const double aspect = double(m_tensor.width()) / std::max(1, m_tensor.height());
    const double cellH = std::max(28.0, std::min(area.height() / double(m_rows),
                                                 area.width() / double(m_columns) / aspect));
    const double cellW = std::max(28.0, cellH * aspect);
    m_grid->setFixedSize(int(cellW * m_columns), int(cellH * m_rows));
    m_grid->replot(QCustomPlot::rpQueuedReplot);
}

void FeatureMapView::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    const int columns = m_columns;
    chooseColumns();
    if (columns != m_columns)
        buildGrid(); // re-flow the cells
    else
        fitGrid();
}

QImage FeatureMapView::renderImage() const
{
    const QPixmap grid = m_grid->toPixmap(m_grid->width(), m_grid->height());
    const QPixmap large = m_large->toPixmap(m_large->width(), m_large->height());
    QImage image(grid.width() + large.width() + 10, std::max(grid.height(), large.height()), QImage::Format_RGB32);
    image.fill(Qt::white);
    QPainter painter(&image);
    painter.drawPixmap(0, 0, grid);
    painter.drawPixmap(grid.width() + 10, 0, large);
    return image;
}

} // namespace featscope::ui
