#pragma once

namespace featscope {

/// Why torch::jit::load is 5-10x faster in featscope's programs than in a bare LibTorch program on models with
/// thousands of submodules (see SubgraphRewriterShortcut.cpp).
///
/// LibTorch 1.13's torch::jit::load ends with `rewriteQuantizedConvForBC(module)` (serialization/import.cpp): for
/// every submodule it registers eight patterns (quantized::conv2d/conv3d, with and without relu, in the argument
/// order of files saved before PyTorch 1.6) in a new SubgraphRewriter and runs it on every method graph, and
/// every run parses each pattern's IR again. On a 2,000-node model that is 90% of torch::jit::load (0.37 s of
/// 0.40 s on this machine), on a 10,000-node one 1.6 s of 1.8 s, although only a graph that holds those ops can
/// change.
///
/// Algorithm: this core library defines SubgraphRewriter::runOnModule itself. libtorch_cpu calls its own
/// exported functions through its PLT, so the definition in the executable takes the place of LibTorch's for
/// every caller in the process (ELF symbol interposition, as an allocator replaces malloc). It does what
/// LibTorch's does (clear the nodes to delete, run runOnGraph on each method's graph) but skips a graph that
/// lacks some node kind of every registered pattern; each pattern's kinds are parsed once per process.
///
/// Contract: every module and graph ends exactly as LibTorch's runOnModule leaves it. SubgraphMatcher matches
/// a pattern node only to a graph node of the same kind, so a graph without one of a pattern's kinds has no
/// match of it, and runOnGraph changes nothing there. Only built against LibTorch 1.13, whose runOnModule this
/// repeats; with another version LibTorch's own runs.
///
/// Whether this process's SubgraphRewriter::runOnModule is featscope's (false when the executable was linked
/// without core's link options or the LibTorch version differs).
bool subgraphRewriterShortcutInstalled();

/// Turns the skipping off (false) or on (true, the default) for the whole process; returns the previous
/// setting. Off, runOnModule runs every graph, as LibTorch's: for tests that compare the two.
bool setSubgraphRewriterShortcut(bool enabled);

} // namespace featscope
