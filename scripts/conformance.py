#!/usr/bin/python3
"""Conformance report: featscope-cli against torchvision.models.feature_extraction.

For every model of the set it generates torchvision reference fixtures with
tests/fixtures/make_fixtures.py (or reuses --fixtures DIR), then runs

  featscope-cli nodes MODEL.script.pt --mode both --json    -> compare train/eval names
  featscope-cli nodes MODEL.trace.pt  --mode both --json    -> compare eval names
  featscope-cli extract MODEL.script.pt --return NODE=KEY ... -o OUT.pt
                                                            -> load OUT.pt, run on the stored input,
                                                               compare with create_feature_extractor

and writes a Markdown report (CONFORMANCE.md), a section per family. A long report can be built in parts:
--json keeps a run's rows, --merge adds rows of earlier runs (this run's rows win), --report-only writes the
report from merged rows without running anything, and --keep-from copies the sections of families that no row
covers from an earlier report (with the line saying when and how they were generated).  Not part of CI: the `all` set takes a long time and
needs tens of GB of temporary disk (model files are deleted after each model unless --keep).

  /usr/bin/python3 scripts/conformance.py --cli build/bin/featscope-cli [--set all|ci] [--out CONFORMANCE.md]
"""
import argparse
import datetime
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAKE_FIXTURES = os.path.join(REPO, "tests", "fixtures", "make_fixtures.py")
PYTHON = "/usr/bin/python3"


FAMILY_ORDER = ["classification", "segmentation", "quantizable", "video", "detection"]
FAMILY_NOTES = {
    "segmentation": "Models built with `weights_backbone=None` and their aux head where they have one. "
                    "`torch.jit.trace` cannot trace them (their output is a dict), so there is no trace column.",
    "quantizable": "`torchvision.models.quantization` models with `quantize=False`: the float model that torch.fx "
                   "traces before quantization.",
    "detection": "torch.fx cannot trace torchvision's detection models (`Proxy object cannot be iterated`), so there is no "
                 "torchvision list to compare names with; names follow the same rules. *Values*: the backbone's output "
                 "(`--return backbone`, a truncated name: the backbone's last node, the FPN where there is one) extracted "
                 "from the whole scripted model by `featscope-cli extract`, run from Python on one 3 x 240 x 320 image "
                 "(`List[Tensor]` input), against a forward hook on the eager model's `backbone`; every level of its "
                 "dict compared. `--detection` adds this section.",
    "video": "Clips of 4 frames (mvit: 16 frames of 224 px, fixed by its position embeddings; s3d: 16, as its last "
             "pooling spans 2 frames after an 8x reduction). torchvision 0.14.1 has no swin3d models. The traced names "
             "of mc3_18 and r3d_18 differ from torchvision's (`_convolution` for `conv3d`): `torch.jit.trace` records "
             "their `Conv3DSimple` convolutions as the lower-level `aten::_convolution`; scripted names are equal.",
}

# ----------------------------------------------------------------------------- helpers

def first_line(text):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def md_escape(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def short(s, n=80):
    """First sentence of an error message, at most n characters."""
    s = str(s or "")
    cut = s.find(". ", 20)
    if cut > 0:
        s = s[:cut + 1]
    return s if len(s) <= n else s[:n - 1] + "…"


def code(s):
    return "`" + str(s).replace("`", "'") + "`"


def compare_names(ref, got):
    """Returns dict(equal, n_ref, n_got, n_diff, first) comparing two name lists in order.

    n_diff counts names not in the longest in-order alignment (max of both sides per block);
    first describes the first position where the lists disagree."""
    if ref == got:
        return {"equal": True, "n_ref": len(ref), "n_got": len(got), "n_diff": 0, "first": None}
    sm = difflib.SequenceMatcher(a=ref, b=got, autojunk=False)
    n_diff = sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in sm.get_opcodes() if op != "equal")
    i = 0
    while i < min(len(ref), len(got)) and ref[i] == got[i]:
        i += 1
    first = {"index": i,
             "ref": ref[i] if i < len(ref) else None,
             "got": got[i] if i < len(got) else None}
    return {"equal": False, "n_ref": len(ref), "n_got": len(got), "n_diff": n_diff, "first": first}


def fmt_names(cmp):
    if cmp is None:
        return "n/a"
    if "error" in cmp:
        return "❌ error: " + md_escape(cmp["error"])
    if cmp.get("no_reference"):
        return f"— (featscope: {cmp['n_got']} names)"
    if cmp["equal"]:
        return f"✅ {cmp['n_ref']}"
    f = cmp["first"]
    ref = code(f["ref"]) if f["ref"] is not None else "(end)"
    got = code(f["got"]) if f["got"] is not None else "(end)"
    return (f"❌ {cmp['n_diff']} differ ({cmp['n_got']} vs {cmp['n_ref']}); "
            f"first #{f['index']}: tv {md_escape(ref)} / fs {md_escape(got)}")


def fmt_values(v):
    if v is None:
        return "n/a"
    if "error" in v:
        return "❌ error: " + md_escape(v["error"])
    if v.get("skipped"):
        return "— " + md_escape(v["skipped"])
    mark = "✅" if v["ok"] else "❌"
    s = f"{mark} {v['max_abs_diff']:.1e} (rel {v['max_rel_diff']:.0e}, {v['n_ok']}/{v['n']})"
    if v.get("problems"):
        s += "; " + md_escape("; ".join(v["problems"][:2]))
    return s


def run_cli(cmd, timeout):
    """Runs a CLI command; returns (stdout, error-or-None)."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timeout after {timeout}s"
    except OSError as e:
        return None, f"cannot run {cmd[0]}: {e}"
    if p.returncode != 0:
        msg = first_line(p.stderr) or first_line(p.stdout) or "(no output)"
        return None, f"exit {p.returncode}: {msg}"
    return p.stdout, None


def parse_nodes_json(stdout):
    """The contract: a JSON object with `train` and `eval` arrays.  Tolerates surrounding log
    lines by parsing from the first '{'."""
    start = stdout.find("{")
    if start < 0:
        raise ValueError("no JSON object in output: " + first_line(stdout))
    obj, _ = json.JSONDecoder().raw_decode(stdout[start:])
    return obj


# ----------------------------------------------------------------------------- checks

def check_names(cli, model_file, fx, timeout, want_train):
    if not os.path.exists(model_file):
        return None, None
    out, err = run_cli([cli, "nodes", model_file, "--mode", "both", "--json"], timeout)
    if err:
        e = {"error": err}
        return e, (e if want_train else None)
    try:
        obj = parse_nodes_json(out)
        got_eval = obj["eval"]
        got_train = obj.get("train")
    except Exception as ex:  # malformed output
        e = {"error": f"bad JSON: {ex}"}
        return e, (e if want_train else None)
    if not fx["fx_ok"]:
        ev = {"no_reference": True, "n_got": len(got_eval)}
        tr = {"no_reference": True, "n_got": len(got_train or [])} if want_train else None
        return ev, tr
    ev = compare_names(fx["eval"], got_eval)
    tr = None
    if want_train:
        tr = compare_names(fx["train"], got_train) if got_train is not None else {"error": "no `train` key"}
    return ev, tr


def check_values(cli, fixdir, fx, workdir, timeout, atol, rtol, return_style):
    import torch  # only needed here; keeps --help fast

    # Same intra-op thread count as the reference: with another count, conv/matmul reductions
    # run in another order and differ by ~1e-6 relative (1e-4 absolute on large activations).
    torch.set_num_threads(int(fx.get("num_threads", 2)))
    if not fx["fx_ok"]:
        return {"skipped": "no torchvision reference (fx fails)"}
    if not fx["return_nodes"]:
        return {"skipped": "no return nodes"}
    script = os.path.join(fixdir, fx["script_file"])
    out_pt = os.path.join(workdir, f"{fx['model']}.extract.pt")
    keys = fx["value_buffers"]  # node -> key (a valid identifier, distinct from the node name)
    cmd = [cli, "extract", script]
    if return_style == "repeat":
        for node in fx["return_nodes"]:
            cmd += ["--return", f"{node}={keys[node]}"]
    else:
        cmd += ["--return"] + [f"{node}={keys[node]}" for node in fx["return_nodes"]]
    cmd += ["-o", out_pt]
    _, err = run_cli(cmd, timeout)
    if err:
        return {"error": err}
    try:
        values = torch.jit.load(os.path.join(fixdir, fx["values_file"]))
        x = values.input
        m = torch.jit.load(out_pt)
        m.eval()
        with torch.no_grad():
            out = m(x)
    except Exception as ex:
        return {"error": f"running {os.path.basename(out_pt)}: {first_line(str(ex)) or type(ex).__name__}"}
    finally:
        if os.path.exists(out_pt):
            os.remove(out_pt)

    # Map outputs to return nodes: a Dict[str, Tensor] keyed by KEY is the contract; tolerate a
    # dict keyed by node name, a tuple/list in return-node order, or a lone tensor.
    problems, got = [], {}
    if isinstance(out, dict):
        for node in fx["return_nodes"]:
            if keys[node] in out:
                got[node] = out[keys[node]]
            elif node in out:
                got[node] = out[node]
                problems.append(f"key {keys[node]} missing (found node name)")
            else:
                problems.append(f"{node}: key {keys[node]} missing")
        extra = set(out) - set(keys.values()) - set(keys)
        if extra:
            problems.append(f"unexpected keys {sorted(extra)[:3]}")
    elif isinstance(out, (tuple, list)):
        problems.append(f"output is a {type(out).__name__}, not a dict")
        for node, v in zip(fx["return_nodes"], out):
            got[node] = v
    elif isinstance(out, torch.Tensor) and len(fx["return_nodes"]) == 1:
        problems.append("output is a tensor, not a dict")
        got[fx["return_nodes"][0]] = out
    else:
        return {"error": f"unexpected output type {type(out).__name__}"}

    max_diff, max_rel, n_ok, per_node = 0.0, 0.0, 0, {}
    for node in fx["return_nodes"]:
        ref = getattr(values, fx["value_buffers"][node])
        if node not in got:
            per_node[node] = None
            continue
        v = got[node]
        if not isinstance(v, torch.Tensor):
            problems.append(f"{node}: not a tensor")
            per_node[node] = None
            continue
        if tuple(v.shape) != tuple(ref.shape):
            problems.append(f"{node}: shape {list(v.shape)} vs {list(ref.shape)}")
            per_node[node] = None
            continue
        d = float((v.float() - ref).abs().max()) if ref.numel() else 0.0
        if d != d:  # NaN
            d = float("inf")
        per_node[node] = {"max_abs_diff": d, "max_abs_ref": float(ref.abs().max()) if ref.numel() else 0.0}
        max_diff = max(max_diff, d)
        max_rel = max(max_rel, d / max(per_node[node]["max_abs_ref"], 1e-30))
        if d <= atol + rtol * per_node[node]["max_abs_ref"]:
            n_ok += 1
        else:
            problems.append(f"{node}: diff {d:.2e}")
    n = len(fx["return_nodes"])
    # A wrong key, shape or type fails the model even when the numbers match.
    return {"ok": n_ok == n and not problems, "n": n, "n_ok": n_ok, "max_abs_diff": max_diff,
            "max_rel_diff": max_rel, "per_node": per_node, "problems": problems}


# ----------------------------------------------------------------------------- driver

def model_list(args):
    cmd = [PYTHON, MAKE_FIXTURES, "--out", os.devnull, "--list"]
    if args.models:
        cmd += ["--models", args.models]
    else:
        cmd += ["--set", args.set]
    lines = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout.splitlines()
    return dict(line.split("\t") for line in lines if line.strip())


def generate(model, fixdir, log):
    """Generates one model's fixtures in a separate process (bounded memory); returns an error or None."""
    p = subprocess.run([PYTHON, MAKE_FIXTURES, "--out", fixdir, "--models", model],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log.write(p.stdout)
    if p.returncode != 0:
        lines = [l for l in p.stdout.splitlines() if l.strip()]
        return f"fixture generation failed: {lines[-1].strip() if lines else 'exit ' + str(p.returncode)}"
    return None


def cleanup_model_files(fixdir, fx):
    for key in ("script_file", "trace_file"):
        p = os.path.join(fixdir, fx.get(key, ""))
        if fx.get(key) and os.path.exists(p):
            os.remove(p)


def write_report(path, rows, args, elapsed):
    def tick(v):
        return "✅" if v else "❌"

    lines = ["# featscope conformance with torchvision.models.feature_extraction", ""]
    what = ("--report-only" if args.report_only else "--detection" if args.detection
            else f"--set {args.set}" + (f" --models {args.models}" if args.models else ""))
    lines.append(f"Generated {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} by `scripts/conformance.py {what}`"
                 f"{' in ' + format(elapsed / 60, '.1f') + ' min' if not args.report_only else ''}; "
                 f"CLI `{os.path.relpath(args.cli, REPO) if os.path.isabs(args.cli) else args.cli}`.")
    for merged in args.merge or []:
        with open(merged) as f:
            meta = json.load(f)
        if isinstance(meta, dict) and meta.get("generated"):
            lines.append(f"Rows of {len(meta['rows'])} models from the run of {meta['generated']}.")
    lines.append("")
    lines.append("Reference: torchvision's `get_graph_node_names` (train/eval) and `create_feature_extractor` "
                 "(eval mode) on the same randomly initialised model (seed 0) and a seeded input, from "
                 "`tests/fixtures/make_fixtures.py`. *Script* is `torch.jit.script(model)`, *trace* is "
                 "`torch.jit.trace` of the eval-mode model (its names are compared with torchvision's eval list). "
                 f"Values: max abs diff over the return nodes (4 full names + 1 truncated prefix), pass if every node's "
                 f"is <= {args.atol:g}{f' + {args.rtol:g} * max |reference|' if args.rtol else ''} and keys/shapes match; "
                 f"rel = largest diff / max |reference| of a node, n/m = nodes within tolerance. The extractor runs "
                 f"with the reference's thread count (2).")
    lines.append("")
    lines.append("Name cells: ✅ N = all N names equal, in order; ❌ shows how many names differ "
                 "(featscope count vs torchvision count) and the first differing position (tv = torchvision, "
                 "fs = featscope). — = torchvision's fx tracing fails, so there is no reference.")
    lines.append("")
    all_rows = rows
    kept = kept_sections(args.keep_from) if args.keep_from else {}
    for family in FAMILY_ORDER:
        family_rows = [r for r in all_rows if r.get("family", "classification") == family]
        if not family_rows:
            if family in kept:
                lines.extend(kept[family])
            continue
        lines.append(f"## {family.capitalize()} ({len(family_rows)} models)")
        lines.append("")
        if FAMILY_NOTES.get(family):
            lines.append(FAMILY_NOTES[family])
            lines.append("")
        if family == "detection":
            detection_section(lines, family_rows, args.atol)
            continue
        lines.append("| model | fx | script train names | script eval names | trace eval names | values (max abs diff) |")
        lines.append("|---|---|---|---|---|---|")
        for r in family_rows:
            if r.get("fatal"):
                lines.append(f"| {r['model']} | ? | ❌ {md_escape(r['fatal'])} | | | |")
                continue
            fx = "✅" if r["fx_ok"] else "❌ " + md_escape(short(r["fx_error"]))
            lines.append(f"| {r['model']} | {fx} | {fmt_names(r['script_train'])} | {fmt_names(r['script_eval'])} | "
                         f"{fmt_names(r['trace_eval'])} | {fmt_values(r['values'])} |")
        lines.append("")
        totals(lines, family_rows, args)
    lines.append("## Totals over all families compared with torch.fx" + (" in this report's rows" if kept else ""))
    lines.append("")
    if kept:
        lines.append(f"Sections kept from an earlier report ({', '.join(f for f in FAMILY_ORDER if f in kept and not any(r.get('family') == f for r in all_rows))}) have their own totals above.")
        lines.append("")
    totals(lines, [r for r in all_rows if r.get("family") != "detection"], args)
    with open(path, "w") as f:
        f.write("\n".join(lines))


def kept_sections(path):
    """Family -> lines of its section in the report at `path`, ending with its totals. A report written before
    family sections existed is one classification table; its "Generated" line goes with it."""
    with open(path) as f:
        text = f.read().splitlines()
    generated = next((line for line in text if line.startswith("Generated ")), "")
    sections, family = {}, None
    for line in text:
        if line.startswith("## "):
            name = line[3:].split(" (")[0].lower()
            family = name if name in FAMILY_ORDER else None
            if family:
                sections[family] = [line]
            continue
        if family:
            sections[family].append(line)
    if not sections:
        body = [line for line in text if line.startswith("|")]
        totals_at = next((i for i, line in enumerate(text) if line.startswith("## Totals")), None)
        totals_lines = [line for line in text[totals_at + 1:] if line.startswith("- ")] if totals_at is not None else []
        sections["classification"] = [f"## Classification ({len(body) - 2} models)", "",  # less header and rule
                                      f"Kept from an earlier report: {generated}", "", *body, "", *totals_lines, ""]
    return sections


def totals(lines, rows, args):
    def count(key, pred):
        return sum(1 for r in rows if not r.get("fatal") and r.get(key) is not None and pred(r[key]))

    def eq(c):
        return "equal" in c and c["equal"]

    def compared(c):
        return "equal" in c or "error" in c

    n = len(rows)
    n_fx = sum(1 for r in rows if r.get("fx_ok"))
    lines.append(f"- models: {n} (torchvision fx works on {n_fx}, fails on {n - n_fx - sum(1 for r in rows if r.get('fatal'))}"
                 f"{', fixture errors ' + str(sum(1 for r in rows if r.get('fatal'))) if any(r.get('fatal') for r in rows) else ''})")
    for key, label in (("script_train", "script train names equal"), ("script_eval", "script eval names equal"),
                       ("trace_eval", "trace eval names equal")):
        lines.append(f"- {label}: {count(key, eq)} / {count(key, compared)}")
    n_val = count("values", lambda v: "ok" in v or "error" in v)
    lines.append(f"- values equal (<= {args.atol:g}): {count('values', lambda v: v.get('ok') is True)} / {n_val}")
    cli_err = sum(1 for r in rows if any(isinstance(r.get(k), dict) and "error" in r[k]
                                         for k in ("script_train", "script_eval", "trace_eval", "values")))
    lines.append(f"- models with a CLI error: {cli_err}")
    no_trace = [r["model"] for r in rows if not r.get("fatal") and not r.get("trace_ok")]
    if no_trace:
        lines.append(f"- torch.jit.trace failed (no trace file): {', '.join(no_trace)}")
    lines.append("")


DETECTION_CHECK = r"""
import json, sys, torch, torchvision, warnings
warnings.filterwarnings("ignore")
torch.set_num_threads(2)
name, script_path, extractor_path, mode = sys.argv[1:5]
torch.manual_seed(0)
model = torchvision.models.get_model(name, weights=None, weights_backbone=None).eval()
if mode == "script":
    torch.jit.script(model).save(script_path)
    sys.exit(0)
seen = {}
model.backbone.register_forward_hook(lambda m, i, o: seen.__setitem__("backbone", o))
extractor = torch.jit.load(extractor_path).eval()
torch.manual_seed(1)
images = [torch.rand(3, 240, 320)]
with torch.no_grad():
    model(images)
    got = extractor(images, None) if len(extractor.forward.schema.arguments) > 2 else extractor(images)
ref = seen["backbone"]
value = next(iter(got.values()))
ref = dict(ref) if isinstance(ref, dict) else {"": ref}
value = dict(value) if isinstance(value, dict) else {"": value}
diffs = {k: float((value[k] - ref[k]).abs().max()) for k in ref if k in value and value[k].shape == ref[k].shape}
print(json.dumps({"levels": list(ref), "matched": sorted(diffs) == sorted(ref) and list(value) == list(ref),
                  "max_abs": max(diffs.values()) if diffs else None}))
"""


def detection_rows(cli, workdir, timeout, atol, only=None):
    """One row per torchvision detection model (those in `only`, when given): names per mode, and the
    backbone's output against a hook."""
    names = subprocess.run([PYTHON, "-c", "import torchvision; print(' '.join(torchvision.models.list_models("
                                          "module=torchvision.models.detection)))"],
                           check=True, stdout=subprocess.PIPE, text=True).stdout.split()
    names = [n for n in names if not only or n in only]
    rows = []
    for i, name in enumerate(names, 1):
        t0 = time.time()
        script = os.path.join(workdir, name + ".script.pt")
        extractor = os.path.join(workdir, name + ".backbone.pt")
        row = {"model": name, "family": "detection"}
        made = subprocess.run([PYTHON, "-c", DETECTION_CHECK, name, script, extractor, "script"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        if made.returncode != 0:
            row["fatal"] = first_line(made.stderr.strip().splitlines()[-1] if made.stderr.strip() else "scripting failed")
            rows.append(row)
            continue
        stdout, error = run_cli([cli, "nodes", script, "--mode", "both", "--json"], timeout)
        if error is None:
            both = json.loads(stdout)
            row["names"] = {mode: {"count": len(both[mode]), "unique": len(set(both[mode])) == len(both[mode]),
                                   "inputs_first": both[mode][:2] == ["images", "targets"]} for mode in ("train", "eval")}
        else:
            row["names"] = {"error": error}
        _, error = run_cli([cli, "extract", script, "--return", "backbone", "-o", extractor], timeout)
        if error is not None:
            row["values"] = {"error": error}
        else:
            checked = subprocess.run([PYTHON, "-c", DETECTION_CHECK, name, script, extractor, "check"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
            row["values"] = (json.loads(checked.stdout) if checked.returncode == 0
                             else {"error": first_line(checked.stderr.strip().splitlines()[-1])})
            if "max_abs" in row["values"]:
                row["values"]["ok"] = row["values"]["matched"] and row["values"]["max_abs"] <= atol
        for path in (script, extractor):
            if os.path.exists(path):
                os.remove(path)
        rows.append(row)
        print(f"[detection {i}/{len(names)}] {name}: {json.dumps(row.get('names'))} | {json.dumps(row.get('values'))} "
              f"({time.time() - t0:.1f}s)", flush=True)
    return rows


def detection_section(lines, rows, atol):
    lines.append("| model | train names | eval names | backbone values vs forward hook (max abs diff) |")
    lines.append("|---|---|---|---|")
    for r in rows:
        if r.get("fatal"):
            lines.append(f"| {r['model']} | ❌ {md_escape(r['fatal'])} | | |")
            continue
        names = r.get("names", {})

        def cell(mode):
            if "error" in names:
                return "❌ " + md_escape(short(names["error"]))
            n = names[mode]
            good = n["unique"] and n["inputs_first"]
            return f"{'✅' if good else '❌'} {n['count']}" + ("" if n["unique"] else " (repeated names)")

        values = r.get("values", {})
        if "error" in values:
            result = "❌ " + md_escape(short(values["error"]))
        else:
            levels = f"{len(values['levels'])} level(s)" if values["levels"] != [""] else "a tensor"
            result = (f"{'✅' if values['ok'] else '❌'} {values['max_abs']:.1e} ({levels}"
                      f"{'' if values['matched'] else ', keys or shapes differ'})")
        lines.append(f"| {r['model']} | {cell('train')} | {cell('eval')} | {result} |")
    lines.append("")
    ok = sum(1 for r in rows if r.get("values", {}).get("ok"))
    lines.append(f"- models: {len(rows)}; listed in both modes: "
                 f"{sum(1 for r in rows if 'train' in r.get('names', {}))}; backbone values equal (<= {atol:g}): {ok} / {len(rows)}")
    lines.append("")


def write_rows(path, rows, elapsed):
    """A run's rows with when it ended and how long it took, for a later --merge."""
    with open(path, "w") as f:
        json.dump({"generated": f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, {elapsed / 60:.1f} min",
                   "rows": rows}, f, indent=1)


def with_merged(merged, rows):
    """Rows of earlier runs, each replaced by this run's row of the same model, then this run's new models."""
    ran = {r["model"]: r for r in rows}
    return [ran.get(m, r) for m, r in merged.items()] + [r for r in rows if r["model"] not in merged]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", required=True, help="path to featscope-cli")
    ap.add_argument("--set", choices=["ci", "all"], default="ci")
    ap.add_argument("--models", help="comma-separated model names (overrides --set)")
    ap.add_argument("--out", default=os.path.join(REPO, "CONFORMANCE.md"), help="report path")
    ap.add_argument("--fixtures", help="reuse fixtures in this directory (generated per model if missing)")
    ap.add_argument("--keep", action="store_true",
                    help="keep generated model files (default: delete them after each model to save disk)")
    ap.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    ap.add_argument("--rtol", type=float, default=0.0,
                    help="plus this times max |reference| of the node (default 0: absolute only)")
    ap.add_argument("--timeout", type=int, default=600, help="per CLI call, seconds")
    ap.add_argument("--return-style", choices=["repeat", "list"], default="repeat",
                    help="pass return nodes as `--return A --return B` (repeat) or `--return A B` (list)")
    ap.add_argument("--json", help="also write raw results as JSON here")
    ap.add_argument("--merge", action="append", help="rows of an earlier run's --json (repeatable; this run's rows win)")
    ap.add_argument("--report-only", action="store_true", help="run nothing: write the report from --merge rows")
    ap.add_argument("--detection", action="store_true",
                    help="check torchvision's detection models instead (names, and the backbone against a forward hook)")
    ap.add_argument("--keep-from", help="copy the sections of families no row covers from this earlier report")
    args = ap.parse_args(argv)

    args.cli = os.path.abspath(args.cli)
    if not os.access(args.cli, os.X_OK):
        ap.error(f"{args.cli} is not an executable")
    merged = {}
    for path in args.merge or []:
        with open(path) as f:
            data = json.load(f)
        for row in data["rows"] if isinstance(data, dict) else data:
            merged[row["model"]] = row
    if args.report_only:
        write_report(args.out, list(merged.values()), args, 0)
        print(f"wrote {args.out} ({len(merged)} models)")
        return 0
    if args.detection:
        workdir = tempfile.mkdtemp(prefix="featscope-detection-")
        t_all = time.time()
        try:
            rows = detection_rows(args.cli, workdir, args.timeout, args.atol, args.models.split(",") if args.models else None)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        write_report(args.out, with_merged(merged, rows), args, time.time() - t_all)
        if args.json:
            write_rows(args.json, rows, time.time() - t_all)
        return 0
    models = model_list(args)
    reuse = args.fixtures is not None
    fixdir = os.path.abspath(args.fixtures) if reuse else tempfile.mkdtemp(prefix="featscope-fixtures-")
    os.makedirs(fixdir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="featscope-conformance-")
    log_path = os.path.join(workdir, "make_fixtures.log")
    rows = []
    t_all = time.time()
    try:
        with open(log_path, "w") as log:
            for i, model in enumerate(models, 1):
                t0 = time.time()
                jpath = os.path.join(fixdir, f"{model}.json")
                generated = False
                if not os.path.exists(jpath):
                    err = generate(model, fixdir, log)
                    generated = True
                    if err or not os.path.exists(jpath):
                        rows.append({"model": model, "family": models[model], "fatal": err or "no json written"})
                        print(f"[{i}/{len(models)}] {model}: {rows[-1]['fatal']}", flush=True)
                        continue
                with open(jpath) as f:
                    fx = json.load(f)
                row = {"model": model, "family": fx.get("family", "classification"), "fx_ok": fx["fx_ok"],
                       "fx_error": fx["fx_error"],
                       "trace_ok": fx["trace_ok"]}
                script = os.path.join(fixdir, fx["script_file"])
                trace = os.path.join(fixdir, fx["trace_file"])
                row["script_eval"], row["script_train"] = check_names(args.cli, script, fx, args.timeout, True)
                row["trace_eval"], _ = (check_names(args.cli, trace, fx, args.timeout, False)
                                        if fx["trace_ok"] else (None, None))
                row["values"] = (check_values(args.cli, fixdir, fx, workdir, args.timeout, args.atol,
                                              args.rtol, args.return_style)
                                 if os.path.exists(script) else {"error": "script file missing"})
                rows.append(row)
                if generated and not args.keep:
                    cleanup_model_files(fixdir, fx)
                print(f"[{i}/{len(models)}] {model}: train {fmt_names(row['script_train'])} | "
                      f"eval {fmt_names(row['script_eval'])} | trace {fmt_names(row['trace_eval'])} | "
                      f"values {fmt_values(row['values'])} ({time.time() - t0:.1f}s)", flush=True)
                # Rewrite the report as we go so a long `all` run leaves a useful partial report.
                write_report(args.out, with_merged(merged, rows), args, time.time() - t_all)
        write_report(args.out, with_merged(merged, rows), args, time.time() - t_all)
        if args.json:
            write_rows(args.json, rows, time.time() - t_all)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not reuse and not args.keep:
            shutil.rmtree(fixdir, ignore_errors=True)
        elif not reuse:
            print(f"fixtures kept in {fixdir}")
    print(f"wrote {args.out} ({len(rows)} models, {(time.time() - t_all) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
