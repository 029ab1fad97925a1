#!/usr/bin/python3
"""featscope against torchvision, side by side on the same weights: writes BENCHMARKS.md and bench/results.json.

Run it through scripts/benchmark.sh (which builds the executables first). Every figure is a ratio of two
medians measured in the same run, with the two sides interleaved (a block of featscope runs, then a block of
torchvision runs, and so on), because these machines are shared and noisy. Both sides use 2 intra-op threads
(torch.set_num_threads / at::set_num_threads), no-grad mode and the same seeded random weights
(torch.manual_seed(0) before building each torchvision model; featscope reads the torch.jit.script of that
same instance).

The featscope side runs in featscope-bench (bench/featscope_bench.cpp), a C++ process that keeps the model
loaded and answers one command per line; the torchvision side runs in this process. Only one side runs at a
time: the other waits on a pipe.
"""

import argparse
import datetime
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
THREADS = 2

# Four return nodes per model (truncated names: the last node at or below each prefix), the same on both sides.
RETURN_NODES = {
    "resnet50": {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
    "densenet121": {"features.transition1": "0", "features.transition2": "1", "features.transition3": "2",
                    "features.norm5": "3"},
    "swin_t": {"features.1": "0", "features.3": "1", "features.5": "2", "features.7": "3"},
    "resnet18": {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
}

GOALS = {
    "names": "featscope at least 20x faster (ratio <= 0.05)",
    "create": "featscope at least 20x faster (ratio <= 0.05)",
    "forward": "featscope no slower (ratio <= 1.0)",
    "pruning": "layer2 extractor within 5% of those layers inside the full run (ratio <= 1.05)",
    "optimize": "optimized at least 1.3x faster (ratio <= 0.77), values within 1e-4, refused in training mode",
    "memory": "featscope lower (ratio < 1.0)",
    "gui": "first drawn graph < 1 s at about 2,000 nodes, < 3 s at 10,000; no GUI-thread block over 100 ms",
    "user": "default options: engine run within 1.15x of a bare forward (new selection 2x), ViT-B/16 run < 1.5 s, "
            "features at least Python's images/s, extractor of the last node within 5% of the bare model",
}
# A figure taken while the machine is busy is not a figure: ratios drifted 2-40x beside builds and tests.
QUIET_LOAD = 1.5
QUIET_WAIT_S = 180


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def median(values):
    return statistics.median(values) if values else float("nan")


# --------------------------------------------------------------------------------------------- featscope side

class FeatscopeServer:
    """featscope-bench serve: one command per line, one JSON reply per line."""

    def __init__(self, exe, threads=THREADS):
        """threads=None keeps the programs' default policy (every core the process may use)."""
        self.proc = subprocess.Popen([exe, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1, env=default_thread_env() if threads is None else None)
        if threads is not None:
            self.call("threads", THREADS)

    def call(self, *words):
        line = " ".join(str(w) for w in words)
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            raise RuntimeError(f"featscope-bench died on '{line}' (exit {self.proc.wait()})")
        data = json.loads(reply)
        if not data.get("ok"):
            raise RuntimeError(f"featscope-bench '{line}': {data.get('error')}")
        return data

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
        except OSError:
            pass
        self.proc.wait(timeout=60)


def default_thread_env():
    """The environment a user's shell has: no thread-count variables, so every side uses its own default."""
    return {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}


class EngineProcess:
    """featscope-engine as the inspector starts it (default options), spoken to over its protocol
    (docs/engine-protocol.md: a JSON line, then the payload bytes it declares)."""

    def __init__(self, exe):
        self.proc = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=default_thread_env())
        self.next_id = 1

    def request(self, cmd, **fields):
        """Sends one request; returns (response, wall ms from writing the request to reading the whole answer,
        a run's tensors included)."""
        line = json.dumps({"id": self.next_id, "cmd": cmd, **fields})
        self.next_id += 1
        start = time.perf_counter()
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            raise RuntimeError(f"featscope-engine died on {cmd} (exit {self.proc.wait()})")
        data = json.loads(reply)
        payload = sum(len(self.proc.stdout.read(size)) for size in data.get("payload", []))
        ms = (time.perf_counter() - start) * 1000.0
        if payload != sum(data.get("payload", [])):
            raise RuntimeError(f"featscope-engine {cmd}: the answer ended inside its payload")
        if not data.get("ok"):
            raise RuntimeError(f"featscope-engine {cmd}: {data.get('error')}")
        return data, ms

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def specs(return_nodes):
    return [f"{node}={key}" for node, key in return_nodes.items()]


# ------------------------------------------------------------------------------------------------- helpers

def timed_ms(fn):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def reps_for(estimate_ms, budget_s, lo, hi):
    if estimate_ms <= 0:
        return hi
    return max(lo, min(hi, int(budget_s * 1000.0 / estimate_ms)))


def interleave(sides, total_reps, rounds=None):
    """sides: {name: fn(n) -> list of ms}. Runs each side's total_reps[name] spread over `rounds` blocks (default:
    one repetition per block), reversing the order every round (ABBAABBA...), so slow drifts in the machine's
    load hit every side alike."""
    if rounds is None:
        rounds = max(total_reps.values())
    samples = {name: [] for name in sides}
    names = list(sides)
    for r in range(rounds):
        order = names if r % 2 == 0 else list(reversed(names))
        for name in order:
            left = total_reps[name] - len(samples[name])
            block = -(-left // (rounds - r)) if left > 0 else 0
            if block:
                samples[name].extend(sides[name](block))
    return samples


def python_reps(fn):
    def run(n):
        out = []
        for _ in range(n):
            out.append(timed_ms(fn))
        return out
    return run


# ------------------------------------------------------------------------------------------------- models

def build_models(torch, torchvision, work, names):
    """Seeded eager torchvision models, their torch.jit.script in work/NAME.pt (cached)."""
    models = {}
    for name in names:
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)().eval()
        path = os.path.join(work, f"{name}.pt")
        stamp = os.path.join(work, f"{name}.stamp")
        tag = f"{torch.__version__} {torchvision.__version__} seed0"
        if not (os.path.exists(path) and os.path.exists(stamp) and open(stamp).read() == tag):
            log(f"scripting {name}")
            torch.jit.script(model).save(path)
            torch.save(model.state_dict(), os.path.join(work, f"{name}.state.pt"))
            with open(stamp, "w") as f:
                f.write(tag)
        models[name] = (model, path)
    return models


def synthetic_module(torch, stages, blocks):
    """A scripted residual net of `stages` x `blocks` tiny blocks (7 named nodes per block), for the GUI figure."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(4, 4, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(4)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(4, 4, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(4)

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 4, 3, padding=1)
            self.stages = nn.Sequential(*[nn.Sequential(*[Block() for _ in range(blocks)]) for _ in range(stages)])
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(4, 10)

        def forward(self, x):
            x = self.stages(self.stem(x))
            return self.fc(torch.flatten(self.pool(x), 1))

    torch.manual_seed(0)
    return torch.jit.script(Net().eval())


# ------------------------------------------------------------------------------------------------- figures

def figure_names(torch, fx, server, models, budget, smoke):
    rows = []
    for name, (model, path) in models.items():
        log(f"names: {name}")
        server.call("load", path)
        warm_fs = server.call("names", 1)
        py = {}

        def tv_names():
            py["names"] = fx.get_graph_node_names(model)
        tv_first = timed_ms(tv_names)
        fs_first = warm_fs["samples_ms"][0]
        rounds = 1 if smoke else 5
        reps = {"featscope": reps_for(fs_first, budget, rounds, 50 if not smoke else 1),
                "torchvision": reps_for(tv_first, budget, rounds, 15 if not smoke else 1)}
        samples = interleave({"featscope": lambda n: server.call("names", n)["samples_ms"],
                              "torchvision": python_reps(tv_names)}, reps, rounds)
        tv_train, tv_eval = py["names"]
        rows.append(row(name, samples, extra={"featscope_nodes": [warm_fs["train"], warm_fs["eval"]],
                                              "torchvision_nodes": [len(tv_train), len(tv_eval)]},
                        goal=lambda r: r <= 0.05))
    return rows


def figure_create(torch, fx, server, models, budget, smoke):
    rows = []
    for name, (model, path) in models.items():
        log(f"create: {name}")
        server.call("load", path)
        nodes = RETURN_NODES[name]
        fs_first = server.call("create", 1, *specs(nodes))["samples_ms"][0]

        def tv_create():
            fx.create_feature_extractor(model, return_nodes=nodes)
        tv_first = timed_ms(tv_create)
        rounds = 1 if smoke else 5
        reps = {"featscope": reps_for(fs_first, budget, rounds, 50 if not smoke else 1),
                "torchvision": reps_for(tv_first, budget, rounds, 15 if not smoke else 1)}
        samples = interleave({"featscope": lambda n: server.call("create", n, *specs(nodes))["samples_ms"],
                              "torchvision": python_reps(tv_create)}, reps, rounds)
        rows.append(row(name, samples, extra={"return_nodes": list(nodes)}, goal=lambda r: r <= 0.05))
    return rows


def save_input(torch, work, batch, size=224):
    path = os.path.join(work, f"input_b{batch}_{size}.pt")
    torch.manual_seed(1234)
    x = torch.randn(batch, 3, size, size)
    torch.save(x, path)
    return x, path


def max_abs_diff(a, b):
    return max(float((a[k] - b[k]).abs().max()) for k in a)


# Warm-up runs per side before timing. featscope's extractor runs on LibTorch's profiling executor, which runs a
# graph as is while it records shapes (getNumProfiledRuns(), 1 here), optimises it on the next run, and again after
# a guard fails (a new input shape): so every (model, batch) gets a fresh extractor and the same warm-up count as
# torchvision's eager extractor, which needs none but gets it too (allocator, oneDNN primitive caches).
FORWARD_WARMUP = 3


def figure_forward(torch, fx, server, models, work, batches, budget, smoke):
    rows = []
    executor = server.call("executor")
    warmup = 1 if smoke else max(FORWARD_WARMUP, executor["profiled_runs"] + 2)
    for name, (model, path) in models.items():
        server.call("load", path)
        nodes = RETURN_NODES[name]
        tv = fx.create_feature_extractor(model, return_nodes=nodes).eval()
        for batch in batches:
            log(f"forward: {name} batch {batch}")
            server.call("extractor", *specs(nodes))  # fresh: no executor state from another batch size
            x, xpath = save_input(torch, work, batch)
            server.call("input", xpath)
            out_path = os.path.join(work, "featscope_out.pt")
            with torch.no_grad():
                fs_warm = server.call("forward", "plain", 1, warmup - 1)["samples_ms"][0]
                for _ in range(warmup - 1):
                    tv(x)
                tv_warm = timed_ms(lambda: tv(x))
                expected = tv(x)
                server.call("dump", "plain", out_path)
                diff = max_abs_diff(expected, torch.load(out_path))
                del expected
                gc.collect()
                est = max(fs_warm, tv_warm)
                n = 1 if smoke else reps_for(est, budget, 5 if est < 5000 else 3, 40)
                samples = interleave({"featscope": lambda k: server.call("forward", "plain", k)["samples_ms"],
                                      "torchvision": python_reps(lambda: tv(x))},
                                     {"featscope": n, "torchvision": n})
            rows.append(row(f"{name} batch {batch}", samples,
                            extra={"max_abs_diff_vs_torchvision": diff, "warmup_runs": warmup, "executor": executor},
                            goal=lambda r: r <= 1.0))
        gc.collect()
    return rows


def top_level_ops(prof):
    events = prof.events()
    roots = [e for e in events if e.cpu_parent is None]
    forward = max(roots, key=lambda e: e.time_range.elapsed_us())
    ops = [e for e in events if e.cpu_parent is forward]
    ops.sort(key=lambda e: e.time_range.start)
    return forward, ops


def figure_pruning(torch, server, models, work, budget, smoke):
    """ResNet-50: featscope's extractor returning layer2 vs the stem + layer1 + layer2 part of a full run."""
    model, path = models["resnet50"]
    batch = 1 if smoke else 8
    log(f"pruning: resnet50 layer2, batch {batch}")
    nn = torch.nn
    prefix_path = os.path.join(work, "resnet50_prefix.pt")
    prefix = torch.jit.script(nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1,
                                            model.layer2).eval())
    prefix.save(prefix_path)

    class Rest(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer3, self.layer4, self.avgpool, self.fc = model.layer3, model.layer4, model.avgpool, model.fc

        def forward(self, x):
            return self.fc(torch.flatten(self.avgpool(self.layer4(self.layer3(x))), 1))
    rest_path = os.path.join(work, "resnet50_rest.pt")
    torch.jit.script(Rest().eval()).save(rest_path)
    x, xpath = save_input(torch, work, batch)
    with torch.no_grad():
        mid_path = os.path.join(work, f"resnet50_layer2_b{batch}.pt")
        torch.save(prefix(x), mid_path)
    server.call("load", path)
    server.call("extractor", "layer2=layer2")
    extractor_path = os.path.join(work, "resnet50_layer2.pt")
    server.call("save", "plain", extractor_path)
    server.call("module", "full", path)
    server.call("module", "prefix", prefix_path)
    server.call("input", xpath)
    warm = 0 if smoke else 3
    server.call("module", "rest", rest_path)
    inputs = {"plain": xpath, "prefix": xpath, "full": xpath, "rest": mid_path}

    def run(k, m, warmup=0):
        server.call("input", inputs[k])
        return server.call("forward", k, m, warmup)["samples_ms"]
    est = {k: run(k, 1, warm)[0] for k in inputs}
    n = 1 if smoke else reps_for(est["full"] * 2.5, budget, 10, 30)
    samples = interleave({k: (lambda k: lambda m: run(k, m))(k) for k in inputs}, {k: n for k in est})

    # Profile the full model (TorchScript, same file, same runtime, run from Python under torch.profiler):
    # its top-level ops run in order, and the extractor's ops are the first N of them. The prefix's share
    # of the profiled forward span, times the unprofiled full-run median, is the time those layers take
    # inside a full run.
    full = torch.jit.load(path).eval()
    ext = torch.jit.load(extractor_path).eval()
    durations, matched = [], None
    with torch.no_grad():
        for _ in range(2):
            full(x)
            ext(x)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as p:
            ext(x)
        _, ext_ops = top_level_ops(p)
        ext_names = [e.name.rstrip("_") for e in ext_ops]
        for _ in range(1 if smoke else 9):
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as p:
                full(x)
            fwd, ops = top_level_ops(p)
            names = [e.name.rstrip("_") for e in ops]
            matched = names[:len(ext_names)] == ext_names
            durations.append([e.time_range.elapsed_us() for e in ops])
    # Per-op medians over the profiled runs, so a burst of load during one run does not move the split.
    per_op = [median(column) for column in zip(*durations)]
    fractions = [sum(run[:len(ext_names)]) / sum(run) for run in durations]
    fraction = sum(per_op[:len(ext_names)]) / sum(per_op)
    med = {k: median(v) for k, v in samples.items()}
    in_full = fraction * med["full"]
    ratio = med["plain"] / in_full
    return {
        "name": f"resnet50 layer2 batch {batch}",
        "featscope_ms": med["plain"],
        "layers_in_full_run_ms": in_full,
        "full_run_ms": med["full"],
        "hand_split_ms": med["prefix"],
        "hand_split_rest_ms": med["rest"],
        "full_minus_rest_ms": med["full"] - med["rest"],
        "profiled_fraction": fraction,
        "profiled_fractions": fractions,
        "op_sequence_matches": matched,
        "extractor_ops": len(ext_names),
        "full_ops": len(names),
        "ratio": ratio,
        "ratio_vs_hand_split": med["plain"] / med["prefix"],
        "extractor_share_of_full": med["plain"] / med["full"],
        "samples_ms": samples,
        "pass": ratio <= 1.05,
    }


def figure_optimize(torch, server, models, work, cli, budget, smoke):
    rows = []
    batch = 1 if smoke else 8
    for name, (model, path) in models.items():
        log(f"optimize: {name} batch {batch}")
        _, xpath = save_input(torch, work, batch)
        server.call("load", path)
        server.call("extractor", *specs(RETURN_NODES[name]))
        server.call("input", xpath)
        opt_ms = server.call("optimize")["ms"]
        refusal = server.call("refuse_train")
        warm = 0 if smoke else 3
        est = max(server.call("forward", k, 1, warm)["samples_ms"][0] for k in ("plain", "optimized"))
        d = server.call("diff", "plain", "optimized")
        diff, scale = d["max_abs_diff"], d["max_abs_value"]
        n = 1 if smoke else reps_for(est, budget, 5 if est < 5000 else 3, 40)
        samples = interleave({"optimized": lambda k: server.call("forward", "optimized", k)["samples_ms"],
                              "plain": lambda k: server.call("forward", "plain", k)["samples_ms"]},
                             {"optimized": n, "plain": n})
        med = {k: median(v) for k, v in samples.items()}
        ratio = med["optimized"] / med["plain"]
        rows.append({"name": f"{name} batch {batch}", "optimized_ms": med["optimized"], "plain_ms": med["plain"],
                     "ratio": ratio, "speedup": 1 / ratio, "max_abs_diff": diff, "max_abs_value": scale,
                     "relative_diff": diff / scale if scale else diff, "optimize_ms": opt_ms,
                     "refused_in_training_mode": refusal.get("refused"), "refusal_message": refusal.get("message"),
                     "samples_ms": samples,
                     "pass": ratio <= 1 / 1.3 and diff <= 1e-4 and bool(refusal.get("refused"))})
    if cli is None:
        return rows, None
    # The CLI refuses train-mode outputs with --optimize before doing any work.
    name, (model, path) = next(iter(models.items()))
    node = next(iter(RETURN_NODES[name]))
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [cli, "extract", path, "--train-return", node, "--eval-return", node, "--optimize", "-o",
               os.path.join(tmp, "x.pt")]
        result = subprocess.run(cmd, capture_output=True, text=True)
    cli_refusal = {"command": " ".join(["featscope-cli"] + cmd[1:2] + [os.path.basename(path)] + cmd[3:-1] + ["x.pt"]),
                   "exit": result.returncode, "stderr": result.stderr.strip().splitlines()[0] if result.stderr else ""}
    return rows, cli_refusal


# Each side's peak is what its own process reports: VmHWM from /proc/self/status, the high-water mark of that
# process's address space, which starts afresh at exec. getrusage/wait4's ru_maxrss would not do: Linux carries
# the peak of the process that exec'd into it (this large driver, through a forked child), and RUSAGE_CHILDREN is
# a maximum over all children ever waited for. Each measurement is a fresh process started from here.
def run_measured(cmd):
    """Runs cmd as a fresh process; returns (its JSON report, wall seconds)."""
    start = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1]), wall


def figure_memory(torch, models, work, bench_exe, batch, smoke):
    rows = []
    runs = 1 if smoke else 2
    for name, (model, path) in models.items():
        log(f"memory: {name} batch {batch}")
        _, xpath = save_input(torch, work, batch)
        nodes = RETURN_NODES[name]
        fs_cmd = [bench_exe, "run", path, "--input", xpath, "--threads", str(THREADS)]
        for s in specs(nodes):
            fs_cmd += ["--return", s]
        tv_cmd = [sys.executable, os.path.join(HERE, "torchvision_run.py"), "--model", name,
                  "--state", os.path.join(work, f"{name}.state.pt"), "--input", xpath, "--threads", str(THREADS),
                  "--return-nodes", json.dumps(nodes)]
        fs_runs, tv_runs = [], []
        for _ in range(runs):  # alternating, so both sides see the same machine
            fs_runs.append(run_measured(fs_cmd))
            tv_runs.append(run_measured(tv_cmd))
        fs_kb = [r["peak_rss_kb"] for r, _ in fs_runs]
        tv_kb = [r["peak_rss_kb"] for r, _ in tv_runs]
        fs_peak, tv_peak = max(fs_kb), max(tv_kb)
        rows.append({"name": f"{name} batch {batch}", "featscope_kb": fs_peak, "torchvision_kb": tv_peak,
                     "ratio": fs_peak / tv_peak, "featscope_samples_kb": fs_kb, "torchvision_samples_kb": tv_kb,
                     "featscope_loader_child_kb": max(r["children_peak_rss_kb"] for r, _ in fs_runs),
                     "stages_kb": {side: {stage: max(r.get(f"peak_{stage}_kb", 0) for r, _ in side_runs)
                                          for stage in ("after_load", "before_forward")}
                                   for side, side_runs in (("featscope", fs_runs), ("torchvision", tv_runs))},
                     "featscope_wall_s": median([w for _, w in fs_runs]),
                     "torchvision_wall_s": median([w for _, w in tv_runs]),
                     "checksums": [fs_runs[0][0]["checksum"], tv_runs[0][0]["checksum"]], "pass": fs_peak < tv_peak})
    return rows


def figure_gui(torch, server, models, work, bin_dir, runs, smoke):
    """Opening models of about 200, 2,000 and 10,000 named nodes in the inspector."""
    targets = [("synthetic 200", 2, 14), ("synthetic 2k", 10, 28), ("synthetic 10k", 20, 71)]
    if smoke:
        targets = targets[:1]
    files = []
    for label, stages, blocks in targets:
        path = os.path.join(work, f"synthetic_{stages}x{blocks}.pt")
        if not os.path.exists(path):
            log(f"gui: generating {label}")
            synthetic_module(torch, stages, blocks).save(path)
        files.append((label, path))
    if not smoke:
        extra = [("resnet50", models["resnet50"][1])] if "resnet50" in models else []
        densenet = os.path.join(work, "densenet201.pt")
        if not os.path.exists(densenet):
            import torchvision
            torch.manual_seed(0)
            torch.jit.script(torchvision.models.densenet201().eval()).save(densenet)
        extra.append(("densenet201", densenet))
        files = extra[:1] + files[:1] + extra[1:] + files[1:]
    rows = []
    gui_bench = os.path.join(bin_dir, "featscope-bench-gui")
    gui = os.path.join(bin_dir, "featscope")
    bare_load = os.path.join(bin_dir, "featscope-bench-bare-load")
    for label, path in files:
        jit_ms = server.call("jitload", path)["ms"]
        load_ms = server.call("load", path)["ms"]
        counts = server.call("names", 1)
        describe_ms = server.call("describe", 1)["samples_ms"][0]
        log(f"gui: {label} ({counts['eval']} eval nodes)")
        samples = []
        bare_samples = []
        for _ in range(runs):
            # The reference, alternated with the inspector: a bare LibTorch program's launch, load and exit.
            start = time.monotonic()
            subprocess.run([bare_load, path], check=True, capture_output=True)
            bare_samples.append(time.monotonic() - start)
            with tempfile.TemporaryDirectory() as config:
                env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=config)
                start = time.monotonic()
                result = subprocess.run([gui_bench, path, "--timeout", "180"], capture_output=True, text=True, env=env)
                exited = time.monotonic()
            lines = [l for l in result.stdout.splitlines() if l.startswith("{")]
            if not lines:
                raise RuntimeError(f"featscope-bench-gui failed on {path}: {result.stderr[-2000:]}")
            data = json.loads(lines[-1])
            if not data["ok"]:
                raise RuntimeError(f"featscope-bench-gui could not open {path}: {result.stderr[-2000:]}")
            samples.append({
                "first_drawn_s": data["first_drawn"] - start,
                "to_exec_s": data["open_called"] - start,
                "model_loaded_s": data["model_loaded"] - start,
                "graph_ready_s": data["graph_ready"] - start,
                "longest_block_ms": data["longest_block_s"] * 1000,
                "longest_block_at_s": data["longest_block_at"] - start,
                "blocks_over_50ms": data["blocks_over_50ms"],
                "boxes": data["boxes"],
                "opened_line": data["opened_line"],
                "process_s": exited - start,
            })
        # The real binary, headless: featscope MODEL.pt --screenshot OUT.png, launch to exit.
        with tempfile.TemporaryDirectory() as config:
            env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=config)
            start = time.monotonic()
            result = subprocess.run([gui, path, "--screenshot", os.path.join(config, "shot.png")], capture_output=True,
                                    text=True, env=env)
            screenshot_s = time.monotonic() - start
        opened = [l for l in result.stderr.splitlines() if "featscope: opened" in l]
        first = median([s["first_drawn_s"] for s in samples])
        bare = median(bare_samples)
        block = max(s["longest_block_ms"] for s in samples)
        rows.append({"name": label, "nodes": counts["eval"], "first_drawn_s": first,
                     "bare_load_process_s": bare, "bare_load_runs_s": bare_samples, "ratio_to_bare_load": first / bare,
                     "engine_work_ms": {"torch_jit_load": jit_ms, "featscope_loadModule": load_ms,
                                        "getGraphNodeNames": counts["samples_ms"][0], "describeGraph_both": describe_ms},
                     "first_drawn_runs_s": [s["first_drawn_s"] for s in samples],
                     "longest_block_ms": block, "runs": samples, "screenshot_exit_s": screenshot_s,
                     "screenshot_exit_code": result.returncode, "screenshot_opened_line": opened[0] if opened else "",
                     "pass_time": first < 1.0 if counts["eval"] <= 3000 else first < 3.0 if counts["eval"] <= 12000 else None,
                     "pass_block": block <= 100})
    return rows


# What a user does with default options: the inspector's Run (the engine's `run`, image to outputs on disk) and
# `featscope-cli features`, each against the bare work in the same run. Two selections per model: the first is
# run repeatedly (the engine keeps its extractor), the second is a new selection (a new extractor and its first
# forward).
USER_SELECTIONS = {
    "resnet50": ("layer4", "layer3"),
    "vit_b_16": ("encoder.ln", "encoder.layers.encoder_layer_5"),
    "fashion_cnn": ("features.block3", "features.block2"),
}
USER_FEATURES = {"resnet50": ("layer4", "avg"), "vit_b_16": ("encoder.ln", "cls")}
USER_REPEATS = 10
# The models issue 11's run goals name (ResNet-50 batch 1; ViT-B/16, whose ratios are held to the same goals).
# The bundled model's forward is 0.2-3 ms, against a request's fixed work (decoding the image, writing the
# outputs): its ratios are shown, not judged.
ENGINE_RUN_GOAL_MODELS = ("resnet50", "vit_b_16")


def user_image(work):
    from PIL import Image
    import numpy as np
    path = os.path.join(work, "user_image.jpg")
    if not os.path.exists(path):
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((320, 256), Image.BICUBIC).save(path)
    return path


def user_images(work, count):
    from PIL import Image
    import numpy as np
    folder = os.path.join(work, f"user_images_{count}")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(count):
        path = os.path.join(folder, f"{i:04d}.jpg")
        if not os.path.exists(path):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((256, 256), Image.BICUBIC).save(
                path, quality=90)
    return folder


def figure_user(torch, models, work, bin_dir, bench_exe, smoke):
    """Default-options user paths against bare LibTorch work measured in the same run (no thread pinning)."""
    engine_exe = os.path.join(bin_dir, "featscope-engine")
    image = user_image(work)
    reference = FeatscopeServer(bench_exe, threads=None)
    rows = {"engine_run": [], "bare_forward": [], "features": []}
    repeats = 2 if smoke else USER_REPEATS
    fashion = os.path.join(ROOT, "resources", "models", "fashion_cnn.pt")
    paths = {name: path for name, (_, path) in models.items() if name in USER_SELECTIONS}
    paths["fashion_cnn"] = fashion
    try:
        for name, path in paths.items():
            first_node, new_node = USER_SELECTIONS[name]
            log(f"user: engine run {name}")
            engine = EngineProcess(engine_exe)
            try:
                hello, _ = engine.request("hello")
                loaded, _ = engine.request("load", path=path)
                # As the inspector does: the model's own preprocessing (featscope.json) when it has one.
                preprocessing = {"preprocessing": loaded["preprocessing"]} if "preprocessing" in loaded else {}
                def run(node):
                    return engine.request("run", image=os.path.abspath(image), mode="eval",
                                          returnNodes=[{"node": node, "key": "f"}], **preprocessing)
                first, first_ms = run(first_node)
                repeated = [run(first_node)[1] for _ in range(repeats)]
                _, new_ms = run(new_node)
            finally:
                engine.close()
            # The same extractors, run bare in C++ on an input of the same shape, warm.
            xpath = os.path.join(work, f"user_input_{name}.pt")
            torch.manual_seed(0)
            torch.save(torch.randn(*first["inputShape"]), xpath)
            reference.call("load", path)
            reference.call("input", xpath)
            bare = {}
            for node in (first_node, new_node):
                reference.call("extractor", f"{node}=f")
                bare[node] = median(reference.call("forward", "plain", repeats, 3)["samples_ms"])
            rows["engine_run"].append({
                "name": name, "engine_threads": hello.get("threads"), "blas": hello.get("blas"),
                "first_run_ms": first_ms, "repeated_run_ms": median(repeated), "repeated_samples_ms": repeated,
                "new_selection_first_run_ms": new_ms, "bare_forward_ms": bare[first_node],
                "bare_forward_new_selection_ms": bare[new_node],
                "repeated_ratio": median(repeated) / bare[first_node],
                "new_selection_ratio": new_ms / bare[new_node],
                "pass_repeated": median(repeated) / bare[first_node] <= 1.15,
                "pass_new_selection": new_ms / bare[new_node] <= 2.0,
                "pass_vit": (first_ms < 1500 and median(repeated) < 1500) if name == "vit_b_16" else None})
            # featscope adds nothing to a forward: an extractor of the model's last node against the model itself,
            # both bare in C++ (torch::jit::load + forward).
            if name != "fashion_cnn":
                last = {"resnet50": "fc", "vit_b_16": "heads"}[name]
                reference.call("extractor", f"{last}=f")
                reference.call("module", "full", path)
                n = 2 if smoke else repeats
                samples = interleave({"featscope": lambda k: reference.call("forward", "plain", k, 1)["samples_ms"],
                                      "torchvision": lambda k: reference.call("forward", "full", k, 1)["samples_ms"]},
                                     {"featscope": n, "torchvision": n})
                rows["bare_forward"].append(row(f"{name}: extractor of '{last}' vs torch::jit::load + forward",
                                                samples, goal=lambda r: r <= 1.05))
        for name, (node, pool) in USER_FEATURES.items():
            if name not in models:
                continue
            count = 8 if smoke else 64
            folder = user_images(work, count)
            log(f"user: features {name} on {count} images")
            out = os.path.join(work, f"user_features_{name}.npy")
            result = subprocess.run([os.path.join(bin_dir, "featscope-cli"), "features", models[name][1], "--return",
                                     node, "--pool", pool, "--batch", "8", "--restart", "-o", out, folder],
                                    capture_output=True, text=True, env=default_thread_env())
            if result.returncode != 0:
                rows["features"].append({"name": name, "error": result.stderr.strip()[-500:]})
                continue
            ours = float(re.search(r"([\d.]+) images/s", result.stderr).group(1))
            theirs_run = subprocess.run([sys.executable, os.path.join(HERE, "python_features.py"), "--model", name,
                                         "--weights", models[name][1], "--images", folder, "--batch", "8",
                                         "--out", out + ".python.npy"],
                                        capture_output=True, text=True, env=default_thread_env())
            if theirs_run.returncode != 0:
                raise RuntimeError(f"python_features.py {name}: {theirs_run.stderr[-2000:]}")
            theirs = json.loads(theirs_run.stdout.strip().splitlines()[-1])
            rows["features"].append({"name": f"{name} {node} --pool {pool}", "images": count,
                                     "featscope_images_per_s": ours, "python_images_per_s": theirs["images_per_s"],
                                     "python_threads": theirs["threads"], "ratio": ours / theirs["images_per_s"],
                                     "pass": ours >= theirs["images_per_s"]})
    finally:
        reference.close()
    return rows


def row(name, samples, extra=None, goal=None):
    fs, tv = median(samples["featscope"]), median(samples["torchvision"])
    r = {"name": name, "featscope_ms": fs, "torchvision_ms": tv, "ratio": fs / tv, "speedup": tv / fs,
         "samples_ms": samples, "n": {k: len(v) for k, v in samples.items()}}
    r.update(extra or {})
    r["pass"] = goal(r["ratio"]) if goal else None
    return r


# ------------------------------------------------------------------------------------------------- report

def machine_info(torch, torchvision):
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = ""
    try:
        blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    except OSError:
        pass
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": THREADS, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "python": platform.python_version(), "blas": blas,
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""), "git": git + ("+changes" if dirty else ""),
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "load_before": os.getloadavg()}


def fmt_ms(v):
    if v != v:
        return "n/a"
    if v >= 1000:
        return f"{v / 1000:.2f} s"
    if v >= 10:
        return f"{v:.0f} ms"
    if v >= 1:
        return f"{v:.1f} ms"
    return f"{v:.2f} ms"


def verdict(ok):
    return "n/a" if ok is None else ("**pass**" if ok else "**MISS**")


def write_report(results, out_md, json_rel, notes):
    info = results["machine"]
    lines = []
    w = lines.append
    w("# Benchmarks: featscope against torchvision\n")
    w(f"Generated by `scripts/benchmark.sh` on {info['date']} (commit {info['git']}); raw samples in "
      f"[`{json_rel}`]({json_rel}). Do not edit by hand: notes come from `bench/notes.md`.\n")
    w(f"- Machine: {info['cpu'] or 'unknown CPU'}, {info['cores']} cores; load average before the run "
      f"{', '.join(f'{x:.1f}' for x in info['load_before'])}, after "
      f"{', '.join(f'{x:.1f}' for x in info['load_after'])} (the machine is shared: absolute times vary, "
      f"ratios of interleaved runs much less).")
    for part in info.get("earlier_runs", []):
        figs = f" ({', '.join(part['figures'])})" if part.get("figures") else ""
        w(f"- Part of these figures{figs} measured in another run on {part['date']} (commit {part['git']}); load "
          f"average before {', '.join(f'{x:.1f}' for x in part['load_before'])}, after "
          f"{', '.join(f'{x:.1f}' for x in part.get('load_after', []))}.")
    w(f"- **{info['threads']} intra-op threads on both sides** (`torch.set_num_threads`, `at::set_num_threads`); "
      f"torch {info['torch']}, torchvision {info['torchvision']}, Python {info['python']}; BLAS "
      f"`{info['blas']}`; OPENBLAS_CORETYPE=`{info['openblas_coretype']}`.")
    w("- Same weights on both sides: `torch.manual_seed(0)` then the torchvision constructor; featscope reads "
      "`torch.jit.script` of that same instance. featscope runs in C++ (`featscope-bench`, LibTorch), "
      "torchvision in Python; both in eval mode under no-grad, after warm-up, timings interleaved in blocks.")
    w("- Ratio = featscope time / torchvision time (lower is better); medians of all samples.\n")

    w("## Summary\n")
    figure_load = info.get("figure_load", {})
    w("| # | figure | goal | worst measured | result | load average before |")
    w("|---|---|---|---|---|---|")
    for i, (key, title, worst_fmt) in enumerate(SUMMARY, 1):
        if key not in results:
            continue
        worst, ok = worst_fmt(results[key])
        load = figure_load.get(key)
        load_text = "" if load is None else f"{load:.2f}" + (" **noisy**" if load > QUIET_LOAD else "")
        w(f"| {i} | {title} | {GOALS[key]} | {worst} | {verdict(ok)} | {load_text} |")
    w("")
    if "user" in results:
        u = results["user"]
        w("## 0. Default options: what a user gets\n")
        w("No thread setting anywhere: the engine as the inspector starts it, `featscope-cli features` without "
          "`--threads`, Python with torch's default thread count. The engine's `run` is timed from the request "
          "written to the answer read (image decoding, preprocessing, forward, outputs written); the bare forward "
          "is the same extractor run in C++ on an input of the same shape, warm, in the same run.\n")
        w("| model | engine threads | first run | repeated run | bare forward | ratio (goal <= 1.15) | new selection, first run | its bare forward | ratio (goal <= 2) |")
        w("|---|---|---|---|---|---|---|---|---|")
        for r in u["engine_run"]:
            vit = "" if r["pass_vit"] is None else f" (ViT goal < 1.5 s: {verdict(r['pass_vit'])})"
            judged = r["name"] in ENGINE_RUN_GOAL_MODELS
            repeated = verdict(r["pass_repeated"]) if judged else "(not a goal)"
            new_selection = verdict(r["pass_new_selection"]) if judged else "(not a goal)"
            w(f"| {r['name']}{vit} | {r['engine_threads']} | {fmt_ms(r['first_run_ms'])} | {fmt_ms(r['repeated_run_ms'])} | "
              f"{fmt_ms(r['bare_forward_ms'])} | {r['repeated_ratio']:.2f} {repeated} | "
              f"{fmt_ms(r['new_selection_first_run_ms'])} | {fmt_ms(r['bare_forward_new_selection_ms'])} | "
              f"{r['new_selection_ratio']:.2f} {new_selection} |")
        if u["engine_run"]:
            w(f"\nBLAS in the engine: `{u['engine_run'][0]['blas']}`.\n")
        w("| extractor vs the model itself, both bare C++ (`torch::jit::load` + forward) | extractor | model | ratio (goal <= 1.05) |")
        w("|---|---|---|---|")
        for r in u["bare_forward"]:
            w(f"| {r['name']} | {fmt_ms(r['featscope_ms'])} | {fmt_ms(r['torchvision_ms'])} | {r['ratio']:.3f} {verdict(r['pass'])} |")
        w("")
        w("| `features`, batch 8 | images | featscope-cli images/s | Python images/s (threads) | ratio (goal >= 1) |")
        w("|---|---|---|---|---|")
        for r in u["features"]:
            if "error" in r:
                w(f"| {r['name']} | | failed: {r['error']} | | **MISS** |")
            else:
                w(f"| {r['name']} | {r['images']} | {r['featscope_images_per_s']:.1f} | {r['python_images_per_s']:.1f} "
                  f"({r['python_threads']}) | {r['ratio']:.2f} {verdict(r['pass'])} |")
        w(notes.get("user", ""))

    if "names" in results:
        w("## 1. Node listing, both modes, model already loaded\n")
        w("featscope `getGraphNodeNames(module)` (C++) vs torchvision `get_graph_node_names(model)`. Loading is "
          "outside the timing on both sides.\n")
        w("| model | nodes train/eval (featscope; torchvision) | featscope | torchvision | ratio | speed-up | goal >= 20x |")
        w("|---|---|---|---|---|---|---|")
        for r in results["names"]:
            w(f"| {r['name']} | {r['featscope_nodes'][0]}/{r['featscope_nodes'][1]}; "
              f"{r['torchvision_nodes'][0]}/{r['torchvision_nodes'][1]} | {fmt_ms(r['featscope_ms'])} | "
              f"{fmt_ms(r['torchvision_ms'])} | {r['ratio']:.4f} | {r['speedup']:.1f}x | {verdict(r['pass'])} |")
        w(notes.get("names", ""))
    if "create" in results:
        w("## 2. Extractor creation, four return nodes, model already loaded\n")
        w("featscope `createFeatureExtractor(module, nodes)` vs torchvision `create_feature_extractor(model, "
          "return_nodes)`; both build train and eval graphs.\n")
        w("| model | return nodes | featscope | torchvision | ratio | speed-up | goal >= 20x |")
        w("|---|---|---|---|---|---|---|")
        for r in results["create"]:
            w(f"| {r['name']} | {', '.join(f'`{n}`' for n in r['return_nodes'])} | {fmt_ms(r['featscope_ms'])} | "
              f"{fmt_ms(r['torchvision_ms'])} | {r['ratio']:.4f} | {r['speedup']:.1f}x | {verdict(r['pass'])} |")
        w(notes.get("create", ""))
    if "forward" in results:
        w(f"## 3. Extractor forward, {info['threads']} threads, after warm-up\n")
        w("The extractor from figure 2 run from C++ (`torch::jit::Module::forward` under `torch::NoGradGuard`) vs "
          "torchvision's fx extractor from Python (`torch.no_grad()`), same input. `max diff` is the largest "
          "difference between the two sides' outputs.")
        first = results["forward"][0] if results["forward"] else {}
        ex = first.get("executor")
        if ex:
            w(f"Warm-up: a fresh extractor per model and batch size, then {first['warmup_runs']} untimed runs on each "
              f"side. featscope runs on LibTorch's profiling executor (profiling mode {'on' if ex['profiling_mode'] else 'off'}, "
              f"{ex['profiled_runs']} profiled run(s) before it optimises the graph), so its timed runs all use the "
              "optimised graph; torchvision's eager extractor gets the same number of warm-up runs. Timed runs "
              "alternate one by one between the two sides.")
        w("")
        w("| model | featscope | torchvision | ratio | samples each | max diff | goal <= 1.0 |")
        w("|---|---|---|---|---|---|---|")
        for r in results["forward"]:
            w(f"| {r['name']} | {fmt_ms(r['featscope_ms'])} | {fmt_ms(r['torchvision_ms'])} | {r['ratio']:.3f} | "
              f"{r['n']['featscope']} | {r['max_abs_diff_vs_torchvision']:.1e} | {verdict(r['pass'])} |")
        w(notes.get("forward", ""))
    if "pruning" in results:
        r = results["pruning"]
        w("## 4. Pruning leaves no overhead\n")
        w("featscope's ResNet-50 extractor returning `layer2` (so it holds only the stem, layer1 and layer2) vs the "
          "time the stem, layer1 and layer2 take inside a full-model run. Method: the full scripted model is "
          "profiled with `torch.profiler` (same `.pt`, same TorchScript runtime); its top-level ops run in order, "
          "and the extractor's ops are the first N of them (checked op by op: "
          f"{'they match' if r['op_sequence_matches'] else 'they DO NOT match'}, {r['extractor_ops']} of "
          f"{r['full_ops']} ops). The first N ops' share of the full run's op time "
          f"({r['profiled_fraction']:.3f}, from per-op medians over {len(r['profiled_fractions'])} profiled runs) "
          "times the unprofiled full-run median is the time those layers take in a full run. As a cross-check, a hand split "
          "(`torch.jit.script(nn.Sequential(conv1, bn1, relu, maxpool, layer1, layer2))` of the same modules) is "
          "timed too. All three run from C++ on the same input, interleaved.\n")
        w("| | featscope layer2 extractor | those layers in the full run | ratio | goal <= 1.05 |")
        w("|---|---|---|---|---|")
        w(f"| {r['name']} | {fmt_ms(r['featscope_ms'])} | {fmt_ms(r['layers_in_full_run_ms'])} | "
          f"{r['ratio']:.3f} | {verdict(r['pass'])} |")
        w("")
        w(f"Full run {fmt_ms(r['full_run_ms'])}; hand split {fmt_ms(r['hand_split_ms'])} (extractor / hand split "
          f"{r['ratio_vs_hand_split']:.3f}); the extractor takes {r['extractor_share_of_full']:.2f} of the full "
          "run's time (torchvision's fx layer2 extractor: 0.61, from the issue). Second cross-check by subtraction: "
          f"the rest of the network (layer3, layer4, avgpool, fc) run alone on layer2's output takes "
          f"{fmt_ms(r['hand_split_rest_ms'])}, so full minus rest is {fmt_ms(r['full_minus_rest_ms'])}; hand split "
          f"plus rest is {(r['hand_split_ms'] + r['hand_split_rest_ms']) / r['full_run_ms']:.3f} of the full run.\n")
        w(notes.get("pruning", ""))
    if "optimize" in results:
        w("## 5. Optimized inference export (`extract --optimize`, `featscope::optimizeForInference`)\n")
        w("The same extractor, frozen (`torch::jit::freeze`: weights become constants, conv + batch-norm folded) "
          "vs as created, both eval mode, from C++.\n")
        w("`max diff` is the largest absolute difference over the four outputs; `largest value` the largest "
          "absolute output value, for scale (float32 keeps about 7 significant digits).\n")
        w("| model | optimized | plain | ratio | speed-up | max diff | largest value | relative | refused in training mode | goal >= 1.3x, diff <= 1e-4 |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for r in results["optimize"]["rows"]:
            w(f"| {r['name']} | {fmt_ms(r['optimized_ms'])} | {fmt_ms(r['plain_ms'])} | {r['ratio']:.3f} | "
              f"{r['speedup']:.2f}x | {r['max_abs_diff']:.1e} | {r['max_abs_value']:.3g} | {r['relative_diff']:.1e} | "
              f"{'yes' if r['refused_in_training_mode'] else 'NO'} | {verdict(r['pass'])} |")
        rows = results["optimize"]["rows"]
        if rows and rows[0].get("refusal_message"):
            w(f"\nA training-mode extractor: `optimizeForInference` throws \"{rows[0]['refusal_message']}\"")
        c = results["optimize"]["cli"]
        if c:
            w(f"\n`{c['command']}` exits {c['exit']}: \"{c['stderr']}\"\n")
        else:
            w("\n(featscope-cli was not built: its refusal was not checked.)\n")
        w(notes.get("optimize", ""))
    if "memory" in results:
        w("## 6. Peak memory of a run\n")
        w("Peak RSS of one process that does what a user's inference script does, each side in its own fresh "
          "process started by the driver, reporting its own `VmHWM` (`/proc/self/status`: the high-water mark of "
          "its address space, which starts afresh at exec); the larger of two alternating runs per side. "
          "featscope's sandboxed pre-read is a separate, short-lived child that exits before the module is loaded "
          "in the process; its own peak (`ru_maxrss` of the waited-for child) is listed beside it.\n")
        w("- featscope: `featscope-bench run MODEL.pt --input X.pt --return ...` (C++): `featscope::loadModule`, "
          "`createFeatureExtractor` with the four return nodes, eval, one forward under no-grad. (featscope-cli has "
          "no command that runs a model on a tensor, so this small executable stands in for it; it links the same "
          "library.)")
        w("- torchvision: `python3 bench/torchvision_run.py` : `import torch, torchvision`, build the model, "
          "`load_state_dict` of the same weights, `create_feature_extractor`, eval, one forward under no-grad.\n")
        w("`after load` and `before forward` are each side's peak so far at those points (model and weights loaded; "
          "extractor created and input read).\n")
        w("| model | featscope | torchvision | ratio | featscope after load / before forward | torchvision after load / "
          "before forward | featscope's sandboxed loader child | goal < 1.0 |")
        w("|---|---|---|---|---|---|---|---|")
        for r in results["memory"]:
            st = r.get("stages_kb", {})
            stages = {side: " / ".join(f"{st[side][k] / 1024:.0f} MiB" for k in ("after_load", "before_forward"))
                      if st.get(side) else "n/a" for side in ("featscope", "torchvision")}
            w(f"| {r['name']} | {r['featscope_kb'] / 1024:.0f} MiB | {r['torchvision_kb'] / 1024:.0f} MiB | "
              f"{r['ratio']:.3f} | {stages['featscope']} | {stages['torchvision']} | "
              f"{r['featscope_loader_child_kb'] / 1024:.0f} MiB | {verdict(r['pass'])} |")
        w(notes.get("memory", ""))
    if "gui" in results:
        w("## 7. The GUI: opening a model\n")
        w("`featscope-bench-gui MODEL.pt` (bench/gui_open_bench.cpp) does what `featscope MODEL.pt` does "
          "(QApplication, MainWindow, show, openModel; offscreen platform, empty settings) and measures from "
          "outside the ui/ code: **first drawn** = launch of the process to the end of the graph view's first "
          "paint after `MainWindow::graphReady`; **longest block** = the longest gap between ticks of a 1 ms timer "
          "on the GUI thread from the start of the event loop to 0.5 s after that paint (window construction "
          "before the event loop is start-up, included in first drawn). Median over runs for first drawn, worst run "
          "for the block. `--screenshot` is the real `featscope MODEL.pt --screenshot OUT.png`, launch to exit "
          "(it also waits for idle, 100 ms of settling, grabs and saves the PNG).\n")
        w("The reference, measured in the same run and alternated with the inspector's runs: "
          "`featscope-bench-bare-load MODEL.pt` (bench/bare_load.cpp), a program that links LibTorch alone, starts, "
          "runs `torch::jit::load` and exits, launch to exit (median). A ratio under 1 means the inspector draws the "
          "graph before a bare LibTorch program has even loaded the file.\n")
        w("| model | named nodes (eval) | boxes drawn | first drawn | bare LibTorch start + load | ratio | longest GUI-thread block | `--screenshot` launch to exit | goal < 1 s at 2k, < 3 s at 10k | goal block <= 100 ms |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for r in results["gui"]:
            boxes = r["runs"][0]["boxes"]
            bare = f"{r['bare_load_process_s']:.2f} s | {r['ratio_to_bare_load']:.2f}" if "bare_load_process_s" in r else "n/a | n/a"
            w(f"| {r['name']} | {r['nodes']} | {boxes} | {r['first_drawn_s']:.2f} s | {bare} | {r['longest_block_ms']:.0f} ms | "
              f"{r['screenshot_exit_s']:.2f} s | {verdict(r['pass_time'])} | {verdict(r['pass_block'])} |")
        w("\nThe inspector's own log line for each (MainWindow, from openModel to the end of layout), and what the "
          "engine does on `load`, timed separately in `featscope-bench` (one run each: `torch::jit::load` in a program "
          "that links core, so with its SubgraphRewriterShortcut; "
          "`featscope::loadModule`, which reads the file once more in a sandboxed child first; `getGraphNodeNames`; "
          "`describeGraph` for both modes):\n")
        for r in results["gui"]:
            e = r["engine_work_ms"]
            w(f"- {r['name']}: `{r['runs'][0]['opened_line'].replace(ROOT + '/', '')}`; engine work: jit::load "
              f"{fmt_ms(e['torch_jit_load'])}, loadModule {fmt_ms(e['featscope_loadModule'])}, names "
              f"{fmt_ms(e['getGraphNodeNames'])}, describe {fmt_ms(e['describeGraph_both'])}")
        w("")
        w(notes.get("gui", ""))
    if notes.get("general"):
        w(notes["general"])
    with open(out_md, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")


def _worst(rows, key="ratio", fmt="{:.3f}", high=True, ok=lambda rows: all(r["pass"] for r in rows)):
    values = [r[key] for r in rows]
    return fmt.format(max(values) if high else min(values)), ok(rows)


SUMMARY = [
    ("names", "node listing", lambda rows: (f"{min(r['speedup'] for r in rows):.1f}x",
                                            all(r["pass"] for r in rows))),
    ("create", "extractor creation", lambda rows: (f"{min(r['speedup'] for r in rows):.1f}x",
                                                   all(r["pass"] for r in rows))),
    ("forward", "extractor forward", lambda rows: _worst(rows)),
    ("pruning", "pruning overhead", lambda r: (f"{r['ratio']:.3f}", r["pass"])),
    ("optimize", "optimized export", lambda o: (f"{min(r['speedup'] for r in o['rows']):.2f}x",
                                                all(r["pass"] for r in o["rows"]) and (o["cli"] or {}).get("exit", 1) != 0)),
    ("memory", "peak RSS", lambda rows: _worst(rows)),
    ("user", "default-options user paths", lambda u: (
        "; ".join([f"{r['name']} run {r['repeated_ratio']:.2f}x bare" for r in u["engine_run"]]
                  + [f"{r['name']} features {r['ratio']:.2f}x Python" for r in u["features"] if "ratio" in r]),
        all(r["pass_repeated"] and r["pass_new_selection"] and r["pass_vit"] is not False
            for r in u["engine_run"] if r["name"] in ENGINE_RUN_GOAL_MODELS)
        and all(r.get("pass", False) for r in u["features"]) and all(r["pass"] for r in u["bare_forward"]))),
    ("gui", "GUI open", lambda rows: (
        "; ".join(f"{r['nodes']} nodes {r['first_drawn_s']:.2f} s, block {r['longest_block_ms']:.0f} ms" for r in rows),
        all(r["pass_block"] and r["pass_time"] is not False for r in rows))),
]


def read_notes(path):
    """bench/notes.md: sections '## key' (names, create, forward, pruning, optimize, memory, gui, general)."""
    notes, key = {}, None
    if not os.path.exists(path):
        return notes
    for line in open(path):
        m = re.match(r"^## (\w+)\s*$", line)
        if m:
            key = m.group(1)
            notes[key] = ""
        elif key:
            notes[key] += line
    return {k: v.strip() + "\n" for k, v in notes.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", default=os.path.join(ROOT, "build-bench", "bin"))
    parser.add_argument("--work-dir", default=os.path.join(ROOT, "build-bench", "bench-work"),
                        help="scripted models and inputs (cached between runs)")
    parser.add_argument("--output-dir", default=ROOT, help="where BENCHMARKS.md goes (JSON: bench/results.json "
                                                           "next to it when it is the repository)")
    parser.add_argument("--models", default="resnet50,densenet121,swin_t")
    parser.add_argument("--figures", default="user,names,create,forward,pruning,optimize,memory,gui")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per side per measurement (default 20)")
    parser.add_argument("--gui-runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="one repetition of everything, resnet18, batch 1")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite BENCHMARKS.md from the existing JSON (e.g. after editing bench/notes.md)")
    parser.add_argument("--allow-noisy", action="store_true",
                        help=f"write the report even when the load average exceeded {QUIET_LOAD} before a figure "
                             "(those figures are marked noisy); without it such a run writes nothing")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other figures of the existing JSON and replace only those measured now (the "
                             "machine line then describes the last run)")
    args = parser.parse_args()
    in_repo = os.path.abspath(args.output_dir) == ROOT
    json_path = os.path.join(HERE, "results.json") if in_repo else os.path.join(args.output_dir, "results.json")
    md_path = os.path.join(args.output_dir, "BENCHMARKS.md")
    if args.report_only:
        with open(json_path) as f:
            results = json.load(f)
        write_report(results, md_path, os.path.relpath(json_path, args.output_dir),
                     read_notes(os.path.join(HERE, "notes.md")))
        log(f"wrote {md_path} from {json_path}")
        return

    import torch
    import torchvision
    from torchvision.models import feature_extraction as fx

    torch.set_num_threads(THREADS)
    figures = args.figures.split(",")
    names = ["resnet18"] if args.smoke else args.models.split(",")
    if args.smoke and "pruning" in figures:
        names.append("resnet50")
    os.makedirs(args.work_dir, exist_ok=True)
    bench_exe = os.path.join(args.bin_dir, "featscope-bench")
    cli = os.path.join(args.bin_dir, "featscope-cli")
    if not os.access(bench_exe, os.X_OK):
        sys.exit(f"benchmark: {bench_exe} is missing; build it first (scripts/benchmark.sh does)")
    if not os.access(cli, os.X_OK):
        log(f"{cli} is missing: the CLI's --optimize refusal is not checked")
        cli = None

    results = {"machine": machine_info(torch, torchvision), "figures": figures, "models": names}
    models = build_models(torch, torchvision, args.work_dir, names)
    server = FeatscopeServer(bench_exe)
    budget = 0.5 if args.smoke else args.budget
    figure_load = results["machine"]["figure_load"] = {}

    def quiet_enough(figure):
        # The previous figure's own two busy threads keep the 1-minute average near 2 for a while, so wait
        # (up to QUIET_WAIT_S) for it to decay; only load that outlasts the wait comes from other work.
        deadline = time.monotonic() + QUIET_WAIT_S
        while os.getloadavg()[0] > QUIET_LOAD and time.monotonic() < deadline:
            time.sleep(5)
        figure_load[figure] = os.getloadavg()[0]
        if figure_load[figure] > QUIET_LOAD:
            log(f"load average {figure_load[figure]:.2f} before '{figure}' (quiet is <= {QUIET_LOAD}): noisy figure")
        return True

    try:
        if "user" in figures and quiet_enough("user"):
            results["user"] = figure_user(torch, models, args.work_dir, args.bin_dir, bench_exe, args.smoke)
        if "names" in figures and quiet_enough("names"):
            results["names"] = figure_names(torch, fx, server, models, budget, args.smoke)
        if "create" in figures and quiet_enough("create"):
            results["create"] = figure_create(torch, fx, server, models, budget, args.smoke)
        if "forward" in figures and quiet_enough("forward"):
            results["forward"] = figure_forward(torch, fx, server, models, args.work_dir,
                                                [1] if args.smoke else [1, 8], budget, args.smoke)
        if "pruning" in figures and "resnet50" in models and quiet_enough("pruning"):
            results["pruning"] = figure_pruning(torch, server, models, args.work_dir, budget, args.smoke)
        if "optimize" in figures and quiet_enough("optimize"):
            rows, cli_refusal = figure_optimize(torch, server, models, args.work_dir, cli, budget, args.smoke)
            results["optimize"] = {"rows": rows, "cli": cli_refusal}
        if "memory" in figures and quiet_enough("memory"):
            results["memory"] = figure_memory(torch, models, args.work_dir, bench_exe, 1 if args.smoke else 8,
                                              args.smoke)
        if "gui" in figures and quiet_enough("gui"):
            results["gui"] = figure_gui(torch, server, models, args.work_dir, args.bin_dir,
                                        1 if args.smoke else args.gui_runs, args.smoke)
    finally:
        server.close()
    results["machine"]["load_after"] = os.getloadavg()

    if args.merge and os.path.exists(json_path):
        with open(json_path) as f:
            previous = json.load(f)
        kept = [f for f in previous.get("figures", []) if f not in figures]
        merged = {k: v for k, v in previous.items() if k in kept}
        merged.update(results)
        merged["figures"] = kept + figures
        # Each kept figure keeps the load average it was measured at.
        merged["machine"]["figure_load"] = dict(
            {f: load for f, load in previous["machine"].get("figure_load", {}).items() if f in kept},
            **results["machine"].get("figure_load", {}))
        merged["machine"]["earlier_runs"] = previous["machine"].get("earlier_runs", []) + [
            dict({k: previous["machine"][k] for k in ("git", "date", "load_before", "load_after") if k in previous["machine"]},
                 figures=[f for f in kept if not any(f in run.get("figures", []) for run in
                                                     previous["machine"].get("earlier_runs", []))])]
        # An earlier run keeps only the figures that this run did not measure again.
        for run in merged["machine"]["earlier_runs"]:
            run["figures"] = [f for f in run.get("figures", []) if f in kept]
        merged["machine"]["earlier_runs"] = [run for run in merged["machine"]["earlier_runs"] if run["figures"]]
        results = merged
    noisy = {f: load for f, load in figure_load.items() if f in figures and load > QUIET_LOAD}
    if noisy and not args.allow_noisy:
        kept = os.path.join(args.work_dir, "noisy-results.json")
        with open(kept, "w") as f:
            json.dump(results, f, indent=1)
        sys.exit(f"benchmark: the load average exceeded {QUIET_LOAD} before "
                 + ", ".join(f"'{f}' ({load:.2f})" for f, load in noisy.items())
                 + f", so BENCHMARKS.md was not written (raw results: {kept}). Re-run on a quiet machine, or pass "
                 "--allow-noisy to write it with those figures marked noisy.")
    os.makedirs(args.output_dir, exist_ok=True)
    with open(json_path, "w") as f:
        json.dump(results, f, indent=1)
    write_report(results, md_path, os.path.relpath(json_path, args.output_dir), read_notes(os.path.join(HERE, "notes.md")))
    log(f"wrote {md_path} and {json_path}")


if __name__ == "__main__":
    main()
