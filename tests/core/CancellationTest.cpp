// Cancellation points (core/src/InsertCancellationPoints.h) on modules defined in TorchScript source here:
// the results without a cancel, the stop once the flag is set (inside a loop too), and that the checks
// follow only the thread that installed the flag. Runs in about a second: no fixtures.

#include <featscope/Cancellation.h>

#include <QtTest>

#include <atomic>
#include <thread>

namespace {

torch::jit::Module scripted(const std::string& source)
{
    torch::jit::Module module("Scripted");
    module.define(source);
    module.eval();
    return module;
}

const char* kChain = R"(
def forward(self, x):
    y = x * 2.0
    z = y.relu() + 1.0
    return z.sum()
)";

// About a billion cheap iterations: without a check inside the loop it would run for minutes.
const char* kLoop = R"(
def forward(self, x):
    y = x.mean()
    for _ in range(1000000000):
        y = y * 1.0
    return y
)";

} // namespace

class CancellationTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sameResultsWithoutACancel();
    void setFlagStopsBeforeTheFirstOp();
    void cancelFromAnotherThreadStopsALoop();
    void flagOfAnotherThreadIsNotSeen();
};

void CancellationTest::sameResultsWithoutACancel()
{
    torch::jit::Module module = scripted(kChain);
    const torch::Tensor x = torch::linspace(-1, 1, 10);
    const torch::Tensor before = module.forward({x}).toTensor();
    featscope::insertCancellationPoints(module);
    std::atomic<bool> cancel{false};
    const featscope::ScopedCancellationFlag scoped(cancel);
    for (int run = 0; run < 3; ++run) // the profiling executor's runs too
        QVERIFY(torch::equal(module.forward({x}).toTensor(), before));
}

void CancellationTest::setFlagStopsBeforeTheFirstOp()
{
    torch::jit::Module module = scripted(kChain);
    featscope::insertCancellationPoints(module);
    std::atomic<bool> cancel{true};
    const featscope::ScopedCancellationFlag scoped(cancel);
    QVERIFY(featscope::cancellationRequested());
    try {
        module.forward({torch::ones({3})});
        QFAIL("the run went on with its flag set");
    } catch (const std::exception& e) {
        // The interpreter rethrows as its own error; the message still says why.
        QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("Cancelled.")), e.what());
    }
    cancel = false;
    QVERIFY(module.forward({torch::ones({3})}).toTensor().item<float>() > 0); // usable again
}

void CancellationTest::cancelFromAnotherThreadStopsALoop()
{
    torch::jit::Module module = scripted(kLoop);
    featscope::insertCancellationPoints(module);
    std::atomic<bool> cancel{false};
    const featscope::ScopedCancellationFlag scoped(cancel);
    std::thread canceller([&cancel] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        cancel = true;
    });
    QElapsedTimer timer;
    timer.start();
    bool stopped = false;
    try {
        module.forward({torch::ones({2, 2})});
    } catch (const std::exception&) {
        stopped = featscope::cancellationRequested();
    }
    canceller.join();
    QVERIFY(stopped);
    QVERIFY2(timer.elapsed() < 5000, qPrintable(QString::number(timer.elapsed())));
}

void CancellationTest::flagOfAnotherThreadIsNotSeen()
{
    torch::jit::Module module = scripted(kChain);
    featscope::insertCancellationPoints(module);
    std::atomic<bool> cancel{true};
    const featscope::ScopedCancellationFlag scoped(cancel);
    bool otherThreadSawFlag = true, otherThreadRan = false;
    std::thread([&] {
        otherThreadSawFlag = featscope::cancellationRequested();
        otherThreadRan = module.forward({torch::ones({3})}).isTensor();
    }).join();
    QVERIFY(!otherThreadSawFlag);
    QVERIFY(otherThreadRan);
}

QTEST_GUILESS_MAIN(CancellationTest)
#include "CancellationTest.moc"
