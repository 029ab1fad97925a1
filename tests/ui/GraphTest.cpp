// Graph drawing on generated graphs: collapsing, background layout, big graphs stay responsive.

#include "FeatureTensor.h"
#include "GraphLayout.h"
#include "GraphNodeItem.h"
#include "GraphPanel.h"
#include "GraphScene.h"
#include "ModuleTree.h"
#include "NodeTreeModel.h"

#include <QElapsedTimer>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

using namespace featscope::ui;

namespace {

/// `stages` x `blocks` modules of `ops` chained nodes each, with a skip edge around every block.
ModeGraph generatedGraph(int stages, int blocks, int ops)
{
    ModeGraph g;
    GraphNodeInfo input;
    input.name = QStringLiteral("x");
    input.kind = QStringLiteral("input");
    g.nodes.append(input);
    for (int s = 0; s < stages; ++s)
        for (int b = 0; b < blocks; ++b) {
            const int blockInput = int(g.nodes.size()) - 1;
            for (int k = 0; k < ops; ++k) {
                GraphNodeInfo n;
                n.name = QStringLiteral("stage%1.block%2.conv%3").arg(s).arg(b).arg(k);
                n.kind = QStringLiteral("leaf_module");
                n.moduleClass = QStringLiteral("torch.nn.modules.conv.Conv2d");
                n.modulePath = n.name;
                n.inputs = {int(g.nodes.size()) - 1};
                g.nodes.append(n);
            }
            GraphNodeInfo add;
            add.name = QStringLiteral("stage%1.block%2.add").arg(s).arg(b);
            add.kind = QStringLiteral("op");
            add.op = QStringLiteral("add");
            add.modulePath = QStringLiteral("stage%1.block%2").arg(s).arg(b);
            add.moduleClass = QStringLiteral("__torch__.Block");
            add.inputs = {int(g.nodes.size()) - 1, blockInput};
            g.nodes.append(add);
        }
    for (const auto& n : g.nodes)
        g.names.append(n.name);
    return g;
}

} // namespace

class GraphTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void moduleTreeFromNames();
    void collapsedModulesMergeEdges();
    void smallGraphFullyExpanded();
    void bigGraphOpensCollapsedWithoutBlocking();
    void expandAndCollapse();
    void nodeTreeRowsFollowModules();
    void npyHeader();
    void shapeBadgesHaveRoomAboveTheNextClusterTitle();
};

void GraphTest::moduleTreeFromNames()
{
    const ModeGraph g = generatedGraph(2, 2, 3);
    ModuleTree tree;
    tree.build(g);
    const int block = tree.findModule(QStringLiteral("stage1.block0"));
    QVERIFY(block > 0);
    QCOMPARE(tree.module(block).nodes.size(), 4);
    QCOMPARE(tree.module(block).className, QStringLiteral("Block"));
    QCOMPARE(tree.module(tree.findModule(QStringLiteral("stage1"))).totalNodes, 8);
    QCOMPARE(tree.module(0).totalNodes, int(g.nodes.size()));
}

void GraphTest::collapsedModulesMergeEdges()
{
    const ModeGraph g = generatedGraph(2, 2, 3);
    ModuleTree tree;
    tree.build(g);
    const QSet<int> collapsed{tree.findModule(QStringLiteral("stage0")), tree.findModule(QStringLiteral("stage1"))};
    const VisibleGraph v = VisibleGraph::build(g, tree, collapsed);
    QCOMPARE(v.items.size(), 3); // x, stage0, stage1
    QCOMPARE(v.edges.size(), 2);
    QCOMPARE(v.clusterModules.size(), 0);
    QCOMPARE(tree.visibleCount(collapsed), 3);
}

void GraphTest::smallGraphFullyExpanded()
{
    GraphPanel panel;
    panel.resize(800, 600);
    panel.show();
    QSignalSpy done(&panel, &GraphPanel::layoutFinished);
    panel.setGraph(generatedGraph(2, 3, 4), {}, QStringLiteral("train"));
    QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1, 20000);
    QCOMPARE(panel.visibleBoxes(), 1 + 2 * 3 * 5);
    GraphNodeItem* item = panel.scene()->itemForNode(QStringLiteral("stage1.block2.conv3"));
    QVERIFY(item);
    QVERIFY(!item->isModule());
}

void GraphTest::bigGraphOpensCollapsedWithoutBlocking()
{
    GraphPanel panel;
    panel.resize(1000, 700);
    panel.show();
    const ModeGraph g = generatedGraph(10, 10, 99); // 10,001 nodes
    QCOMPARE(g.nodes.size(), 10001);
    // The GUI thread keeps serving events while Graphviz works.
    int ticks = 0;
    QTimer ticker;
    connect(&ticker, &QTimer::timeout, [&] { ++ticks; });
    ticker.start(20);
    QSignalSpy done(&panel, &GraphPanel::layoutFinished);
    QElapsedTimer timer;
    timer.start();
    panel.setGraph(g, {}, QStringLiteral("train"));
    const qint64 setGraphMs = timer.elapsed();
    QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1, 30000);
    const qint64 total = timer.elapsed();
    qInfo("10,001-node graph: setGraph %lld ms on the GUI thread, drawn after %lld ms, %d boxes, %d timer ticks",
          static_cast<long long>(setGraphMs), static_cast<long long>(total), panel.visibleBoxes(), ticks);
    QVERIFY(setGraphMs < 500);
    QVERIFY(panel.visibleBoxes() <= GraphPanel::kDefaultBudget);
    QVERIFY(total < 10000);
    // A hidden node is shown by its collapsed module.
    GraphNodeItem* item = panel.scene()->itemForNode(QStringLiteral("stage7.block3.conv50"));
    QVERIFY(item);
    QVERIFY(item->isModule());
    // Revealing it expands just the modules above it.
    done.clear();
    panel.setCurrentNode(QStringLiteral("stage7.block3.conv50"), true);
    QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1, 30000);
    item = panel.scene()->itemForNode(QStringLiteral("stage7.block3.conv50"));
    QVERIFY(item && !item->isModule());
}

// The node list as the user sees it: modules as parent rows in order of their first node, node rows with
// their op or class, tick boxes that report the user's ticks only, shapes after a run.
void GraphTest::nodeTreeRowsFollowModules()
{
    const ModeGraph g = generatedGraph(2, 2, 3);
    ModuleTree tree;
    tree.build(g);
    QSet<QString> otherNames(g.names.cbegin(), g.names.cend());
    otherNames.remove(QStringLiteral("stage1.block0.add"));
    NodeTreeModel model;
    model.build(g, tree, otherNames, QStringLiteral("eval"));

    auto text = [&](const QModelIndex& parent, int row, int column) { return model.index(row, column, parent).data().toString(); };
    QCOMPARE(model.columnCount(), 3);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(text({}, 0, 0), QStringLiteral("x"));
    QCOMPARE(text({}, 0, 1), QStringLiteral("input"));
    QCOMPARE(text({}, 1, 0), QStringLiteral("stage0"));
    QCOMPARE(text({}, 2, 0), QStringLiteral("stage1"));
    const QModelIndex stage1 = model.index(2, 0);
    QVERIFY(stage1.data(NodeTreeModel::IsModuleRole).toBool());
    QCOMPARE(stage1.data(NodeTreeModel::NameRole).toString(), QStringLiteral("stage1"));
    QVERIFY(!(model.flags(stage1) & Qt::ItemIsUserCheckable));
    QCOMPARE(model.rowCount(stage1), 2);
    const QModelIndex block = model.index(0, 0, stage1);
    QCOMPARE(block.data().toString(), QStringLiteral("block0"));
    QCOMPARE(model.index(0, 1, stage1).data().toString(), QStringLiteral("Block"));
    QCOMPARE(block.data(Qt::ToolTipRole).toString(), QStringLiteral("stage1.block0 (4 nodes)"));
    QCOMPARE(block.parent(), stage1);
    QCOMPARE(model.rowCount(block), 4);
    QCOMPARE(text(block, 0, 0), QStringLiteral("conv0"));
    QCOMPARE(text(block, 0, 1), QStringLiteral("Conv2d"));
    QCOMPARE(text(block, 2, 0), QStringLiteral("conv2"));
    QCOMPARE(text(block, 3, 0), QStringLiteral("add  [not in eval]"));
    QCOMPARE(text(block, 3, 1), QStringLiteral("add"));
    QVERIFY(model.index(3, 0, block).data(Qt::ToolTipRole).toString().contains(QLatin1String("exists in this mode only")));
    QVERIFY(!model.index(2, 0, block).data(Qt::ToolTipRole).toString().contains(QLatin1String("exists in this mode only")));
    QVERIFY(model.index(2, 0, block).data(Qt::ToolTipRole).toString().startsWith(QLatin1String("stage1.block0.conv2\nleaf_module Conv2d")));
    const QModelIndex conv1 = model.index(1, 0, block);
    QCOMPARE(conv1.data(NodeTreeModel::NameRole).toString(), QStringLiteral("stage1.block0.conv1"));
    QVERIFY(!conv1.data(NodeTreeModel::IsModuleRole).toBool());
    QVERIFY(model.flags(conv1) & Qt::ItemIsUserCheckable);
    QCOMPARE(conv1.parent(), block);
    QCOMPARE(model.indexForName(QStringLiteral("stage1.block0.conv1")), conv1);
    QCOMPARE(model.indexForName(QStringLiteral("stage1.block0")), block);
    QVERIFY(!model.indexForName(QStringLiteral("stage9")).isValid());

    // Ticks set by the document are not the user's; a tick the user makes is reported.
    QSignalSpy toggled(&model, &NodeTreeModel::checkToggled);
    model.setChecked({QStringLiteral("stage1.block0.conv1")});
    QCOMPARE(conv1.data(Qt::CheckStateRole).toInt(), int(Qt::Checked));
    QCOMPARE(model.index(0, 0, block).data(Qt::CheckStateRole).toInt(), int(Qt::Unchecked));
    QCOMPARE(toggled.count(), 0);
    QVERIFY(model.setData(model.index(0, 0, block), int(Qt::Checked), Qt::CheckStateRole));
    QCOMPARE(toggled.count(), 1);
    QCOMPARE(toggled.first().at(0).toString(), QStringLiteral("stage1.block0.conv0"));
    QVERIFY(toggled.first().at(1).toBool());
    QCOMPARE(model.index(0, 0, block).data(Qt::CheckStateRole).toInt(), int(Qt::Checked));

    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.setShapes({{QStringLiteral("stage1.block0.conv2"), QStringLiteral("1×8×4×4")}});
    QCOMPARE(text(block, 2, 2), QStringLiteral("1×8×4×4"));
    QCOMPARE(text(block, 1, 2), QString());
    QCOMPARE(changed.count(), 1);

    // Another graph replaces every row.
    const ModeGraph small = generatedGraph(1, 1, 1);
    tree.build(small);
    model.build(small, tree, {}, QStringLiteral("eval"));
    QCOMPARE(model.rowCount(), 2);
    QVERIFY(!model.indexForName(QStringLiteral("stage1.block0.conv1")).isValid());
    QCOMPARE(text(model.index(1, 0), 0, 0), QStringLiteral("block0"));
    QCOMPARE(text(model.index(0, 0, model.index(1, 0)), 0, 0), QStringLiteral("conv0"));
}

void GraphTest::expandAndCollapse()
{
    GraphPanel panel;
    panel.show();
    QSignalSpy done(&panel, &GraphPanel::layoutFinished);
    panel.setGraph(generatedGraph(4, 8, 12), {}, QStringLiteral("train"));
    QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1, 20000);
    const int before = panel.visibleBoxes();
    GraphNodeItem* module = panel.scene()->itemForNode(QStringLiteral("stage3.block7.conv0"));
    QVERIFY(module && module->isModule());
    panel.expandModule(module->name());
    QTRY_VERIFY_WITH_TIMEOUT(done.count() == 2, 20000);
    QVERIFY(panel.visibleBoxes() > before);
    panel.collapseModule(QStringLiteral("stage0"));
    QTRY_VERIFY_WITH_TIMEOUT(done.count() == 3, 20000);
    QVERIFY(panel.scene()->itemForModule(QStringLiteral("stage0")));
}

// A shape badge under the last box before a cluster once covered that cluster's title: the layout keeps
// room under every box, and an edge still starts at its box.
void GraphTest::shapeBadgesHaveRoomAboveTheNextClusterTitle()
{
    LayoutInput input;
    input.roomBelowNodes = GraphNodeItem::badgeRoom();
    input.clusters.append({-1, QStringLiteral("layer1 : Sequential")});
    input.nodes.append({QSizeF(90, 36), -1});
    input.nodes.append({QSizeF(90, 36), 0});
    input.edges.append({0, 1});
    const LayoutResult layout = computeLayout(input);
    QVERIFY2(layout.error.isEmpty(), qPrintable(layout.error));
    const QRectF box = layout.nodeRects[0];
    QCOMPARE(box.height(), 36.0);
    QVERIFY2(layout.clusterRects[0].top() >= box.bottom() + GraphNodeItem::badgeRoom(),
             qPrintable(QStringLiteral("cluster top %1, box bottom %2").arg(layout.clusterRects[0].top()).arg(box.bottom())));
    QCOMPARE(layout.edgePaths[0].elementAt(0).y, box.bottom());
}

void GraphTest::npyHeader()
{
    QTemporaryDir dir;
    const QVector<float> values{1, 2, 3, 4, 5, 6};
    QString error;
    QVERIFY(writeNpy(dir.filePath(QStringLiteral("a.npy")), {2, 3}, values.constData(), values.size(), &error));
    QFile f(dir.filePath(QStringLiteral("a.npy")));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray all = f.readAll();
    QCOMPARE(all.size(), 128 + 24);
    QVERIFY(all.startsWith(QByteArray("\x93NUMPY\x01\x00", 8)));
    QVERIFY(all.contains("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
    QCOMPARE(all.at(127), '\n');
    QVERIFY(writeNpy(dir.filePath(QStringLiteral("b.npy")), {6}, values.constData(), values.size(), &error));
    QFile g(dir.filePath(QStringLiteral("b.npy")));
    QVERIFY(g.open(QIODevice::ReadOnly));
    QVERIFY(g.readAll().contains("'shape': (6,)"));
}

QTEST_MAIN(GraphTest)
#include "GraphTest.moc"
