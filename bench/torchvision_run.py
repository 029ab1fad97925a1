#!/usr/bin/python3
"""The torchvision side of the peak-memory figure: what a user's inference script does with torchvision.

Imports torch and torchvision, builds the model, loads the same weights featscope's file holds, creates the fx
feature extractor, and runs it once on the input under no-grad. Prints its own peak RSS (getrusage) as JSON.
"""

import argparse
import json
import resource

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

torch.set_num_threads(args.threads)
model = getattr(torchvision.models, args.model)()
model.load_state_dict(torch.load(args.state))
extractor = create_feature_extractor(model, return_nodes=json.loads(args.return_nodes)).eval()
x = torch.load(args.input)
with torch.no_grad():
    checksum = sum(float(v.sum()) for v in extractor(x).values())
print(json.dumps({"peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "checksum": checksum}))
