#pragma once

#include <QGroupBox>

class QCheckBox;
class QLabel;
class QLineEdit;
class QTableView;

namespace featscope::ui {

class ModelDocument;

/// "Return nodes": the document's return-node table, a field to type a node (or NODE=KEY), the fixes the
/// validation suggests, and the switch to separate train and eval selections.
class ReturnNodesPanel : public QGroupBox {
    Q_OBJECT
public:
    explicit ReturnNodesPanel(ModelDocument* document, QWidget* parent = nullptr);

    /// Adds "NODE" or "NODE=KEY" (featscope::parseReturnNodeSpec, the CLI's rule); false with the reason
    /// in `error` when the text is no such spec.
    bool addSpec(const QString& spec, QString* error = nullptr);
    void removeSelected();
    /// Names the add field completes (the current graph's).
    void setCompletionNames(const QStringList& names);

    QTableView* view() const { return m_view; }

Q_SIGNALS:
    /// The user made the row of node `name` current.
    void nodeSelected(const QString& name);
    void message(const QString& text);

private:
    void updateSuggestions();

    ModelDocument* m_document;
    QTableView* m_view;
    QLineEdit* m_add;
    QLabel* m_suggestions;
    QCheckBox* m_separate;
};

} // namespace featscope::ui
