"""A small synthetic BIDS dataset, so a newcomer's first run and the tests do real work.

Each participant is the MNI152 2009a template (the one nilearn bundles, see
:mod:`bids_energy.template`) pushed through a known transform (a small rotation, scaling and
shift, then a smooth random displacement of a few millimetres), multiplied by a smooth bias
field, with Rician noise, sampled at a low resolution. The demo pipeline's quality scores
then have a ground truth: a registration that undoes the deformation finds the template's
tissue maps again; one that cannot (affine only) scores lower.

``shape`` sets the sampling of a fixed field of view around the brain (FOV_MM): the tests'
40 x 48 x 40 gives 4.2 mm voxels, the default 56 x 66 x 56 gives 3 mm.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

DEFAULT_SHAPE = (56, 66, 56)
FOV_MM = (168.0, 200.0, 168.0)
BRAIN_CENTRE_MM = (0.0, -17.0, 5.0)  # centre of the template's brain, MNI coordinates
WARP_MM = 6.0  # largest smooth displacement (mm): what an affine alone cannot undo
BIAS = 0.25  # bias-field amplitude (x/÷ about 1.25 across the head)
NOISE = 0.03  # noise sd as a fraction of the white-matter intensity


def _voxel_mm(shape: tuple[int, int, int]) -> float:
    return max(f / n for f, n in zip(FOV_MM, shape, strict=True))


def subject_affine(shape: tuple[int, int, int]) -> np.ndarray:
    """Isotropic voxels covering FOV_MM, the grid centred on the brain's centre."""
    v = _voxel_mm(shape)
    aff = np.diag([v, v, v, 1.0])
    aff[:3, 3] = np.array(BRAIN_CENTRE_MM) - v * (np.array(shape) - 1) / 2
    return aff


def _rotation(angles_rad) -> np.ndarray:
    ax, ay, az = angles_rad
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _smooth_field(points: np.ndarray, rng: np.random.Generator, n_modes: int = 4) -> np.ndarray:
    """A random smooth scalar field at ``points`` (N x 3 mm): a few long-wave cosines."""
    out = np.zeros(len(points))
    for _ in range(n_modes):
        k = rng.normal(size=3)
        k *= 2 * np.pi / rng.uniform(70.0, 130.0) / np.linalg.norm(k)  # wavelength 70-130 mm
        out += np.cos(points @ k + rng.uniform(0, 2 * np.pi))
    return out / np.sqrt(n_modes / 2)


def to_template_mm(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The participant's known transform: subject mm -> template mm (draws from ``rng``)."""
    c = np.array(BRAIN_CENTRE_MM)
    rot = _rotation(np.deg2rad(rng.uniform(-6, 6, size=3)))
    scale = rng.uniform(0.95, 1.05)
    shift = rng.uniform(-4, 4, size=3)
    y = (points - c) @ (rot * scale).T + c + shift
    disp = np.stack([_smooth_field(points, rng) for _ in range(3)], axis=1)
    disp *= WARP_MM / max(float(np.abs(disp).max()), 1e-6)
    return y + disp


def _participant(shape: tuple[int, int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One T1w (float32) and its affine, made from the template (see the module doc)."""
    from scipy.ndimage import map_coordinates

    from bids_energy import template

    aff = subject_affine(shape)
    v = _voxel_mm(shape)
    tpl = template.load(int(min(4, max(1, round(v / 2)))))  # pre-filtered near half the voxel
    ijk = np.indices(shape, dtype=np.float64).reshape(3, -1).T
    pts = ijk @ aff[:3, :3].T + aff[:3, 3]
    y = to_template_mm(pts, rng)
    tidx = (y - tpl.affine[:3, 3]) @ np.linalg.inv(tpl.affine[:3, :3]).T
    anat = map_coordinates(tpl.t1, tidx.T, order=1, mode="constant", cval=0.0)
    bias = np.exp(BIAS * _smooth_field(pts, rng, n_modes=2) / 2)
    signal = 1000.0 * anat * bias
    n1, n2 = rng.normal(0.0, NOISE * 1000.0, size=(2, len(pts)))
    img = np.sqrt((signal + n1) ** 2 + n2**2)  # Rician: a magnitude image
    return img.reshape(shape).astype(np.float32), aff


def make_synthetic_dataset(
    path: str | Path,
    n_subjects: int = 3,
    sessions: list[str] | None = None,
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    with_bold: bool = True,
    seed: int = 0,
) -> Path:
    """Write a valid small BIDS dataset at ``path`` and return it.

    Needs the demo extra (nilearn's bundled template, scipy): DemoExtraMissing otherwise.
    """
    from bids_energy.template import require_demo_extra

    require_demo_extra()
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
    (root / "README").write_text(
        "Synthetic participants made by bids-energy from the MNI152 2009a template "
        "(known deformation, bias field and noise) for demos and tests.\n"
    )
    rng = np.random.default_rng(seed)
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
            data, affine = _participant(tuple(shape), rng)
            t1 = nib.Nifti1Image(data, affine)
            t1.header.set_xyzt_units("mm")
            t1.set_qform(affine, code=1)
            t1.set_sform(affine, code=1)
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
