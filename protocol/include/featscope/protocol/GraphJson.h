#pragma once

#include <featscope/GraphDescription.h>

#include <QJsonObject>
#include <QString>

#include <string>
#include <vector>

namespace featscope::protocol {

/// One mode's graph as a "load" response carries it: `G` in docs/engine-protocol.md.
struct ModeGraphMessage {
    std::vector<std::string> names; ///< getGraphNodeNames order
    GraphDescription graph;         ///< describeGraph (nodes with edges); empty when `error` is set
    QString error;                  ///< why this mode could not be described
};

/// {"names": [...], "nodes": [{"name", "kind", "modulePath", "moduleClass", "op", "valueType",
/// "controlFlow", "singleValue", "inputs"}...], "error"?}
QJsonObject toJson(const ModeGraphMessage& message);
/// The inverse of toJson; missing fields take GraphNode's defaults, edges to no node are dropped.
ModeGraphMessage modeGraphFromJson(const QJsonObject& object, Mode mode);

} // namespace featscope::protocol
