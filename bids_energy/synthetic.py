"""A small synthetic BIDS dataset, so a newcomer's first run and the tests do real work.

The T1w images are head-like phantoms (a bright ellipsoid "brain" inside a dimmer "scalp"
shell, a smooth bias field and noise), big enough that the demo pipeline burns a few
seconds of CPU on each, small enough to generate in well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

DEFAULT_SHAPE = (96, 112, 96)


def _phantom(shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    grid = np.indices(shape, dtype=np.float32)
    centre = np.array(shape, dtype=np.float32)[:, None, None, None] / 2
    radii = np.array(shape, dtype=np.float32)[:, None, None, None] * np.array(
        [0.32, 0.36, 0.34], dtype=np.float32
    )[:, None, None, None] * rng.uniform(0.92, 1.05)
    r = np.sqrt((((grid - centre) / radii) ** 2).sum(axis=0))
    img = np.where(r < 1.0, 800.0, 0.0) + np.where((r >= 1.0) & (r < 1.18), 300.0, 0.0)
    img += np.where(r < 0.45, -250.0, 0.0)  # ventricles / deep tissue contrast
    bias = 1.0 + 0.25 * (grid[0] / shape[0] - 0.5) + 0.15 * (grid[2] / shape[2] - 0.5)
    img = img * bias + rng.normal(0.0, 25.0, size=shape)
    return np.clip(img, 0, None).astype(np.float32)


def make_synthetic_dataset(
    path: str | Path,
    n_subjects: int = 3,
    sessions: list[str] | None = None,
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    with_bold: bool = True,
    seed: int = 0,
) -> Path:
    """Write a valid small BIDS dataset at ``path`` and return it."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(
        json.dumps(
            {
                "Name": "bids-energy synthetic dataset",
                "BIDSVersion": "1.9.0",
                "DatasetType": "raw",
                "Authors": ["bids-energy"],
            },
            indent=2,
        )
    )
    (root / "README").write_text("Synthetic head phantoms made by bids-energy for demos and tests.\n")
    rng = np.random.default_rng(seed)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    rows = ["participant_id\tage\tsex"]
    for i in range(1, n_subjects + 1):
        label = f"{i:02d}"
        rows.append(f"sub-{label}\t{20 + i}\t{'MF'[i % 2]}")
        for ses in sessions or [None]:
            base = root / f"sub-{label}"
            prefix = f"sub-{label}"
            if ses:
                base = base / f"ses-{ses}"
                prefix += f"_ses-{ses}"
            anat = base / "anat"
            anat.mkdir(parents=True, exist_ok=True)
            t1 = nib.Nifti1Image(_phantom(shape, rng), affine)
            t1.header.set_xyzt_units("mm")
            nib.save(t1, anat / f"{prefix}_T1w.nii.gz")
            (anat / f"{prefix}_T1w.json").write_text(json.dumps({"MagneticFieldStrength": 3}))
            if with_bold:
                func = base / "func"
                func.mkdir(parents=True, exist_ok=True)
                bold = rng.normal(500, 10, size=(8, 8, 8, 6)).astype(np.float32)
                img = nib.Nifti1Image(bold, np.diag([3.0, 3.0, 3.0, 1.0]))
                img.header.set_xyzt_units("mm", "sec")
                nib.save(img, func / f"{prefix}_task-rest_bold.nii.gz")
                (func / f"{prefix}_task-rest_bold.json").write_text(
                    json.dumps({"RepetitionTime": 2.0, "TaskName": "rest"})
                )
    (root / "participants.tsv").write_text("\n".join(rows) + "\n")
    return root
