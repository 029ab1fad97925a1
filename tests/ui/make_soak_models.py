"""The zoo models of ui.soak: torchvision's resnet18 and mobilenet_v3_small, scripted with weights
seeded by their names (the CAM tests' recipe, tests/core/cam_models.py). Usage: make_soak_models.py FOLDER
(models already there are kept)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core"))
from cam_models import make_model, scripted_path  # noqa: E402

if __name__ == "__main__":
    folder = sys.argv[1]
    for name in ("resnet18", "mobilenet_v3_small"):
        print(scripted_path(make_model(name), name, folder))
