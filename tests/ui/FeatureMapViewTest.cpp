// One output's view on its own (no engine): which layout its values are read in, what the user can force,
// and how a vector of class scores is shown.

#include "FeatureMapView.h"

#include <QComboBox>
#include <QLabel>
#include <QSignalSpy>
#include <QTest>

using namespace featscope::ui;

namespace {

/// Values 0, 1, 2, ... in C order, so every position says where it came from.
FeatureTensor counting(const QVector<qint64>& shape)
{
    qint64 count = 1;
    for (qint64 d : shape)
        count *= d;
    QVector<float> values(count);
    for (qint64 i = 0; i < count; ++i)
        values[i] = float(i);
    QString error;
    FeatureTensor tensor = FeatureTensor::fromValues(shape, values, &error);
    if (tensor.isEmpty())
        qFatal("%s", qPrintable(error));
    return tensor;
}

RunOutput outputOf(const QVector<qint64>& shape)
{
    RunOutput output;
    output.key = output.node = QStringLiteral("node");
    output.shape = shape;
    return output;
}

} // namespace

class FeatureMapViewTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void tokensWithAClassTokenBecomeAGrid()
    {
        // ViT's [N, 1 + H*W, C]: 17 tokens of 3 channels -> 3 maps of 4x4, token 0 set apart.
        const QVector<qint64> shape{1, 17, 3};
        FeatureMapView view(outputOf(shape), counting(shape), MapContext{featscope::InputSize{64, 64}, {}, {}});
        const FeatureTensor& maps = view.maps();
        QCOMPARE(maps.layout().kind, featscope::TensorLayoutKind::Tokens);
        QCOMPARE(maps.channels(), 3);
        QCOMPARE(maps.height(), 4);
        QCOMPARE(maps.width(), 4);
        QCOMPARE(maps.classToken(), (QVector<float>{0, 1, 2}));
        for (int c = 0; c < 3; ++c)
            for (int position = 0; position < 16; ++position)
                QCOMPARE(maps.plane(c)[position], float((1 + position) * 3 + c));
        // What export writes is what the engine sent.
        QCOMPARE(view.tensor().shape(), shape);
        QCOMPARE(view.tensor().data().at(5), 5.f);
    }

    void channelsLastAreDetectedAndCanBeOverridden()
    {
        // ConvNeXt's [N, H, W, C]: 5x5 positions of 8 channels.
        const QVector<qint64> shape{1, 5, 5, 8};
        FeatureMapView view(outputOf(shape), counting(shape));
        QCOMPARE(view.maps().layout().kind, featscope::TensorLayoutKind::Nhwc);
        QCOMPARE(view.maps().channels(), 8);
        QCOMPARE(view.maps().plane(3)[2 * 5 + 4], float((2 * 5 + 4) * 8 + 3));

        auto* layout = view.findChild<QComboBox*>(QStringLiteral("layout"));
        QVERIFY(layout);
        QSignalSpy chosen(&view, &FeatureMapView::layoutChosen);
        const int nchw = layout->findData(QStringLiteral("nchw"));
        layout->setCurrentIndex(nchw);
        Q_EMIT layout->activated(nchw);
        QCOMPARE(chosen.count(), 1);
        QCOMPARE(chosen.first().at(1).toString(), QStringLiteral("nchw"));
        QCOMPARE(view.maps().channels(), 5);
        QCOMPARE(view.maps().height(), 5);
        QCOMPARE(view.maps().width(), 8);
        QCOMPARE(view.maps().plane(1)[0], 40.f);
        QCOMPARE(view.layoutChoice(), QStringLiteral("nchw"));
    }

    void aLayoutThatDoesNotFitIsRefusedAndTheViewKeepsItsOwn()
    {
        const QVector<qint64> shape{1, 17, 3};
        FeatureMapView view(outputOf(shape), counting(shape));
        QVERIFY(!view.setLayout(QStringLiteral("nhwc"))); // rank 3 has no H, W and C
        QCOMPARE(view.layoutChoice(), QString());
        QCOMPARE(view.maps().layout().kind, featscope::TensorLayoutKind::Tokens);
        QStringList texts;
        for (QLabel* label : view.findChildren<QLabel*>())
            texts.append(label->text());
        QVERIFY2(texts.join(QLatin1Char('\n')).contains(QStringLiteral("Cannot read 1×17×3 as nhwc")), qPrintable(texts.join(QLatin1Char('\n'))));
    }

    void aRememberedLayoutIsAppliedWhenTheViewOpens()
    {
        const QVector<qint64> shape{1, 5, 5, 8};
        FeatureMapView view(outputOf(shape), counting(shape), MapContext{{}, QStringLiteral("nchw"), {}});
        QCOMPARE(view.maps().layout().kind, featscope::TensorLayoutKind::Nchw);
        QCOMPARE(view.layoutChoice(), QStringLiteral("nchw"));
    }

    void channelsCanBeRankedStrongestFirst()
    {
        // Channel means 1, 5, 3; shares above zero 1, 1/4, 1.
        const QVector<qint64> shape{1, 3, 2, 2};
        QString error;
        FeatureTensor maps = FeatureTensor::fromValues(shape, {1, 1, 1, 1, 20, 0, 0, 0, 3, 3, 3, 3}, &error);
        FeatureMapView view(outputOf(shape), maps);
        QCOMPARE(view.channelOrder(), (QVector<int>{0, 1, 2}));
        view.setChannelOrder(ChannelOrder::Mean);
        QCOMPARE(view.channelOrder(), (QVector<int>{1, 2, 0}));
        view.setChannelOrder(ChannelOrder::Firing);
        QCOMPARE(view.channelOrder(), (QVector<int>{0, 2, 1}));
        // Every channel keeps its tile.
        QCOMPARE(view.shownMaps(), 3);
    }

    void aPinnedReferenceGivesOneScaleAndTheDifference()
    {
        // Two runs of one output, e.g. on two images: channel 0 is 0..3 and 10..13.
        const QVector<qint64> shape{1, 2, 2, 2};
        QString error;
        FeatureMapView view(outputOf(shape), FeatureTensor::fromValues(shape, {10, 11, 12, 13, 5, 5, 5, 5}, &error));
        QVERIFY(!view.hasReference());
        view.setReference(FeatureTensor::fromValues(shape, {0, 1, 2, 3, 5, 5, 5, 5}, &error), QStringLiteral("a.png"));
        QVERIFY(view.hasReference());
        QCOMPARE(view.largeValues(), (QVector<float>{10, 11, 12, 13}));
        auto* map = qobject_cast<QCPColorMap*>(view.largePlot()->plottable(0));
        QVERIFY(map);
        QCOMPARE(map->dataRange(), QCPRange(0, 13)); // both runs on one scale
        view.setComparison(Comparison::Reference);
        QCOMPARE(view.largeValues(), (QVector<float>{0, 1, 2, 3}));
        QCOMPARE(map->dataRange(), QCPRange(0, 13));
        view.setComparison(Comparison::Difference);
        QCOMPARE(view.largeValues(), (QVector<float>{10, 10, 10, 10}));
        QCOMPARE(map->dataRange(), QCPRange(-10, 10)); // centred on zero
        // Another shape cannot be compared: the reference goes.
        view.setReference(FeatureTensor::fromValues({1, 8}, {0, 1, 2, 3, 4, 5, 6, 7}, &error), QStringLiteral("b.png"));
        QVERIFY(!view.hasReference());
        QCOMPARE(view.largeValues(), (QVector<float>{10, 11, 12, 13}));
    }

    void classScoresListTheTopClassesByName()
    {
        const QVector<qint64> shape{1, 4};
        QString error;
        FeatureTensor scores = FeatureTensor::fromValues(shape, {0.5f, 3.0f, -1.0f, 2.0f}, &error);
        FeatureMapView view(outputOf(shape), scores, MapContext{{}, {}, {QStringLiteral("cat"), QStringLiteral("dog"),
                                                                          QStringLiteral("cow"), QStringLiteral("owl")}});
        auto* top = view.findChild<QLabel*>(QStringLiteral("topEntries"));
        QVERIFY(top);
        const QString text = top->text();
        QVERIFY2(text.indexOf(QLatin1String("dog")) < text.indexOf(QLatin1String("owl")), qPrintable(text));
        QVERIFY2(text.indexOf(QLatin1String("owl")) < text.indexOf(QLatin1String("cat")), qPrintable(text));
        QVERIFY2(text.indexOf(QLatin1String("cat")) < text.indexOf(QLatin1String("cow")), qPrintable(text));
        // softmax([0.5, 3, -1, 2]) gives dog 0.6811.
        QCOMPARE(view.prediction(), QStringLiteral("dog (68.1%)"));
        QCOMPARE(view.vectorPlot()->plottableCount(), 2);
    }
};

QTEST_MAIN(FeatureMapViewTest)
#include "FeatureMapViewTest.moc"
