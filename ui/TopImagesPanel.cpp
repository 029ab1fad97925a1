#include "TopImagesPanel.h"

#include "Heatmap.h"
#include "ModelDocument.h"
#include "ReturnNodesModel.h"

#include <featscope/Errors.h>
#include <featscope/imaging/PreprocessedImage.h>

#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPainter>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>
#include <limits>

namespace featscope::ui {

namespace {

constexpr int kThumbnailSide = 150;

const char* const kHint = QT_TRANSLATE_NOOP("featscope::ui::TopImagesPanel",
                                            "Which images of a folder excite a channel of the node most: choose a folder, then Find.");

// The image as the model sees it with `map` drawn over it, half opaque, smoothly scaled to the image.
QImage thumbnail(const TopImages::Image& image, const Preprocessing& preprocessing, const QCPRange& range,
                 const QCPColorGradient& gradient, QString* problem)
{
    QImage picture;
    try {
        picture = imaging::preprocessImage(image.path.toStdString(), preprocessing).input.convertToFormat(QImage::Format_RGB32);
    } catch (const featscope::Error& error) {
        *problem = QString::fromStdString(error.what());
        picture = QImage(kThumbnailSide, kThumbnailSide, QImage::Format_RGB32);
        picture.fill(Qt::lightGray);
    }
    picture = picture.scaled(kThumbnailSide, kThumbnailSide, Qt::KeepAspectRatio, Qt::SmoothTransformation);
    if (!image.map.isEmpty()) {
        QPainter painter(&picture);
        painter.setOpacity(0.55);
        painter.drawImage(picture.rect(), colourised(image.map.constData(), image.width, image.height, range, gradient)
                                              .scaled(picture.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation));
    }
    return picture;
}

} // namespace

TopImagesPanel::TopImagesPanel(ModelDocument* document, QWidget* parent)
    : QWidget(parent), m_document(document), m_search(new TopImagesSearch(this)), m_node(new QComboBox), m_channel(new QSpinBox),
      m_count(new QSpinBox), m_score(new QComboBox), m_folder(new QLineEdit), m_find(new QPushButton(tr("Find"))),
      m_cancel(new QPushButton(tr("Cancel"))), m_progress(new QProgressBar), m_status(new QLabel), m_thumbnails(new QListWidget)
{
    setObjectName(QStringLiteral("topImagesPanel"));
    m_node->setEditable(true);
    m_node->setMinimumContentsLength(18);
    m_node->setToolTip(tr("The node whose channel is ranked (a truncated name works)"));
    m_channel->setRange(0, 1 << 24);
    m_count->setRange(1, 64);
    m_count->setValue(9);
    m_score->addItem(tr("mean over the map"), QStringLiteral("mean"));
    m_score->addItem(tr("largest value"), QStringLiteral("max"));
    m_score->setToolTip(tr("How strongly an image excites the channel: its mean over the node's grid or its peak"));
    m_folder->setPlaceholderText(tr("folder of images (searched recursively)"));
    m_find->setObjectName(QStringLiteral("findTopImages"));
    m_cancel->setObjectName(QStringLiteral("cancelTopImages"));
    m_status->setWordWrap(true);
    m_status->setText(tr(kHint));
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_progress->hide();
    m_thumbnails->setViewMode(QListView::IconMode);
    m_thumbnails->setIconSize(QSize(kThumbnailSide, kThumbnailSide));
    m_thumbnails->setResizeMode(QListView::Adjust);
    m_thumbnails->setMovement(QListView::Static);
    m_thumbnails->setSpacing(4);
    m_thumbnails->setWordWrap(true);
    m_thumbnails->setToolTip(tr("Double-click an image to open it in the inspector"));
    auto* browse = new QPushButton(tr("Browse…"));

    auto* form = new QGridLayout;
    form->addWidget(new QLabel(tr("Node:")), 0, 0);
    form->addWidget(m_node, 0, 1);
    form->addWidget(new QLabel(tr("Channel:")), 0, 2);
    form->addWidget(m_channel, 0, 3);
    form->addWidget(new QLabel(tr("Images:")), 0, 4);
    form->addWidget(m_count, 0, 5);
    form->addWidget(new QLabel(tr("Score:")), 0, 6);
    form->addWidget(m_score, 0, 7);
    form->addWidget(new QLabel(tr("Folder:")), 1, 0);
    form->addWidget(m_folder, 1, 1, 1, 4);
    form->addWidget(browse, 1, 5);
    form->addWidget(m_find, 1, 6);
    form->addWidget(m_cancel, 1, 7);
    form->setColumnStretch(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addWidget(m_thumbnails, 1);

    m_chooseFolder = [this] { return QFileDialog::getExistingDirectory(this, tr("Folder of images"), m_folder->text()); };
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString folder = m_chooseFolder();
        if (!folder.isEmpty())
            setFolder(folder);
    });
    connect(m_find, &QPushButton::clicked, this, &TopImagesPanel::find);
    connect(m_folder, &QLineEdit::returnPressed, this, &TopImagesPanel::find);
    connect(m_cancel, &QPushButton::clicked, m_search, &TopImagesSearch::cancel);
    connect(m_search, &TopImagesSearch::progress, this, [this](int done, int total) {
        m_progress->setRange(0, total);
        m_progress->setValue(done);
        m_progress->setFormat(tr("%v of %m images"));
    });
    connect(m_search, &TopImagesSearch::finished, this, [this](bool ok, const QString& message, const TopImages& result) {
        setRunning(false);
        if (ok && result.model == m_document->model().file)
            m_document->setTopImages(result);
        else
            m_status->setText(ok ? tr("The search was for a model that is no longer open.") : message);
    });
    connect(m_thumbnails, &QListWidget::itemDoubleClicked, this,
            [this](QListWidgetItem* item) { Q_EMIT imageChosen(item->data(Qt::UserRole).toString()); });
    connect(m_document, &ModelDocument::topImagesChanged, this, &TopImagesPanel::showTopImages);
    connect(m_document, &ModelDocument::displayChanged, this, &TopImagesPanel::showTopImages);
    connect(m_document, &ModelDocument::modelChanged, this, [this] {
        m_search->cancel();
        // Another model: the node and channel chosen for the last one mean nothing here.
        m_node->setCurrentText(QString());
        m_channel->setValue(0);
        m_status->setText(tr(kHint));
        updateNodes();
        showTopImages();
    });
    connect(m_document, &ModelDocument::resultsChanged, this, &TopImagesPanel::updateNodes);
    setRunning(false);
}

void TopImagesPanel::updateNodes()
{
    const QString current = m_node->currentText();
    QStringList nodes;
    for (const RunOutput& output : m_document->outputs())
        if (output.path.isEmpty()) // parts of a dict or tuple are not nodes top-images can rank by
            nodes.append(output.node);
    for (const auto& entry : m_document->returnNodes()->entries())
        if (!entry.resolved.isEmpty() && !nodes.contains(entry.resolved))
            nodes.append(entry.resolved);
    m_node->clear();
    m_node->addItems(nodes);
    m_node->setCurrentText(current.isEmpty() && !nodes.isEmpty() ? nodes.first() : current);
}

void TopImagesPanel::suggest(const QString& node, int channel)
{
    if (m_search->isRunning())
        return;
    if (!node.isEmpty())
        m_node->setCurrentText(node);
    if (channel >= 0)
        m_channel->setValue(channel);
}

void TopImagesPanel::setFolder(const QString& folder)
{
    m_folder->setText(QDir::toNativeSeparators(folder));
}

bool TopImagesPanel::find()
{
    TopImagesRequest request;
    request.model = m_document->model().file;
    request.node = m_node->currentText().trimmed();
    request.channel = m_channel->value();
    request.count = m_count->value();
    request.score = m_score->currentData().toString();
    request.folder = QDir::fromNativeSeparators(m_folder->text().trimmed());
    request.allowUnsafeOps = m_document->unsafeOpsAllowed();
    QString problem;
    if (!m_document->hasModel())
        problem = tr("Open a model first.");
    else if (request.node.isEmpty())
        problem = tr("Choose the node whose channel is ranked.");
    else if (request.folder.isEmpty() || !QFileInfo(request.folder).isDir())
        problem = tr("Choose a folder of images (%1 is not one).").arg(request.folder.isEmpty() ? tr("none given") : request.folder);
    if (!problem.isEmpty()) {
        m_status->setText(problem);
        return false;
    }
    setRunning(true);
    m_status->setText(tr("Ranking the images of %1 by channel %2 of %3 (eval mode, the model's own preprocessing)…")
                          .arg(request.folder).arg(request.channel).arg(request.node));
    m_search->start(request);
    return true;
}

void TopImagesPanel::setRunning(bool running)
{
    m_find->setEnabled(!running);
    m_cancel->setEnabled(running);
    m_progress->setVisible(running);
    if (running) {
        m_progress->setRange(0, 0);
        m_progress->setFormat(QString());
    }
}

void TopImagesPanel::showTopImages()
{
    m_thumbnails->clear();
    const TopImages& top = m_document->topImages();
    if (top.isEmpty())
        return;
    // One colour scale for all maps, so that the images compare.
    float low = std::numeric_limits<float>::infinity(), high = -low;
    for (const TopImages::Image& image : top.top)
        for (float v : image.map) {
            low = std::min(low, v);
            high = std::max(high, v);
        }
    const QCPRange range(low < high ? low : 0, low < high ? high : 1);
    const QCPColorGradient gradient = colourMapNamed(m_document->colourMap());
    QStringList problems;
    for (int rank = 0; rank < top.top.size(); ++rank) {
        const TopImages::Image& image = top.top[rank];
        QString problem;
        const QImage picture = thumbnail(image, m_document->model().preprocessing, range, gradient, &problem);
        if (!problem.isEmpty())
            problems.append(problem);
        auto* item = new QListWidgetItem(QIcon(QPixmap::fromImage(picture)),
                                         tr("%1. %2\n%3").arg(rank + 1).arg(QFileInfo(image.path).fileName()).arg(image.score, 0, 'g', 4));
        item->setData(Qt::UserRole, image.path);
        item->setToolTip(tr("%1\nscore %2 (%3)").arg(image.path).arg(image.score, 0, 'g', 6).arg(top.score));
        m_thumbnails->addItem(item);
    }
    QString status = tr("Channel %1 of %2: the %n image(s) of %3 that excite it most", nullptr, int(top.top.size()))
                         .arg(top.channel).arg(top.node, top.folder);
    status += tr(" (of %n ranked; score: %1", nullptr, top.imagesRanked).arg(top.score == QStringLiteral("max") ? tr("largest value") : tr("mean over the map"));
    status += top.top.first().map.isEmpty() ? tr(").") : tr("; maps from %1 to %2 on one scale).").arg(range.lower, 0, 'g', 4).arg(range.upper, 0, 'g', 4);
    if (!problems.isEmpty())
        status += QLatin1Char(' ') + problems.first();
    m_status->setText(status);
}

} // namespace featscope::ui
