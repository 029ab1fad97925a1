#!/usr/bin/python3
"""Image descriptors for a large collection on a Dask cluster: `featscope-cli features --shard I/N`.

Each of N shards is one Dask task that runs `featscope-cli features ... --shard I/N` on a worker; one
more task joins the parts with `featscope-cli features-join`. Everything after `--` is passed to
`features` unchanged (model, --return, options, images):

    /usr/bin/python3 featscope_dask.py --scheduler tcp://HOST:8786 --shards 64 -o /shared/photos.npy \\
        -- /shared/model.pt --return layer4 --l2-normalize /shared/photos

The model, the images and the output folder must have the same paths on every worker (a shared file
system), and featscope-cli must be installed there (--cli names it if it is not on the workers' PATH).
The shards are written to OUT's folder as OUT.shards/part-I-of-N.npy (kept: rerunning the script
finds them up to date and only joins again).

When a worker dies, Dask runs its task again on another worker, and `features` resumes after the rows
the dead worker had finished (its .partial and .progress files). A featscope-cli whose worker dies is
killed with it, so the two never write the same shard.
"""
import argparse
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time

from distributed import Client, get_worker

PR_SET_PDEATHSIG = 1


def die_with_worker():
    """In the child: SIGKILL when the worker (the thread that started it) dies, so no orphan writes on."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def run_shard(cli, features_args, shard, shards, part):
    """One task: `features --shard shard/shards -o part`. Returns what the driver reports."""
    start = time.monotonic()
    done = subprocess.run([cli, "features", *features_args, "--shard", f"{shard}/{shards}", "-o", part],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, preexec_fn=die_with_worker)
    if done.returncode != 0:
        raise RuntimeError(f"shard {shard}/{shards}: featscope-cli features failed (exit status {done.returncode}) "
                           f"on {get_worker().address}:\n{done.stderr.strip()}")
    resumed = re.search(r"resuming after (\d+) of (\d+) images", done.stderr)
    return {"shard": shard, "part": part, "worker": get_worker().address, "seconds": time.monotonic() - start,
            "resumed_after": int(resumed.group(1)) if resumed else 0,
            "summary": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""}


def join_shards(cli, out, shard_results):
    """The last task: features-join of every part (Dask passes it the shard tasks' results)."""
    parts = [result["part"] for result in shard_results]
    done = subprocess.run([cli, "features-join", "-o", out, *parts], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, preexec_fn=die_with_worker)
    if done.returncode != 0:
        raise RuntimeError(f"featscope-cli features-join failed (exit status {done.returncode}):\n{done.stderr.strip()}")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     usage="%(prog)s --scheduler ADDRESS -o OUT.npy [--shards N] [--cli PATH] "
                                           "-- MODEL.pt --return NODE [features options] IMAGES_OR_FOLDERS...")
    parser.add_argument("--scheduler", required=True, help="the Dask scheduler, e.g. tcp://head-node:8786")
    parser.add_argument("--shards", type=int, default=0,
                        help="number of tasks (default: 4 per worker thread on the cluster at the start)")
    parser.add_argument("-o", "--output", required=True, help="OUT.npy, on storage every worker sees")
    parser.add_argument("--cli", default="featscope-cli", help="featscope-cli on the workers (default: from PATH)")
    parser.add_argument("features_args", nargs=argparse.REMAINDER,
                        help="after --: the arguments of featscope-cli features (no -o, no --shard)")
    args = parser.parse_args()
    features_args = args.features_args[1:] if args.features_args[:1] == ["--"] else args.features_args
    if not features_args:
        parser.error("give the model, --return NODE and the images after --")
    if any(a in ("-o", "--output", "--shard") or a.startswith(("--output=", "--shard=")) for a in features_args):
        parser.error("-o and --shard belong to this script, not after --")

    out = os.path.abspath(args.output if args.output.endswith(".npy") else args.output + ".npy")
    shard_dir = out[:-len(".npy")] + ".shards"
    os.makedirs(shard_dir, exist_ok=True)

    with Client(args.scheduler) as client:
        workers = len(client.nthreads())
        threads = sum(client.nthreads().values())
        if threads == 0:
            sys.exit(f"featscope_dask: no workers at {args.scheduler}; start some with: dask worker {args.scheduler}")
        shards = args.shards or 4 * threads
        start = time.monotonic()
        tasks = [client.submit(run_shard, args.cli, features_args, i, shards,
                               os.path.join(shard_dir, f"part-{i}-of-{shards}.npy"),
                               key=f"featscope-shard-{i}-of-{shards}-{os.path.basename(out)}", retries=1)
                 for i in range(1, shards + 1)]
        joined = client.submit(join_shards, args.cli, out, tasks, key=f"featscope-join-{os.path.basename(out)}")
        joined.result()
        seconds = time.monotonic() - start
        for result in client.gather(tasks):
            resumed = f", resumed after {result['resumed_after']} images" if result["resumed_after"] else ""
            print(f"shard {result['shard']}/{shards} on {result['worker']}: {result['seconds']:.1f} s{resumed}")

    with open(out[:-len(".npy")] + ".json") as f:
        rows = int(json.load(f)["rows"])
    print(f"featscope_dask: wrote {out} ({rows} rows) from {shards} shards on {workers} worker(s) ({threads} threads at the start) "
          f"in {seconds:.1f} s, {rows / seconds:.1f} images/s")


if __name__ == "__main__":
    main()
