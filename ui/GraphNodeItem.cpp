#include "GraphNodeItem.h"

#include <QFont>
#include <QFontMetricsF>
#include <QPainter>
#include <QStyleOptionGraphicsItem>

namespace featscope::ui {

namespace {

constexpr qreal kPad = 5;
constexpr qreal kBox = 11;   // tick box side
constexpr qreal kLine = 14;  // line height

QFont nameFont()
{
    QFont f;
    f.setPointSizeF(8.5);
    f.setBold(true);
    return f;
}

QFont smallFont()
{
    QFont f;
    f.setPointSizeF(7.5);
    return f;
}

} // namespace

GraphNodeItem::GraphNodeItem(const QRectF& rect, QString name, QString label, QString subtitle, bool isModule)
    : m_rect(rect), m_name(std::move(name)), m_label(std::move(label)), m_subtitle(std::move(subtitle)), m_fill(Qt::white),
      m_isModule(isModule)
{
    setZValue(2);
    setAcceptHoverEvents(false);
    setToolTip(m_isModule ? QStringLiteral("%1 (%2)\nDouble-click to expand.").arg(m_name, m_subtitle)
                          : QStringLiteral("%1\n%2").arg(m_name, m_subtitle));
}

QString GraphNodeItem::relativeLabel(const QString& name, const QString& frame)
{
    if (frame.isEmpty() || !name.startsWith(frame) || name.size() <= frame.size() + 1 || name.at(frame.size()) != QLatin1Char('.'))
        return name;
    return name.mid(frame.size() + 1);
}

QSizeF GraphNodeItem::preferredSize(const QString& name, const QString& subtitle)
{
    static const QFontMetricsF big(nameFont());
    static const QFontMetricsF small(smallFont());
    const qreal text = std::max(big.horizontalAdvance(name), small.horizontalAdvance(subtitle));
    return QSizeF(std::min<qreal>(360, text + kBox + 3 * kPad + 2), 2 * kLine + 2 * kPad - 2);
}

qreal GraphNodeItem::badgeRoom() { return 2 + kLine - 1 + 2; }

QString GraphNodeItem::belowText() const
{
    if (m_modeMark.isEmpty())
        return m_shape;
    return m_shape.isEmpty() ? m_modeMark : m_shape + QStringLiteral("  ") + m_modeMark;
}

QRectF GraphNodeItem::belowRect() const
{
    static const QFontMetricsF small(smallFont());
    const QString below = belowText();
    if (below.isEmpty())
        return {};
    const qreal w = small.horizontalAdvance(below) + 8;
    return QRectF(m_rect.right() - w, m_rect.bottom() + 2, w, kLine - 1);
}

QRectF GraphNodeItem::boundingRect() const
{
    // The badge can be wider than the box (a long shape under a short name): bound both, or it is clipped.
    const QRectF r = m_rect.adjusted(-3, -3, 3, 3);
    const QRectF below = belowRect();
    return below.isEmpty() ? r : r.united(below.adjusted(-1, -1, 1, 1));
}

QRectF GraphNodeItem::checkBoxRect() const
{
    return QRectF(m_rect.left() + kPad, m_rect.center().y() - kBox / 2, kBox, kBox);
}

void GraphNodeItem::setTicked(bool ticked)
{
    if (m_ticked != ticked) {
        m_ticked = ticked;
        update();
    }
}

void GraphNodeItem::setCurrent(bool current)
{
    if (m_current != current) {
        m_current = current;
        update();
    }
}

void GraphNodeItem::setMatched(bool matched)
{
    if (m_matched != matched) {
        m_matched = matched;
        update();
    }
}

void GraphNodeItem::setModeMark(const QString& mark)
{
    prepareGeometryChange();
    m_modeMark = mark;
}

void GraphNodeItem::setShapeText(const QString& shape)
{
    prepareGeometryChange();
    m_shape = shape;
}

void GraphNodeItem::paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget*)
{
    const qreal lod = option->levelOfDetailFromTransform(painter->worldTransform());
    QPen border(m_ticked ? QColor(0xd9, 0x6c, 0x00) : QColor(0x55, 0x5f, 0x6b), m_ticked ? 2.5 : 1);
    if (!m_modeMark.isEmpty())
        border.setStyle(Qt::DashLine);
    if (m_current) {
        painter->setPen(QPen(QColor(0x1e, 0x88, 0xe5), 5));
        painter->setBrush(Qt::NoBrush);
        painter->drawRoundedRect(m_rect.adjusted(-2, -2, 2, 2), 5, 5);
    }
    painter->setPen(border);
    painter->setBrush(m_matched ? QColor(0xff, 0xf1, 0x76) : m_valueFill.isValid() ? m_valueFill : m_fill);
    if (m_isModule && lod > 0.3) {
        // A stacked look tells collapsed modules apart from single nodes.
        painter->drawRoundedRect(m_rect.translated(3, 3), 4, 4);
    }
    painter->drawRoundedRect(m_rect, 4, 4);
    if (lod < kMinReadableZoom)
        return;

    const QRectF box = checkBoxRect();
    painter->setPen(QPen(QColor(0x44, 0x44, 0x44), 1));
    painter->setBrush(m_ticked ? QColor(0xd9, 0x6c, 0x00) : QColor(Qt::white));
    painter->drawRect(box);
    if (m_ticked) {
        painter->setPen(QPen(Qt::white, 1.8));
        painter->drawPolyline(QPolygonF({box.topLeft() + QPointF(2.2, 5.6), box.topLeft() + QPointF(4.6, 8.2),
                                         box.topLeft() + QPointF(8.8, 2.8)}));
    }
    const QRectF text(box.right() + kPad, m_rect.top() + kPad - 1, m_rect.right() - box.right() - 2 * kPad, kLine);
    painter->setPen(Qt::black);
    painter->setFont(nameFont());
    QFontMetricsF fm(painter->font());
    painter->drawText(text, Qt::AlignLeft | Qt::AlignVCenter, fm.elidedText(m_label, Qt::ElideMiddle, text.width()));
    painter->setFont(smallFont());
    painter->setPen(QColor(0x40, 0x40, 0x40));
    QFontMetricsF sm(painter->font());
    painter->drawText(text.translated(0, kLine), Qt::AlignLeft | Qt::AlignVCenter,
                      sm.elidedText(m_subtitle, Qt::ElideRight, text.width()));
    const QString below = belowText();
    if (!below.isEmpty()) {
        const QRectF badge = belowRect();
        painter->setPen(Qt::NoPen);
        painter->setBrush(m_shape.isEmpty() ? QColor(0xe1, 0xbe, 0xe7) : QColor(0xc8, 0xe6, 0xc9));
        painter->drawRoundedRect(badge, 3, 3);
        painter->setPen(Qt::black);
        painter->drawText(badge, Qt::AlignCenter, below);
    }
}

} // namespace featscope::ui
