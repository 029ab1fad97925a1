#!/usr/bin/env python3
"""What the inspector's views cost next to a plain Run, through featscope-engine as the window drives it.

For each model: load it, warm each request up twice, then time `run` (one return node), `cam` (Grad-CAM at that
node) and `stats` (every node summarised) REPEAT times each, interleaved, from request written to answer read.
Prints the medians and their ratios to the run's, measured in this same process, and the engine's resident
memory after each kind (what a statistics run keeps). Run it on a quiet machine only; it refuses to start
when the load average is 1.5 or more unless --force.

Usage: bench/engine_views.py --engine build/bin/featscope-engine --image IMG MODEL.pt:NODE [MODEL.pt:NODE ...]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


class Engine:
    def __init__(self, program):
        self.process = subprocess.Popen([program], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.next_id = 1

    def request(self, cmd, **params):
        params.update(id=self.next_id, cmd=cmd)
        self.next_id += 1
        self.process.stdin.write((json.dumps(params) + "\n").encode())
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            sys.exit(f"the engine stopped during {cmd}")
        answer = json.loads(line)
        # A response may be followed by the binary parts its "payload" declares (docs/engine-protocol.md).
        remaining = sum(answer.get("payload", []))
        while remaining > 0:
            chunk = self.process.stdout.read(min(remaining, 1 << 20))
            if not chunk:
                sys.exit("the engine stopped inside a payload")
            remaining -= len(chunk)
        if not answer.get("ok"):
            sys.exit(f"{cmd} failed: {answer.get('error')}")
        return answer

    def rss_mb(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def close(self):
        self.process.stdin.write(b'{"cmd": "quit"}\n')
        self.process.stdin.flush()
        self.process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--force", action="store_true", help="measure even on a busy machine (not a benchmark then)")
    parser.add_argument("models", nargs="+", help="MODEL.pt:NODE")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    if load >= 1.5 and not args.force:
        sys.exit(f"load average {load:.2f}: figures taken beside other work are not figures (use --force to try anyway)")
    print(f"load average before: {load:.2f}")
    image = os.path.abspath(args.image)
    for spec in args.models:
        path, node = spec.rsplit(":", 1)
        engine = Engine(args.engine)
        # The model's own preprocessing (its featscope.json), as the window sends it.
        prep = engine.request("load", path=os.path.abspath(path)).get("preprocessing", {})
        requests = {
            "run": lambda: engine.request("run", image=image, preprocessing=prep, returnNodes=[{"node": node, "key": "out"}]),
            "cam": lambda: engine.request("cam", image=image, preprocessing=prep, node=node, method="gradcam"),
            "stats": lambda: engine.request("stats", image=image, preprocessing=prep),
        }
        memory = {}
        for kind, send in requests.items():
            send()
            send()
            memory[kind] = engine.rss_mb()
        times = {kind: [] for kind in requests}
        for _ in range(args.repeat):
            for kind, send in requests.items():
                start = time.perf_counter()
                send()
                times[kind].append((time.perf_counter() - start) * 1000)
        engine.close()
        run = statistics.median(times["run"])
        print(f"{os.path.basename(path)} at {node}:")
        for kind in requests:
            median = statistics.median(times[kind])
            print(f"  {kind:5s} median {median:8.1f} ms  ({median / run:.2f}x run)  "
                  f"engine RSS after warm-up {memory[kind]:.0f} MB")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
