// Compares featscope's names and extracted values with torchvision's, model by model, on the
// fixtures that tests/fixtures/make_fixtures.py records (FEATSCOPE_FIXTURES_DIR).

#include <featscope/FeatureExtraction.h>
#include <featscope/ModuleLoader.h>

#include <ATen/Parallel.h>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <algorithm>
#include <set>

namespace {

QString fixturesDir()
{
    return qEnvironmentVariable("FEATSCOPE_FIXTURES_DIR");
}

QJsonObject readFixture(const QString& model)
{
    QFile file(QDir(fixturesDir()).filePath(model + ".json"));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(file.readAll()).object();
}

std::vector<std::string> toStrings(const QJsonArray& array)
{
    std::vector<std::string> result;
    for (const QJsonValue& value : array)
        result.push_back(value.toString().toStdString());
    return result;
}

std::string path(const QString& model, const char* suffix)
{
    return QDir(fixturesDir()).filePath(model + suffix).toStdString();
}

// The first position where two name lists differ, for a readable failure.
QByteArray firstDifference(const std::vector<std::string>& ours, const std::vector<std::string>& reference)
{
    for (size_t i = 0; i < std::max(ours.size(), reference.size()); ++i) {
        const std::string a = i < ours.size() ? ours[i] : "<end>";
        const std::string b = i < reference.size() ? reference[i] : "<end>";
        if (a != b)
            return QByteArray("at ") + QByteArray::number(qulonglong(i)) + ": featscope '" + a.c_str()
                + "', torchvision '" + b.c_str() + "' (" + QByteArray::number(qulonglong(ours.size())) + " vs "
                + QByteArray::number(qulonglong(reference.size())) + " names)";
    }
    return {};
}

// Traced graphs inline what torch.fx keeps as one wrapped call (swin's shifted_window_attention),
// so their names cannot equal torchvision's; the difference is documented in the README.
// swin: the tracer expands torch.fx-wrapped functions. r3d_18: its Conv3DSimple subclasses nn.Conv3d outside
// torch.nn, so torch.fx traces through it to F.conv3d, which torch.jit.trace records as aten::_convolution.
const QStringList tracedNamesDiffer = {"swin_t", "swin_v2_t", "r3d_18"};

} // namespace

class ConformanceTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(!fixturesDir().isEmpty(), "set FEATSCOPE_FIXTURES_DIR to the output of make_fixtures.py");
        QVERIFY2(QFile::exists(QDir(fixturesDir()).filePath("index.json")), "fixtures not generated");
        at::set_num_threads(2);
    }

    void scriptedNames_data() { modelRows(); }
    void scriptedNames()
    {
        QFETCH(QString, model);
        const QJsonObject fixture = readFixture(model);
        if (!fixture["fx_ok"].toBool())
            QSKIP("torch.fx cannot trace this model, so torchvision has no names to compare with "
                  "(modelsFxCannotTrace checks it against hand-written expectations)");
        const auto module = featscope::loadModule(path(model, ".script.pt"));
        const auto names = featscope::getGraphNodeNames(module);
        const auto train = toStrings(fixture["train"].toArray());
        const auto eval = toStrings(fixture["eval"].toArray());
        QVERIFY2(names.train == train, firstDifference(names.train, train).constData());
        QVERIFY2(names.eval == eval, firstDifference(names.eval, eval).constData());
        QCOMPARE(names.warning.has_value(), train != eval);
    }

    void tracedNames_data() { modelRows(); }
    void tracedNames()
    {
        QFETCH(QString, model);
        const QJsonObject fixture = readFixture(model);
        if (!fixture["fx_ok"].toBool())
            QSKIP("torch.fx cannot trace this model, so torchvision has no names to compare with");
        if (!fixture["trace_ok"].toBool())
            QSKIP("torch.jit.trace cannot trace this model (its fixture says why), so there is no traced file");
        const auto module = featscope::loadModule(path(model, ".trace.pt"));
        const auto names = featscope::getGraphNodeNames(module);
        const auto eval = toStrings(fixture["eval"].toArray());
        if (tracedNamesDiffer.contains(model))
            QEXPECT_FAIL("", "traced graphs record what torch.fx keeps whole as LibTorch ops", Continue);
        QVERIFY2(names.eval == eval, firstDifference(names.eval, eval).constData());
    }

    void extractedValues_data() { modelRows(); }
    void extractedValues()
    {
        QFETCH(QString, model);
        const QJsonObject fixture = readFixture(model);
        if (!fixture["fx_ok"].toBool())
            QSKIP("torch.fx cannot trace this model, so torchvision has no values to compare with");
        const auto module = featscope::loadModule(path(model, ".script.pt"));
        const auto values = torch::jit::load(path(model, ".values.pt"));
        featscope::ReturnNodes returnNodes;
        for (const QJsonValue& node : fixture["return_nodes"].toArray())
            returnNodes.push_back({node.toString().toStdString(), node.toString().toStdString()});
        QVERIFY(returnNodes.size() >= 2);
        const auto input = values.attr(fixture["input_buffer"].toString().toStdString()).toTensor();
        const QJsonObject buffers = fixture["value_buffers"].toObject();
        auto check = [&](torch::jit::Module extractor, const featscope::ReturnNodes& nodes, const char* how) {
            extractor.eval();
            torch::NoGradGuard noGrad;
            const auto outputs = extractor.forward({input}).toGenericDict();
            QCOMPARE(outputs.size(), nodes.size());
            for (const auto& node : nodes) {
                const auto expected = values.attr(buffers[QString::fromStdString(node.node)].toString().toStdString()).toTensor();
                const auto actual = outputs.at(node.key).toTensor();
                QVERIFY2(actual.sizes() == expected.sizes(), node.key.c_str());
                const double difference = (actual - expected).abs().max().item<double>();
                QVERIFY2(torch::allclose(actual, expected, 1e-5, 1e-5),
                         (std::string(how) + ", " + node.key + ": max abs difference " + std::to_string(difference)).c_str());
            }
        };
        check(featscope::createFeatureExtractor(module, returnNodes), returnNodes, "createFeatureExtractor");
        if (QTest::currentTestFailed())
            return;
        // The engine's way: name once, then build one extractor after another from the same named graphs.
        // The second asks for the same nodes under other keys: a different extractor with the same values
        // (a subset could differ where the model mutates a chosen value in place afterwards, as DenseNet's
        // relu(inplace=True) does to `features`, in torchvision too).
        const featscope::AnalysedModel analysed(module);
        featscope::ReturnNodes renamed = returnNodes;
        for (auto& node : renamed)
            node.key = "again." + node.key;
        check(analysed.createFeatureExtractor(returnNodes, returnNodes), returnNodes, "first extractor of an AnalysedModel");
        if (QTest::currentTestFailed())
            return;
        check(analysed.createFeatureExtractor(renamed, renamed), renamed, "second extractor of the same AnalysedModel");
    }

    // torchvision cannot trace these (fx: "Proxy object cannot be iterated"); featscope names and
    // extracts them. Expected names are written by hand from the models' source, and the last
    // node's value must equal the full model's output recorded by the fixture generator.
    void modelsFxCannotTrace_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QStringList>("expectedInOrder");
        QTest::newRow("vit_b_16") << "vit_b_16"
                                  << QStringList{"x", "conv_proj", "class_token", "cat", "encoder.encoder_pos_embedding",
                                                 "encoder.layers.encoder_layer_0.ln",
                                                 "encoder.layers.encoder_layer_0.self_attention",
                                                 "encoder.layers.encoder_layer_0.mlp", "encoder.layers.encoder_layer_11.add_1",
                                                 "encoder.ln", "getitem_1", "heads.head"}; // getitem is x.shape[0]
        QTest::newRow("shufflenet_v2_x0_5") << "shufflenet_v2_x0_5"
                                            << QStringList{"x", "conv1.0", "maxpool", "stage2.0.branch1.0", "stage2.0.cat",
                                                           "stage2.0.transpose", "stage2.1.chunk", "stage2.1.cat",
                                                           "stage4.3.view_1", "conv5.2", "mean", "fc"};
        QTest::newRow("maxvit_t") << "maxvit_t"
                                  << QStringList{"x", "stem.0", "stem.1", "blocks.0.layers.0.layers.MBconv.proj.0",
                                                 "blocks.0.layers.0.layers.window_attention.partition_op.reshape",
                                                 "blocks.3.layers.1.layers.grid_attention.mlp_layer.0", "classifier.0", "classifier.5"};
    }
    void modelsFxCannotTrace()
    {
        QFETCH(QString, model);
        QFETCH(QStringList, expectedInOrder);
        const QJsonObject fixture = readFixture(model);
        QVERIFY(!fixture.isEmpty());
        QVERIFY(!fixture["fx_ok"].toBool());
        const auto module = featscope::loadModule(path(model, ".script.pt"));
        const auto names = featscope::getGraphNodeNames(module);
        QCOMPARE(names.train, names.eval);
        std::set<std::string> unique(names.eval.begin(), names.eval.end());
        QCOMPARE(unique.size(), names.eval.size());
        auto position = names.eval.begin();
        for (const QString& expected : expectedInOrder) {
            position = std::find(position, names.eval.end(), expected.toStdString());
            QVERIFY2(position != names.eval.end(), qPrintable("missing or out of order: " + expected));
        }

        const std::string last = names.eval.back();
        auto extractor = featscope::createFeatureExtractor(module, {{last, "out"}, {expectedInOrder[1].toStdString(), "early"}});
        extractor.eval();
        const auto values = torch::jit::load(path(model, ".values.pt"));
        torch::NoGradGuard noGrad;
        const auto outputs = extractor.forward({values.attr(fixture["input_buffer"].toString().toStdString()).toTensor()}).toGenericDict();
        const auto expected = values.attr(fixture["output_buffer"].toString().toStdString()).toTensor();
        QVERIFY(torch::allclose(outputs.at("out").toTensor(), expected, 1e-5, 1e-5));
        QCOMPARE(outputs.size(), size_t(2));
    }

private:
    void modelRows()
    {
        QTest::addColumn<QString>("model");
        QFile file(QDir(fixturesDir()).filePath("index.json"));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QStringList models = QJsonDocument::fromJson(file.readAll()).object()["models"].toObject().keys();
        QVERIFY(models.size() >= 20);
        for (const QString& model : models)
            QTest::newRow(model.toUtf8().constData()) << model;
    }
};

QTEST_GUILESS_MAIN(ConformanceTest)
#include "ConformanceTest.moc"
