// detectTensorLayout / applyTensorLayout on the shapes of real nodes (torchvision models at 224 px).

#include <featscope/TensorLayout.h>

#include <QTest>

Q_DECLARE_METATYPE(std::vector<std::int64_t>)

using featscope::TensorLayoutKind;

class TensorLayoutTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void detects_data();
    void detects();
    void forcedLayouts();
};

void TensorLayoutTest::detects_data()
{
    QTest::addColumn<std::vector<std::int64_t>>("shape");
    QTest::addColumn<int>("inputHeight"); // 0: unknown
    QTest::addColumn<int>("inputWidth");
    QTest::addColumn<int>("kind");
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("width");
    QTest::addColumn<bool>("classToken");
    const int nchw = int(TensorLayoutKind::Nchw), nhwc = int(TensorLayoutKind::Nhwc), tokens = int(TensorLayoutKind::Tokens);
    QTest::newRow("resnet50 layer4") << std::vector<std::int64_t>{1, 2048, 7, 7} << 224 << 224 << nchw << 2048 << 7 << 7 << false;
    QTest::newRow("vit_b_16 encoder_layer_5.add_1") << std::vector<std::int64_t>{1, 197, 768} << 224 << 224 << tokens << 768 << 14 << 14 << true;
    QTest::newRow("vit_b_32 tokens") << std::vector<std::int64_t>{1, 50, 768} << 0 << 0 << tokens << 768 << 7 << 7 << true;
    QTest::newRow("tokens without class token") << std::vector<std::int64_t>{2, 196, 384} << 224 << 224 << tokens << 384 << 14 << 14 << false;
    QTest::newRow("swin_t features.1") << std::vector<std::int64_t>{1, 56, 56, 96} << 224 << 224 << nhwc << 96 << 56 << 56 << false;
    QTest::newRow("convnext_tiny block permute") << std::vector<std::int64_t>{1, 14, 14, 384} << 0 << 0 << nhwc << 384 << 14 << 14 << false;
    QTest::newRow("ambiguous cube stays nchw") << std::vector<std::int64_t>{1, 7, 7, 7} << 224 << 224 << nchw << 7 << 7 << 7 << false;
    QTest::newRow("wide input nchw") << std::vector<std::int64_t>{1, 512, 7, 10} << 224 << 320 << nchw << 512 << 7 << 10 << false;
    QTest::newRow("wide input tokens") << std::vector<std::int64_t>{1, 141, 768} << 224 << 320 << tokens << 768 << 10 << 14 << true;
    QTest::newRow("vector") << std::vector<std::int64_t>{1, 1000} << 224 << 224 << int(TensorLayoutKind::Vector) << 1000 << 0 << 0 << false;
    QTest::newRow("sequence without grid") << std::vector<std::int64_t>{1, 49 * 3 + 5, 64} << 0 << 0 << int(TensorLayoutKind::Unknown) << 0 << 0 << 0 << false;
}

void TensorLayoutTest::detects()
{
    QFETCH(std::vector<std::int64_t>, shape);
    QFETCH(int, inputHeight);
    QFETCH(int, inputWidth);
    std::optional<featscope::InputSize> input;
    if (inputHeight > 0)
        input = featscope::InputSize{inputHeight, inputWidth};
    const featscope::TensorLayout layout = featscope::detectTensorLayout(shape, input);
    QTEST(int(layout.kind), "kind");
    QTEST(int(layout.channels), "channels");
    QTEST(int(layout.height), "height");
    QTEST(int(layout.width), "width");
    QTEST(layout.classToken, "classToken");
}

void TensorLayoutTest::forcedLayouts()
{
    std::string error;
    const auto nhwc = featscope::applyTensorLayout({1, 7, 7, 7}, TensorLayoutKind::Nhwc, std::nullopt, &error);
    QCOMPARE(int(nhwc.kind), int(TensorLayoutKind::Nhwc));
    const auto wrongRank = featscope::applyTensorLayout({1, 197, 768}, TensorLayoutKind::Nchw, std::nullopt, &error);
    QCOMPARE(int(wrongRank.kind), int(TensorLayoutKind::Unknown));
    QVERIFY(error.find("4-D") != std::string::npos);
    QCOMPARE(int(featscope::applyTensorLayout({1, 152, 64}, TensorLayoutKind::Tokens, std::nullopt, &error).kind),
             int(TensorLayoutKind::Unknown));
    QCOMPARE(featscope::parseSpatialLayout("tokens"), std::optional<TensorLayoutKind>(TensorLayoutKind::Tokens));
    QVERIFY(!featscope::parseSpatialLayout("vector"));
}


QTEST_APPLESS_MAIN(TensorLayoutTest)
#include "TensorLayoutTest.moc"
