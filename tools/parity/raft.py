"""RAFT-large parity fixture: torchvision's own `raft_large` on two image pairs.

    PYTHONPATH=src:. python tools/parity/raft.py TV_DIR

TV_DIR is an unpacked torchvision wheel's `torchvision/` folder (`pip download --no-deps
torchvision`, then unzip); its modules are imported with the package's `__init__` bypassed
(`common.bypass_torchvision`). The weights are random (`tests.helpers_stablevsr.raft_state`,
rebuilt by the test; their digest is stored). Written: tests/fixtures/raft/flows.safetensors
with three uint8 LR frames of the end-to-end fixture (RAFT sees their bicubic ×4 in [-1, 1],
as the official pipelines feed it; pairs (1, 0) and (1, 2)) and the last of 12 flow
predictions of torchvision's model (a) as the official scripts run it, never in eval mode
(context BatchNorm on the batch's statistics, one pair per call) and (b) in eval mode (the
stored running statistics).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "src"), str(REPO), str(Path(__file__).resolve().parent)]
import common  # noqa: E402
from tests import helpers_stablevsr as H  # noqa: E402

OUT = REPO / "tests" / "fixtures" / "raft" / "flows.safetensors"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("torchvision", type=Path, help="an unpacked wheel's torchvision/ folder")
    args = ap.parse_args()
    from safetensors.torch import load_file, save_file

    common.bypass_torchvision(args.torchvision.resolve())
    from torchvision.models.optical_flow.raft import raft_large

    raft = raft_large(weights=None, progress=False)
    raft.load_state_dict(H.raft_state(), strict=True)
    raft.requires_grad_(False)
    frames = load_file(str(H.E2E / "stablevsr.safetensors"))["four.inputs"][:3]
    lr = frames.permute(0, 3, 1, 2).float() / 127.5 - 1
    up = torch.nn.functional.interpolate(lr, scale_factor=4, mode="bicubic")  # 128×144
    image1, image2 = up[[1, 1]], up[[0, 2]]  # pairs (1, 0) and (1, 2)
    out = {"lr_uint8": frames}
    with torch.no_grad():
        out["flow_train"] = torch.cat(
            [raft(image1[i : i + 1], image2[i : i + 1])[-1] for i in range(2)]
        )
        # Train-mode calls moved the BatchNorm running statistics: eval mode starts afresh.
        raft.load_state_dict(H.raft_state(), strict=True)
        raft.eval()
        out["flow_eval"] = raft(image1, image2)[-1]
    meta = {"raft_digest": H.state_digest(H.raft_state()), "updates": "12"}
    save_file({k: v.contiguous() for k, v in out.items()}, str(OUT), metadata=meta)
    print(f"wrote {OUT.relative_to(REPO)} ({OUT.stat().st_size / 1e6:.2f} MB)",
          "max |flow|", float(out["flow_train"].abs().max()))  # fmt: skip


if __name__ == "__main__":
    main()
