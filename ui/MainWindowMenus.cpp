// The main window's menus: its actions, each a call into the window, the document or a panel.

#include "MainWindow.h"

#include "FileKinds.h"
#include "GraphArea.h"
#include "GraphPanel.h"
#include "GraphView.h"
#include "LoadOptionsDialog.h"
#include "ModelDocument.h"
#include "NodeFinder.h"
#include "ResultsPanel.h"
#include "TopImagesPanel.h"

#include <QAction>
#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>

namespace featscope::ui {

void MainWindow::createMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open Model…"), QKeySequence::Open, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open TorchScript Model"), dialogDirectory(),
                                                          modelFileFilter());
        if (!path.isEmpty()) {
            m_settings.setLastDirectory(path);
            openModel(path);
        }
    });
    file->addAction(tr("Open &Image…"), QKeySequence(tr("Ctrl+I")), this, &MainWindow::browseImage);
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    file->addAction(tr("&Load Options…"), this, [this] { LoadOptionsDialog::editAndReload(this, m_controller, m_document); });
    file->addAction(tr("&Compare with Model…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Compare with Model"), dialogDirectory(), modelFileFilter());
        if (!path.isEmpty()) {
            m_settings.setLastDirectory(path);
            compareWithModel(path);
        }
    });
    file->addSeparator();
    m_exportAction = file->addAction(tr("&Export Extractor…"), QKeySequence(tr("Ctrl+E")), this, [this] {
        const QString base = QFileInfo(m_document->model().file).completeBaseName() + QStringLiteral("_extractor.pt");
        QString path = QFileDialog::getSaveFileName(this, tr("Export Feature Extractor"), QDir(dialogDirectory()).filePath(base),
                                                    tr("TorchScript models (*.pt)"));
        if (path.isEmpty())
            return;
        if (QFileInfo(path).suffix().isEmpty())
            path += QStringLiteral(".pt");
        m_settings.setLastDirectory(path);
        exportExtractor(path);
    });
    m_exportPngAction = file->addAction(tr("Export Shown Maps as &PNG…"), this, [this] {
        const QString base = QStringLiteral("%1_%2.png").arg(QFileInfo(m_document->model().file).completeBaseName(),
                                                             m_results->currentView() ? m_results->currentView()->output().key : QStringLiteral("maps"));
        const QString path = QFileDialog::getSaveFileName(this, tr("Export Maps"), QDir(dialogDirectory()).filePath(base),
                                                          tr("PNG images (*.png)"));
        if (path.isEmpty())
            return;
        m_settings.setLastDirectory(path);
        exportMapsPng(path);
    });
    m_exportNpyAction = file->addAction(tr("Export Tensors as .&npy…"), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Export Tensors to Folder"), dialogDirectory());
        if (dir.isEmpty())
            return;
        m_settings.setLastDirectory(dir);
        exportTensors(dir);
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(tr("Zoom &In"), QKeySequence::ZoomIn, m_graph->view(), &GraphView::zoomIn);
    view->addAction(tr("Zoom &Out"), QKeySequence::ZoomOut, m_graph->view(), &GraphView::zoomOut);
    view->addAction(tr("&Fit Graph"), QKeySequence(tr("Ctrl+0")), m_graph->view(), &GraphView::fitAll);
    view->addAction(tr("Actual &Size"), QKeySequence(tr("Ctrl+1")), m_graph->view(), &GraphView::resetZoom);
    view->addSeparator();
    view->addAction(tr("&Collapse All Modules"), m_graph, &GraphPanel::collapseAll);
    view->addMenu(createDepthMenu(m_graph, view))->setText(tr("Expand to &Depth"));
    view->addAction(tr("&Expand All Modules"), m_graph, &GraphPanel::expandAll);
    view->addAction(tr("De&fault Collapsing"), m_graph, &GraphPanel::collapseToDefault);
    view->addSeparator();
    view->addAction(tr("Fin&d Node"), QKeySequence::Find, m_finder, &NodeFinder::focusSearch);
    view->addAction(tr("Find &Next"), QKeySequence::FindNext, this, [this] { m_finder->findNext(1); });
    view->addAction(tr("Find &Previous"), QKeySequence::FindPrevious, this, [this] { m_finder->findNext(-1); });
    view->addSeparator();
    for (QDockWidget* dock : findChildren<QDockWidget*>())
        view->addAction(dock->toggleViewAction());

    QMenu* runMenu = menuBar()->addMenu(tr("&Run"));
    m_runAction = runMenu->addAction(tr("&Run Extractor"), QKeySequence(tr("Ctrl+R")), this, &MainWindow::run);
    runMenu->addAction(tr("&Cancel Run"), QKeySequence(Qt::Key_Escape), this, &MainWindow::cancelRun);
    runMenu->addAction(tr("Compute &Statistics"), QKeySequence(tr("Ctrl+Shift+R")), this, &MainWindow::computeStatistics);
    runMenu->addAction(tr("Find &Top Images…"), QKeySequence(tr("Ctrl+Shift+T")), this, &MainWindow::showTopImages);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About featscope"), this, [this] {
        QMessageBox::about(this, tr("About featscope"),
                           tr("<h3>featscope %1</h3><p>torchvision's feature extraction for TorchScript models: browse "
                              "the named graph, choose return nodes, look at feature maps and export the pruned "
                              "extractor.</p><p>Models are loaded and run in a separate engine process "
                              "(featscope-engine), so a broken model cannot take this window down.</p>")
                               .arg(QApplication::applicationVersion()));
    });
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::updateRecentMenu()
{
    m_recentMenu->clear();
    const QStringList files = m_settings.recentFiles();
    for (const QString& path : files)
        m_recentMenu->addAction(QFileInfo(path).fileName() + QStringLiteral("  —  ") + QFileInfo(path).absolutePath(), this,
                                [this, path] { openModel(path); });
    m_recentMenu->setEnabled(!files.isEmpty());
}

} // namespace featscope::ui
