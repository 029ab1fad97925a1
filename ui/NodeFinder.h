#pragma once

#include <QObject>
#include <QSet>
#include <QStringList>
#include <QTimer>

class QLabel;
class QLineEdit;

namespace featscope::ui {

/// Find a node: the search box and its "2 of 5" count. Matches are the names that contain the text, in
/// graph order; the first one shown is the node an exact or truncated name resolves to, as a return node
/// would. Jumps once typing pauses; Enter and F3 go on, Shift+F3 goes back.
class NodeFinder : public QObject {
    Q_OBJECT
public:
    explicit NodeFinder(QObject* parent = nullptr);

    QLineEdit* searchBox() const { return m_box; }
    QLabel* countLabel() const { return m_count; }

    /// The names searched (the current graph's, in graph order); the search runs again over them.
    void setNames(const QStringList& names);
    void clear();
    /// Moves to the next (`step` 1) or previous (-1) match.
    void findNext(int step);
    /// Focuses the box with its text selected (Ctrl+F).
    void focusSearch();

    const QStringList& matches() const { return m_matches; }
    /// Index in matches() of the one shown, -1 when none.
    int currentIndex() const { return m_index; }

Q_SIGNALS:
    /// The search text changed (trimmed); lists filter by it.
    void filterChanged(const QString& text);
    void matchesChanged(const QSet<QString>& names);
    /// Show node `name`.
    void matchChosen(const QString& name);
    void message(const QString& text);

private:
    void search();
    /// The node a search for `text` selects first: an exact or truncated name's node, else the first match.
    QString preferredMatch(const QString& text) const;
    void showMatch();

    QLineEdit* m_box;
    QLabel* m_count;
    QStringList m_names;
    QStringList m_matches;
    int m_index = -1;
    QTimer m_timer;
};

} // namespace featscope::ui
