"""The `demo` pipeline's real work: bias correction, intensity normalisation, smoothing and a
brain mask of one T1w, with numpy and nibabel only.

It runs as a child process of bids-energy, exactly like a wrapped pipeline, so it is measured
the same way. It is small but honest work: a polynomial bias field fitted by least squares
over several iterations, separable Gaussian smoothing, and a mask from thresholding plus
morphological opening and a largest-connected-component pass.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np


def polynomial_basis(shape: tuple[int, ...], order: int) -> np.ndarray:
    """Monomials of the normalised voxel coordinates up to ``order`` (columns)."""
    axes = [np.linspace(-1.0, 1.0, n, dtype=np.float64) for n in shape]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    cols = []
    for i in range(order + 1):
        for j in range(order + 1 - i):
            for k in range(order + 1 - i - j):
                cols.append((x**i * y**j * z**k).ravel())
    return np.stack(cols, axis=1)


def fit_bias_field(img: np.ndarray, mask: np.ndarray, order: int, iterations: int) -> np.ndarray:
    """Multiplicative bias field, fitted in the log domain to the foreground (N4-like, simpler)."""
    # An image with few foreground voxels cannot support a high-order field: lower the
    # order until there are at least 20 voxels per coefficient.
    while order > 0 and mask.sum() < 20 * len(polynomial_basis((2, 2, 2), order)[0]):
        order -= 1
    basis = polynomial_basis(img.shape, order)
    logimg = np.log(np.clip(img, 1e-3, None)).ravel()
    field = np.zeros(img.size)
    sel = mask.ravel()
    for _ in range(iterations):
        resid = logimg - field
        target = resid[sel] - np.median(resid[sel])
        coef, *_ = np.linalg.lstsq(basis[sel], target + field[sel], rcond=None)
        field = basis @ coef
        field -= np.mean(field[sel])
        # a multiplicative bias beyond x/÷ e^2 is not a coil's: keep the fit physical
        field = np.clip(field, -2.0, 2.0)
    return np.exp(field).reshape(img.shape)


def gaussian_kernel(sigma_vox: float) -> np.ndarray:
    radius = max(1, int(3 * sigma_vox))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-(x**2) / (2 * sigma_vox**2))
    return k / k.sum()


def smooth(img: np.ndarray, sigma_vox: float) -> np.ndarray:
    """Separable Gaussian smoothing (edge-padded)."""
    out = img.astype(np.float64)
    k = gaussian_kernel(sigma_vox)
    for axis in range(out.ndim):
        out = np.apply_along_axis(lambda v: np.convolve(np.pad(v, len(k) // 2, mode="edge"), k, "valid"), axis, out)
    return out


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = (np.sum(hist * centres) - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(centres[int(np.argmax(between))])


def _shift_all(mask: np.ndarray, op) -> np.ndarray:
    out = mask.copy()
    for axis in range(mask.ndim):
        for step in (-1, 1):
            out = op(out, np.roll(mask, step, axis=axis))
    return out


def erode(mask: np.ndarray, n: int) -> np.ndarray:
    for _ in range(n):
        mask = _shift_all(mask, np.logical_and)
    return mask


def dilate(mask: np.ndarray, n: int) -> np.ndarray:
    for _ in range(n):
        mask = _shift_all(mask, np.logical_or)
    return mask


def largest_component(mask: np.ndarray) -> np.ndarray:
    """Keep the component containing the mask's centre of mass (flood by repeated dilation)."""
    if not mask.any():
        return mask
    idx = np.argwhere(mask)
    seed = tuple(idx[np.argmin(((idx - idx.mean(axis=0)) ** 2).sum(axis=1))])
    region = np.zeros_like(mask)
    region[seed] = True
    while True:
        grown = dilate(region, 1) & mask
        if grown.sum() == region.sum():
            return region
        region = grown


def process(t1w: Path, out_dir: Path, prefix: str, iterations: int = 4, order: int = 3,
            sigma_mm: float = 2.0) -> dict[str, Path]:
    img = nib.load(str(t1w))
    data = np.asarray(img.dataobj, dtype=np.float64)
    if data.ndim != 3:
        raise ValueError(f"{t1w} is not a 3-D image (shape {data.shape})")
    rough = data > otsu_threshold(data[data > 0]) * 0.5 if (data > 0).any() else data > 0
    field = fit_bias_field(np.clip(data, 1e-3, None), rough, order, iterations)
    corrected = data / field
    fg = corrected[rough]
    lo, hi = np.percentile(fg, [2, 98]) if fg.size else (0.0, 1.0)
    normalised = np.clip((corrected - lo) / max(hi - lo, 1e-6), 0, None) * 1000.0
    zooms = img.header.get_zooms()[:3]
    smoothed = smooth(normalised, sigma_mm / float(np.mean(zooms)))
    thr = otsu_threshold(smoothed[smoothed > 0]) if (smoothed > 0).any() else 0.0
    mask = largest_component(dilate(erode(smoothed > thr, 2), 2))
    anat = out_dir / "anat"
    anat.mkdir(parents=True, exist_ok=True)
    outputs = {
        "preproc": (anat / f"{prefix}_desc-preproc_T1w.nii.gz", normalised.astype(np.float32)),
        "smooth": (anat / f"{prefix}_desc-smooth_T1w.nii.gz", smoothed.astype(np.float32)),
        "mask": (anat / f"{prefix}_desc-brain_mask.nii.gz", mask.astype(np.uint8)),
    }
    for path, arr in outputs.values():
        out = nib.Nifti1Image(arr, img.affine, img.header)
        out.set_data_dtype(arr.dtype)
        nib.save(out, str(path))
        sidecar = {"Sources": [f"bids:raw:{t1w.name}"], "SkullStripped": False}
        path.with_name(path.name.replace(".nii.gz", ".json")).write_text(json.dumps(sidecar, indent=2))
    return {k: v[0] for k, v in outputs.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bids-energy-demo", description=__doc__.splitlines()[0])
    p.add_argument("--t1w", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="participant output folder")
    p.add_argument("--prefix", required=True, help="BIDS entity prefix, e.g. sub-01_ses-1")
    p.add_argument("--iterations", type=int, default=4)
    p.add_argument("--order", type=int, default=3)
    p.add_argument("--fwhm", type=float, default=4.7, help="smoothing FWHM in mm")
    a = p.parse_args(argv)
    try:
        paths = process(a.t1w, a.out, a.prefix, a.iterations, a.order, a.fwhm / 2.3548)
    except (OSError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1
    print(f"demo: wrote {len(paths)} images to {a.out / 'anat'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
