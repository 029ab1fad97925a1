#pragma once

#include <QColor>
#include <QGraphicsItem>
#include <QString>

namespace featscope::ui {

/// One box of the graph: a named node, or a collapsed module standing for the nodes inside it.
class GraphNodeItem : public QGraphicsItem {
public:
    enum { Type = UserType + 1 };
    /// Below this zoom (scene-to-screen scale) text would be too small to read; boxes are drawn without it.
    static constexpr qreal kMinReadableZoom = 0.45;

    /// `label` is what the box shows (the name relative to its frame); `name` is the full node name.
    GraphNodeItem(const QRectF& rect, QString name, QString label, QString subtitle, bool isModule);

    int type() const override { return Type; }
    QRectF boundingRect() const override;
    void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

    /// Node name, or module path for a collapsed module.
    const QString& name() const { return m_name; }
    bool isModule() const { return m_isModule; }
    QRectF rect() const { return m_rect; }
    /// The tick box, in scene coordinates (ticking adds the node as a return node).
    QRectF checkBoxRect() const;

    void setFill(const QColor& fill) { m_fill = fill; update(); }
    /// A fill that says something about the node (a statistic), over the kind's fill; invalid: none.
    void setValueFill(const QColor& fill) { m_valueFill = fill; update(); }
    QColor valueFill() const { return m_valueFill; }
    void setTicked(bool ticked);
    bool isTicked() const { return m_ticked; }
    void setCurrent(bool current);
    void setMatched(bool matched);
    /// Marks nodes that exist in this mode only ("train only" / "eval only").
    void setModeMark(const QString& mark);
    /// Output shape shown below the box after a run.
    void setShapeText(const QString& shape);
    const QString& shapeText() const { return m_shape; }

    /// Box size that fits `label` and `subtitle`.
    static QSizeF preferredSize(const QString& label, const QString& subtitle);
    /// Height of the shape badge drawn under a box, with its gap: what a layout keeps free below boxes.
    static qreal badgeRoom();
    /// `name` without the `frame` module prefix ("layer1.0.conv1" in "layer1.0" -> "conv1").
    static QString relativeLabel(const QString& name, const QString& frame);

private:
    /// Text drawn under the box (output shape, mode mark), empty when none.
    QString belowText() const;
    /// Where that text's badge goes: right-aligned under the box, as wide as the text needs.
    QRectF belowRect() const;

    QRectF m_rect;
    QString m_name;
    QString m_label;
    QString m_subtitle;
    QString m_modeMark;
    QString m_shape;
    QColor m_fill;
    QColor m_valueFill;
    bool m_isModule;
    bool m_ticked = false;
    bool m_current = false;
    bool m_matched = false;
};

} // namespace featscope::ui
