#include "NodeFinder.h"

#include <featscope/NodeNames.h>

#include <QLabel>
#include <QLineEdit>

#include <string>
#include <vector>

namespace featscope::ui {

NodeFinder::NodeFinder(QObject* parent) : QObject(parent), m_box(new QLineEdit), m_count(new QLabel)
{
    m_box->setPlaceholderText(tr("Find node (Ctrl+F)…"));
    m_box->setClearButtonEnabled(true);
    m_box->setObjectName(QStringLiteral("search"));
    m_box->setMaximumWidth(280);
    m_count->setObjectName(QStringLiteral("searchCount"));
    m_count->setMinimumWidth(70);
    m_count->setContentsMargins(6, 0, 6, 0);
    m_timer.setSingleShot(true);
    m_timer.setInterval(200);
    connect(&m_timer, &QTimer::timeout, this, &NodeFinder::showMatch);
    connect(m_box, &QLineEdit::textChanged, this, &NodeFinder::search);
    connect(m_box, &QLineEdit::returnPressed, this, [this] {
        // Enter before the pause shows the first match at once; after it, goes on to the next one.
        if (m_timer.isActive()) {
            m_timer.stop();
            showMatch();
        } else {
            findNext(1);
        }
    });
}

void NodeFinder::setNames(const QStringList& names)
{
    m_names = names;
    search();
}

void NodeFinder::clear()
{
    m_box->clear();
}

void NodeFinder::focusSearch()
{
    m_box->setFocus();
    m_box->selectAll();
}

void NodeFinder::search()
{
    const QString needle = m_box->text().trimmed();
    Q_EMIT filterChanged(needle);
    m_matches.clear();
    if (!needle.isEmpty())
        for (const QString& name : m_names)
            if (name.contains(needle, Qt::CaseInsensitive))
                m_matches.append(name);
    Q_EMIT matchesChanged(QSet<QString>(m_matches.cbegin(), m_matches.cend()));
    m_index = int(m_matches.indexOf(preferredMatch(needle)));
    if (m_index < 0 && !m_matches.isEmpty())
        m_index = 0;
    if (needle.isEmpty())
        m_count->clear();
    else if (m_matches.isEmpty())
        m_count->setText(tr("no match"));
    else
        m_count->setText(tr("%1 of %2").arg(m_index + 1).arg(m_matches.size()));
    if (m_index >= 0)
        m_timer.start(); // jump as you type, once the typing pauses (a jump may expand and lay out)
    else
        m_timer.stop();
}

QString NodeFinder::preferredMatch(const QString& text) const
{
    if (text.isEmpty())
        return {};
    std::vector<std::string> names;
    for (const QString& name : m_names)
        names.push_back(name.toStdString());
    // An exact or truncated name selects the node it resolves to, as a return node would.
    if (const auto target = featscope::resolveNodeName(names, text.toStdString()))
        return QString::fromStdString(*target);
    // A trailing part of a path ("block3" for "features.block3") selects like the full prefix.
    for (const QString& name : m_names) {
        const QString dotted = QLatin1Char('.') + name + QLatin1Char('.');
        const int at = int(dotted.indexOf(QLatin1Char('.') + text + QLatin1Char('.')));
        if (at >= 0) {
            const auto target = featscope::resolveNodeName(names, name.left(at + text.size()).toStdString());
            return target ? QString::fromStdString(*target) : QString();
        }
    }
    return {};
}

void NodeFinder::findNext(int step)
{
    m_timer.stop();
    if (m_matches.isEmpty()) {
        if (!m_box->text().trimmed().isEmpty())
            Q_EMIT message(tr("No node matches \"%1\".").arg(m_box->text().trimmed()));
        return;
    }
    const int count = int(m_matches.size());
    m_index = ((m_index + step) % count + count) % count;
    showMatch();
}

void NodeFinder::showMatch()
{
    if (m_index < 0 || m_index >= m_matches.size())
        return;
    m_count->setText(tr("%1 of %2").arg(m_index + 1).arg(m_matches.size()));
    Q_EMIT matchChosen(m_matches.at(m_index));
}

} // namespace featscope::ui
