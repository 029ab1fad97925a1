#!/usr/bin/python3
"""The torchvision side of the peak-memory figure: what a user's inference script does with torchvision.

Imports torch and torchvision, builds the model, loads the same weights featscope's file holds, creates the fx
feature extractor, and runs it once on the input under no-grad. Prints its own peak RSS as JSON: VmHWM, which
starts afresh at exec (getrusage's ru_maxrss would carry over the size of the process that started this one).
"""

import argparse
import json

import torch
import torchvision
from torchvision.models.feature_extraction import create_feature_extractor

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--state", required=True, help="state_dict saved with torch.save")
parser.add_argument("--input", required=True, help="input tensor saved with torch.save")
parser.add_argument("--return-nodes", required=True, help="JSON object {node: key}")
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()


def peak_rss_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


torch.set_num_threads(args.threads)
model = getattr(torchvision.models, args.model)()
model.load_state_dict(torch.load(args.state))
loaded_kb = peak_rss_kb()
extractor = create_feature_extractor(model, return_nodes=json.loads(args.return_nodes)).eval()
x = torch.load(args.input)
created_kb = peak_rss_kb()
with torch.no_grad():
    checksum = sum(float(v.sum()) for v in extractor(x).values())


print(json.dumps({"peak_rss_kb": peak_rss_kb(), "peak_after_load_kb": loaded_kb, "peak_before_forward_kb": created_kb,
                  "checksum": checksum}))
