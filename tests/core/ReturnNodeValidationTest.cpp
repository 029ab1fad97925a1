// The torch-free model layer's rules (core/model/): torchvision's truncated-name rule, name
// suggestions, NODE=KEY parsing and return-node validation, on hand-built graphs. Runs in
// milliseconds: no LibTorch, no fixtures.

#include <featscope/Errors.h>
#include <featscope/NodeNames.h>
#include <featscope/ReturnNodeValidation.h>
#include <featscope/ReturnNodes.h>

#include <QTest>

using namespace featscope;

namespace {

GraphNode node(const std::string& name, const std::string& valueType = "Tensor")
{
    GraphNode n;
    n.name = name;
    n.valueType = valueType;
    return n;
}

// A ResNet-like graph with the cases a model can hold: a tuple-valued node, a node with several
// outputs and a node inside a loop.
GraphDescription sampleGraph()
{
    GraphDescription graph;
    graph.mode = Mode::Eval;
    graph.nodes = {node("x"), node("conv1"), node("layer1.0.conv1"), node("layer1.0.relu"), node("layer1.0.relu_1"),
                   node("layer1.1.add"), node("size", "int"), node("split")};
    graph.nodes.back().singleValue = false;
    graph.nodes.back().valueType = "Tuple";
    graph.nodes.push_back(node("loop.add"));
    graph.nodes.back().insideControlFlow = true;
    graph.nodes.push_back(node("fc"));
    return graph;
}

std::vector<ReturnNodeCheck> check(const ReturnNodes& nodes)
{
    return checkReturnNodes(sampleGraph(), nodes);
}

} // namespace

class ReturnNodeValidationTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void truncatedNamesSelectTheLastNodeBelow()
    {
        const std::vector<std::string> names{"layer1.0.conv1", "layer1.0.relu", "layer1.1.add", "layer10.add", "fc"};
        QCOMPARE(resolveNodeName(names, "layer1").value(), std::string("layer1.1.add"));
        QCOMPARE(resolveNodeName(names, "layer1.0").value(), std::string("layer1.0.relu"));
        QCOMPARE(resolveNodeName(names, "fc").value(), std::string("fc"));
        QVERIFY(!resolveNodeName(names, "layer1.0.re")); // a prefix of a name part is no prefix of a path
        QVERIFY(!resolveNodeName(names, ""));
        QCOMPARE(resolveNodeIndex(names, "layer10").value(), std::size_t(3));
    }

    void suggestionsRankTypoAndPrefixFirst()
    {
        const std::vector<std::string> names{"relu", "conv1", "layer1.0.relu", "layer2.0.relu", "fc", "relu"};
        const auto closest = closestNames(names, "rleu", 2);
        QCOMPARE(closest.size(), std::size_t(2));
        QCOMPARE(closest.front(), std::string("relu"));
        QCOMPARE(closestNames(names, "layr2", 1).front(), std::string("layer2.0.relu"));
        QVERIFY(closestNames(names, std::string(300, 'x')).empty()); // no typo of any name
    }

    void suggestionsAreDistinctAndBounded()
    {
        const std::vector<std::string> names{"layer1.0.relu", "layer1.0.relu", "layer1.0.relu_1", "layer1.1.relu", "fc"};
        const auto closest = closestNames(names, "layer1.0.rlu", 3);
        QCOMPARE(closest, (std::vector<std::string>{"layer1.0.relu", "layer1.0.relu_1", "layer1.1.relu"}));
        QCOMPARE(closestNames(names, "fc", 10).size(), std::size_t(4)); // each name once
        QVERIFY(closestNames(names, "fc", 0).empty());
        QVERIFY(closestNames({}, "fc").empty());
    }

    // A truncated name ranks the names that start like it first, even above a shorter name fewer edits away.
    void suggestionsPreferNamesStartingLikeTheQuery()
    {
        const std::vector<std::string> names{"fc", "features.0.conv", "features.1.conv"};
        QCOMPARE(closestNames(names, "feat", 2), (std::vector<std::string>{"features.0.conv", "features.1.conv"}));
    }

    void specsParseNodeAndKey()
    {
        const ReturnNode plain = parseReturnNodeSpec("layer1");
        QCOMPARE(plain.key, std::string("layer1"));
        const ReturnNode keyed = parseReturnNodeSpec("layer1.0=stage=1");
        QCOMPARE(keyed.node, std::string("layer1.0"));
        QCOMPARE(keyed.key, std::string("stage=1"));
        QVERIFY_THROWS_EXCEPTION(Error, parseReturnNodeSpec("=key"));
        QVERIFY_THROWS_EXCEPTION(Error, parseReturnNodeSpec("node="));
        QVERIFY_THROWS_EXCEPTION(Error, parseReturnNodeSpec(std::string(kMaxReturnNodeNameLength + 1, 'a')));
    }

    void validListResolvesEveryEntry()
    {
        const auto verdicts = check({{"layer1", "a"}, {"fc", "fc"}, {"size", "s"}});
        QCOMPARE(verdicts.size(), std::size_t(3));
        for (const ReturnNodeCheck& verdict : verdicts)
            QVERIFY2(verdict.ok(), verdict.message.c_str());
        QCOMPARE(verdicts[0].resolved, std::string("layer1.1.add"));
        QCOMPARE(verdicts[0].index.value(), std::size_t(5));
    }

    void eachProblemIsNamed_data()
    {
        QTest::addColumn<QString>("node");
        QTest::addColumn<QString>("key");
        QTest::addColumn<int>("problem");
        QTest::addColumn<QString>("messagePart");
        QTest::newRow("unknown") << "layr1" << "k" << int(ReturnNodeProblem::UnknownNode) << "closest names: 'layer1.";
        QTest::newRow("several values") << "split" << "k" << int(ReturnNodeProblem::SeveralValues) << "several values";
        QTest::newRow("loop") << "loop" << "k" << int(ReturnNodeProblem::InsideControlFlow) << "inside a loop";
        QTest::newRow("empty name") << "" << "k" << int(ReturnNodeProblem::EmptyName) << "empty";
        QTest::newRow("empty key") << "fc" << "" << int(ReturnNodeProblem::EmptyKey) << "key for node 'fc' is empty";
        QTest::newRow("too long") << QString(5000, QLatin1Char('a')) << "k" << int(ReturnNodeProblem::TooLong) << "characters";
    }

    void eachProblemIsNamed()
    {
        QFETCH(QString, node);
        QFETCH(QString, key);
        QFETCH(int, problem);
        QFETCH(QString, messagePart);
        const auto verdicts = check({{node.toStdString(), key.toStdString()}});
        QCOMPARE(int(verdicts.front().problem), problem);
        QVERIFY2(QString::fromStdString(verdicts.front().message).contains(messagePart), verdicts.front().message.c_str());
        QVERIFY(verdicts.front().message.size() < 300);
    }

    void unknownNodesCarrySuggestions()
    {
        const auto verdict = check({{"layr1.0.relu", "k"}}).front();
        QCOMPARE(verdict.suggestions.front(), std::string("layer1.0.relu"));
        QVERIFY(verdict.resolved.empty());
        QVERIFY(!verdict.index);
    }

    void onlyLaterDuplicateKeysAreMarked()
    {
        const auto verdicts = check({{"conv1", "a"}, {"fc", "a"}, {"layer1", "b"}});
        QVERIFY(verdicts[0].ok());
        QCOMPARE(verdicts[1].problem, ReturnNodeProblem::DuplicateKey);
        QVERIFY(verdicts[2].ok());
    }

    void anyValueIsAnOutput()
    {
        // As in torchvision: an int (shape arithmetic) is an output like a tensor.
        QVERIFY(check({{"size", "s"}}).front().ok());
    }

    void requireThrowsTheFirstProblem()
    {
        try {
            requireValidReturnNodes(sampleGraph(), {{"fc", "a"}, {"nope", "b"}});
            QFAIL("no exception");
        } catch (const UnknownNodeError& e) {
            QVERIFY(!e.suggestions().empty());
            QVERIFY(std::string(e.what()).find("'nope' in eval mode") != std::string::npos);
        }
        QVERIFY_THROWS_EXCEPTION(Error, requireValidReturnNodes(sampleGraph(), {}));
        QVERIFY_THROWS_EXCEPTION(Error, requireValidReturnNodes(sampleGraph(), {{"loop.add", "a"}}));
        QCOMPARE(requireValidReturnNodes(sampleGraph(), {{"conv1", "c"}}).front().resolved, std::string("conv1"));
    }

    void modesAndKindsRoundTrip()
    {
        for (Mode mode : {Mode::Train, Mode::Eval})
            QCOMPARE(modeFromString(toString(mode)).value(), mode);
        QVERIFY(!modeFromString("Eval"));
        for (NodeKind kind : {NodeKind::Input, NodeKind::Attribute, NodeKind::LeafModule, NodeKind::Function, NodeKind::Op})
            QCOMPARE(nodeKindFromString(toString(kind)).value(), kind);
        QVERIFY(!nodeKindFromString("module"));
    }
};

QTEST_APPLESS_MAIN(ReturnNodeValidationTest)
#include "ReturnNodeValidationTest.moc"
