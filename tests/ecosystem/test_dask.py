#!/usr/bin/python3
"""examples/dask/featscope_dask.py on a real Dask cluster: a scheduler and two workers, each a process
of its own (`dask scheduler`, `dask worker tcp://127.0.0.1:PORT`, loopback only), as on real machines.

8 shards of `featscope-cli features` over 400 generated images with the bundled model, joined with
`features-join`, must equal one unsharded run bit for bit: with one worker, with two, and when one of
two workers is killed (SIGKILL) while it is in the middle of a shard: Dask runs that shard again on the
other worker, and `features` resumes after the rows the dead worker had finished.
Prints the images/s of the 1- and 2-worker runs (on a shared machine: not a benchmark figure).

Run: /usr/bin/python3 test_dask.py --cli build/bin/featscope-cli --work DIR
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(ROOT, "examples", "dask", "featscope_dask.py")
MODEL = os.path.join(ROOT, "resources", "models", "fashion_cnn.pt")
PYTHON = "/usr/bin/python3"
IMAGES, SHARDS = 400, 8
# Batches of 10 that never straddle a shard (400 / 8 = 50 images each) and one LibTorch thread: every
# batch is the same computation in the sharded and the single run, so the rows are equal bit for bit.
FEATURES = ["--return", "features.block3", "--l2-normalize", "--batch", "10", "--threads", "1"]
CLI = WORK = None


def make_images(folder):
    """400 noisy 192x192 RGB PNGs: big enough to decode that a shard takes a moment (the kill needs it)."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(16)
    for i in range(IMAGES):
        pixels = rng.integers(0, 256, size=(192, 192, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f"img{i:04d}.png"), compress_level=1)


def read_outputs(npy):
    base = npy[:-len(".npy")]
    with open(npy, "rb") as f, open(base + ".paths.txt", "rb") as p, open(base + ".json") as j:
        return f.read(), p.read(), json.load(j)


class Cluster:
    """`dask scheduler` and `dask worker` processes on 127.0.0.1, each in a session of its own. Every
    port is chosen by the system (0) and bound to loopback, the diagnostics servers' included."""

    def __init__(self, folder):
        self.folder = folder
        self.workers = {}
        self.addresses = {}
        scheduler_file = os.path.join(folder, "scheduler.json")
        self.scheduler = self._start("scheduler", ["dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                                   "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                                                   "--scheduler-file", scheduler_file])
        deadline = time.monotonic() + 120
        while not os.path.exists(scheduler_file):
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dask scheduler did not start:\n" + self.log("scheduler"))
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written whole, but give the writer a moment to close it
        with open(scheduler_file) as f:
            self.address = json.load(f)["address"]
        assert self.address.startswith("tcp://127.0.0.1:"), self.address

    def _start(self, name, command):
        with open(os.path.join(self.folder, name + ".log"), "w") as log:  # the process keeps its own copy
            return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    cwd=self.folder, start_new_session=True)

    def log(self, name):
        with open(os.path.join(self.folder, name + ".log")) as f:
            return f.read()[-3000:]

    def start_worker(self, name):
        # No nanny: the worker is this one process, so killing it takes the worker away for good.
        self.workers[name] = self._start(name, [
            "dask", "worker", self.address, "--name", name, "--host", "127.0.0.1", "--nthreads", "1",
            "--no-nanny", "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
            "--local-directory", os.path.join(self.folder, name)])
        from distributed import Client
        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(sum(w.poll() is None for w in self.workers.values()), timeout=120)
            self.addresses = {w["name"]: address for address, w in client.scheduler_info()["workers"].items()}

    def stop(self):
        for process in [*self.workers.values(), self.scheduler]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers.values(), self.scheduler]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def featscope_children(parent_pid, shard_dir):
    """{pid: shard} of the featscope-cli processes that `parent_pid` runs for parts in `shard_dir`."""
    found = {}
    try:
        tasks = os.listdir(f"/proc/{parent_pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{parent_pid}/task/{task}/children") as f:
                children = f.read().split()
        except OSError:
            continue
        for pid in children:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            if argv[0] == CLI and "-o" in argv:
                match = re.fullmatch(re.escape(shard_dir) + r"/part-(\d+)-of-\d+\.npy", argv[argv.index("-o") + 1])
                if match:
                    found[int(pid)] = int(match.group(1))
    return found


def images_done(progress):
    """Images a running `features` has finished: the lines of OUT.npy.progress after its header."""
    try:
        with open(progress) as f:
            return sum(1 for line in f.read().split("\n")[1:-1] if "\t" in line)
    except OSError:
        return 0


def ended(pid, seconds=10):
    """True once process `pid` is gone or a zombie, within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.1)
    return False


class DaskTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        shutil.rmtree(WORK, ignore_errors=True)
        os.makedirs(WORK)
        cls.images = os.path.join(WORK, "images")
        make_images(cls.images)
        cls.reference = os.path.join(WORK, "single.npy")
        done = subprocess.run([CLI, "features", MODEL, *FEATURES, "-o", cls.reference, cls.images],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        cls.cluster = Cluster(WORK)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def run_example(self, out, **popen):
        command = [PYTHON, EXAMPLE, "--scheduler", self.cluster.address, "--shards", str(SHARDS), "-o", out,
                   "--cli", CLI, "--", MODEL, *FEATURES, self.images]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)

    def finish(self, process, out):
        stdout, stderr = process.communicate(timeout=600)
        self.assertEqual(process.returncode, 0, stdout + stderr)
        npy, paths, meta = read_outputs(out)
        ref_npy, ref_paths, ref_meta = read_outputs(self.reference)
        self.assertEqual(npy, ref_npy, "the joined .npy differs from the single run's")
        self.assertEqual(paths, ref_paths)
        self.assertEqual(meta, ref_meta)
        self.assertEqual(meta["rows"], IMAGES)
        rate = re.search(r"in ([\d.]+) s, ([\d.]+) images/s", stdout)
        self.assertIsNotNone(rate, stdout)
        return stdout, float(rate.group(2))

    def test_1_one_worker_then_two(self):
        self.cluster.start_worker("worker1")
        _, one = self.finish(self.run_example(os.path.join(WORK, "one.npy")), os.path.join(WORK, "one.npy"))
        self.cluster.start_worker("worker2")
        stdout, two = self.finish(self.run_example(os.path.join(WORK, "two.npy")), os.path.join(WORK, "two.npy"))
        used = set(re.findall(r"on (tcp://\S+):", stdout))
        self.assertEqual(len(used), 2, "both workers should have run shards:\n" + stdout)
        print(f"dask: {IMAGES} images in {SHARDS} shards: {one:.1f} images/s with 1 worker, {two:.1f} with 2 "
              f"(1 LibTorch thread each; on a machine shared with other work, not a benchmark figure)")

    def test_2_worker_killed_mid_shard(self):
        self.assertEqual(sum(w.poll() is None for w in self.cluster.workers.values()), 2)
        victim = self.cluster.workers["worker1"]
        out = os.path.join(WORK, "killed.npy")
        shard_dir = out[:-len(".npy")] + ".shards"
        process = self.run_example(out)
        killed = None
        per_shard = IMAGES // SHARDS
        deadline = time.monotonic() + 300
        while killed is None and process.poll() is None and time.monotonic() < deadline:
            for pid, shard in featscope_children(victim.pid, shard_dir).items():
                part = os.path.join(shard_dir, f"part-{shard}-of-{SHARDS}.npy")
                if images_done(part + ".progress") == 0:
                    continue
                # Freeze it to look: kill the worker only if the shard is really half done.
                os.kill(pid, signal.SIGSTOP)
                finished = images_done(part + ".progress")
                if 0 < finished < per_shard and not os.path.exists(part):
                    victim.send_signal(signal.SIGKILL)
                    killed = (pid, shard, finished)
                    break
                os.kill(pid, signal.SIGCONT)
            time.sleep(0.002)
        self.assertIsNotNone(killed, "worker1 never was in the middle of a shard")
        victim.wait(timeout=30)
        orphan, shard, finished = killed
        stdout, _ = self.finish(process, out)
        # The dead worker's featscope-cli died with it (PR_SET_PDEATHSIG): no second writer.
        self.assertTrue(ended(orphan), f"featscope-cli {orphan} of the killed worker still runs")
        line = re.search(rf"shard {shard}/{SHARDS} on (\S+): .*", stdout)
        self.assertIsNotNone(line, stdout)
        survivor = line.group(1)
        self.assertNotEqual(survivor, self.cluster.addresses["worker1"])
        self.assertIn("resumed after", line.group(0), f"shard {shard} did not resume ({finished} rows were done):\n{stdout}")
        resumed = int(re.search(r"resumed after (\d+)", line.group(0)).group(1))
        self.assertGreaterEqual(resumed, finished)
        self.assertLess(resumed, per_shard)
        print(f"dask: killed worker1 during shard {shard}/{SHARDS} after {finished} of {per_shard} images; "
              f"Dask reran it on {survivor}, which resumed after {resumed}; the joined result equals the single run")


def main():
    global CLI, WORK
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--work", required=True)
    args, rest = parser.parse_known_args()
    CLI, WORK = os.path.abspath(args.cli), os.path.abspath(args.work)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
