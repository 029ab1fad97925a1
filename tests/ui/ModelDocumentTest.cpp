// The inspector's document on its own: no engine, no window. What it keeps per model, how opening another
// model starts over, and when the shown maps stop being the answer to the current inputs.

#include "ModelDocument.h"
#include "ReturnNodesModel.h"

#include <QSignalSpy>
#include <QTest>

using namespace featscope::ui;

namespace {

/// A model with nodes x -> conv -> relu in both modes, as the engine would describe it.
ModelInfo smallModel(const QString& file)
{
    ModelInfo model;
    model.file = file;
    model.preprocessing.resize = 32;
    model.preprocessing.centerCrop = 28;
    for (const featscope::Mode mode : {featscope::Mode::Train, featscope::Mode::Eval}) {
        ModeGraph& graph = model.graphs[int(mode)];
        featscope::GraphDescription description;
        description.mode = mode;
        const char* names[] = {"x", "conv", "relu"};
        for (const char* name : names) {
            featscope::GraphNode node;
            node.name = name;
            node.kind = std::string(name) == "x" ? featscope::NodeKind::Input : featscope::NodeKind::LeafModule;
            node.valueType = "Tensor";
            description.nodes.push_back(node);
            graph.names.append(QString::fromLatin1(name));
        }
        graph.description = std::make_shared<const featscope::GraphDescription>(std::move(description));
    }
    return model;
}

RunOutput output(const QString& node)
{
    RunOutput o;
    o.key = node;
    o.node = node;
    o.shape = {1, 4, 7, 7};
    return o;
}

} // namespace

class ModelDocumentTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init() { m_document = std::make_unique<ModelDocument>(); }
    void cleanup() { m_document.reset(); }

    void openStartsOverAndRestoresTheSavedState()
    {
        m_document->open(smallModel(QStringLiteral("/models/a.pt")), {});
        m_document->returnNodes()->addNode(QStringLiteral("conv"), QStringLiteral("c"));
        m_document->setMode(featscope::Mode::Train);
        m_document->setImagePath(QStringLiteral("/images/cat.png"));
        m_document->setDisplay(QStringLiteral("Grayscale"), 2);
        const QJsonObject saved = m_document->saveState();

        // Another model: nothing of the first one's selection survives; the image chosen in this session does.
        QSignalSpy changed(m_document.get(), &ModelDocument::modelChanged);
        const int generation = m_document->generation();
        m_document->open(smallModel(QStringLiteral("/models/b.pt")), {});
        QCOMPARE(changed.count(), 1);
        QCOMPARE(m_document->generation(), generation + 1);
        QVERIFY(m_document->returnNodes()->entries().isEmpty());
        QCOMPARE(m_document->imagePath(), QStringLiteral("/images/cat.png"));
        QCOMPARE(m_document->preprocessing().resize, 32);

        // The first model again, with what was saved for it.
        ModelDocument fresh;
        fresh.open(smallModel(QStringLiteral("/models/a.pt")), saved);
        QCOMPARE(fresh.mode(), featscope::Mode::Train);
        QCOMPARE(fresh.returnNodes()->entries().size(), 1);
        QCOMPARE(fresh.returnNodes()->entries().first().key, QStringLiteral("c"));
        QCOMPARE(fresh.returnNodes()->entries().first().severity, 0); // validated against the new graphs
        QCOMPARE(fresh.imagePath(), QStringLiteral("/images/cat.png"));
        QCOMPARE(fresh.colourMap(), QStringLiteral("Grayscale"));
        QCOMPARE(fresh.normalisation(), 2);
        QCOMPARE(fresh.saveState(), saved);
    }

    void consentIsPerOpenedModel()
    {
        ModelInfo risky = smallModel(QStringLiteral("/models/risky.pt"));
        risky.unsafeOps = QStringList{QStringLiteral("aten::save")};
        m_document->open(risky, {});
        QVERIFY(!m_document->unsafeOpsAllowed());
        m_document->setUnsafeOpsAllowed(true);
        m_document->open(risky, {});
        QVERIFY2(!m_document->unsafeOpsAllowed(), "opening the file again asks again");
        m_document->open(smallModel(QStringLiteral("/models/safe.pt")), {});
        QVERIFY(m_document->unsafeOpsAllowed());
    }

    void resultsGoStaleWhenTheirInputsChange()
    {
        m_document->open(smallModel(QStringLiteral("/models/a.pt")), {});
        m_document->setImagePath(QStringLiteral("/images/cat.png"));
        QSignalSpy freshness(m_document.get(), &ModelDocument::freshnessChanged);
        m_document->setResults({output(QStringLiteral("relu"))}, m_document->runInputs(), QStringLiteral("summary"));
        QCOMPARE(m_document->staleReason(), QString());
        QCOMPARE(m_document->shapes().value(QStringLiteral("relu")), QStringLiteral("1×4×7×7"));

        m_document->setImagePath(QStringLiteral("/images/dog.png"));
        QVERIFY2(m_document->staleReason().contains(QLatin1String("dog.png")), qPrintable(m_document->staleReason()));
        m_document->setImagePath(QStringLiteral("/images/cat.png"));
        QCOMPARE(m_document->staleReason(), QString());

        m_document->setMode(featscope::Mode::Train);
        QVERIFY(m_document->staleReason().contains(QLatin1String("train")));
        m_document->setMode(featscope::Mode::Eval);
        Preprocessing other = m_document->preprocessing();
        other.resize = 64;
        m_document->setPreprocessing(other);
        QVERIFY(m_document->staleReason().contains(QLatin1String("resize 64")));
        m_document->setPreprocessing(smallModel({}).preprocessing);
        QCOMPARE(m_document->staleReason(), QString());
        m_document->setRunFailed();
        QVERIFY(m_document->staleReason().contains(QLatin1String("failed")));
        QVERIFY(freshness.count() >= 7);
        QCOMPARE(freshness.last().first().toString(), m_document->staleReason());
    }

    void settingTheSameValueTellsNoOne()
    {
        m_document->open(smallModel(QStringLiteral("/models/a.pt")), {});
        QSignalSpy image(m_document.get(), &ModelDocument::imageChanged);
        QSignalSpy mode(m_document.get(), &ModelDocument::modeChanged);
        QSignalSpy preprocessing(m_document.get(), &ModelDocument::preprocessingChanged);
        m_document->setImagePath(QStringLiteral("/images/cat.png"));
        m_document->setImagePath(QStringLiteral("  /images/cat.png "));
        m_document->setMode(m_document->mode());
        m_document->setPreprocessing(m_document->preprocessing());
        QCOMPARE(image.count(), 1);
        QCOMPARE(mode.count(), 0);
        QCOMPARE(preprocessing.count(), 0);
        // A problem in the editor's text is news even when the last valid value stays the same.
        m_document->setPreprocessing(m_document->preprocessing(), QStringLiteral("Mean needs comma-separated numbers."));
        QCOMPARE(preprocessing.count(), 1);
        QCOMPARE(m_document->preprocessingProblem(), QStringLiteral("Mean needs comma-separated numbers."));
    }

private:
    std::unique_ptr<ModelDocument> m_document;
};

QTEST_GUILESS_MAIN(ModelDocumentTest)
#include "ModelDocumentTest.moc"
