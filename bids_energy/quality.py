"""Quality scores a pipeline writes beside its footprint, and the file they live in.

The demo pipeline scores its own result against the template it registered to, so every run
has a quality figure to set against its cost without the user providing one:

- ``dice_gm``, ``dice_wm``, ``dice_csf``, ``dice_mean`` (GM/WM mean): overlap of the
  participant's tissue segmentation, warped to the template, with the template's own tissue
  classes (the most probable class of its priors). A registration that undoes the anatomy's
  deformation scores high; one that leaves it (affine only) scores lower.
- ``ncc``: normalised cross-correlation of the registered T1w with the template T1 inside the
  template's brain mask; ``mi_nats``: their mutual information (joint histogram, 32 bins).

The file is ``<prefix>_desc-quality.json`` in the participant's folder; the group level reads
it (:mod:`bids_energy.analysis.quality_files`). The metric names and their direction live here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SUFFIX = "_desc-quality.json"
PRIMARY_METRIC = "dice_mean"
HIGHER_IS_BETTER = {"dice_gm": True, "dice_wm": True, "dice_csf": True, "dice_mean": True,
                    "ncc": True, "mi_nats": True}


def dice(a: np.ndarray, b: np.ndarray, label: int) -> float:
    """Dice overlap of ``label`` in two label images (1.0 when neither has it)."""
    x, y = a == label, b == label
    total = int(x.sum()) + int(y.sum())
    return 1.0 if total == 0 else 2.0 * int((x & y).sum()) / total


def ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Normalised cross-correlation of two images over ``mask`` (Pearson r, -1..1)."""
    x = a[mask].astype(np.float64)
    y = b[mask].astype(np.float64)
    x -= x.mean()
    y -= y.mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return 0.0 if den == 0 else float((x * y).sum() / den)


def mutual_information(a: np.ndarray, b: np.ndarray, mask: np.ndarray, bins: int = 32) -> float:
    """Mutual information (nats) of two images over ``mask`` from their joint histogram."""
    joint, _, _ = np.histogram2d(a[mask].ravel(), b[mask].ravel(), bins=bins)
    p = joint / max(joint.sum(), 1.0)
    px, py = p.sum(axis=1), p.sum(axis=0)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / np.outer(px, py)[nz])).sum())


def scores(
    seg: np.ndarray, ref_seg: np.ndarray, image: np.ndarray, ref_image: np.ndarray,
    ref_mask: np.ndarray, labels: dict[str, int],
) -> dict[str, float]:
    """Every score above, for a segmentation and image already on the reference's grid."""
    out = {f"dice_{name.lower()}": dice(seg, ref_seg, lab) for name, lab in labels.items()}
    out["dice_mean"] = float(np.mean([out["dice_gm"], out["dice_wm"]]))
    out["ncc"] = ncc(image, ref_image, ref_mask)
    out["mi_nats"] = mutual_information(image, ref_image, ref_mask)
    return {k: round(float(v), 6) for k, v in out.items()}


def path_for(subject_dir: Path, prefix: str) -> Path:
    return Path(subject_dir) / f"{prefix}{SUFFIX}"


def write(path: Path, values: dict[str, float], reference: str, method: str) -> Path:
    """Write the quality file: the scores, what they were measured against, and how."""
    rec = {
        "metrics": values,
        "primary_metric": PRIMARY_METRIC,
        "higher_is_better": {k: HIGHER_IS_BETTER.get(k, True) for k in values},
        "reference": reference,
        "method": method,
    }
    path.write_text(json.dumps(rec, indent=2) + "\n")
    return path
