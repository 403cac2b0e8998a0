"""The MNI152 2009 template that nilearn ships inside its wheel, read without downloading.

One home for what the demo pipeline, the synthetic dataset, the quality scores and the tests
must agree on: the space's name, the template's grid at a given resolution, the tissue
classes and their label numbers.

Which template it is: nilearn's bundled files are
``mni_icbm152_{t1,gm,wm}_tal_nlin_sym_09a_converted.nii.gz`` (1 mm, 197 x 233 x 189, origin
-98/-134/-72), the ICBM 2009a *nonlinear symmetric* release, rescaled to 8 bits. TemplateFlow
calls that space ``MNI152NLin2009aSym``; it is not fMRIPrep's default ``MNI152NLin2009cAsym``.
(nilearn's docstrings call it "asymmetrical ... release a"; the file names and the download
URL of its full version, ``mni_icbm152_nlin_sym_09a_nifti.zip``, say symmetric.)

The files are found through the installed package's location, not by importing nilearn:
importing it costs seconds that every participant run would pay, and its ``load_*``
functions resample with its own grid arithmetic. A resolution of ``r`` mm keeps the
template's origin and takes every r-th voxel after a Gaussian anti-aliasing filter, which is
the grid ``nilearn.datasets.load_mni152_template(resolution=r)`` also returns for r = 2.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bids_energy.errors import BidsEnergyError, ExitCode

SPACE = "MNI152NLin2009aSym"
SOURCE = "nilearn (bundled): mni_icbm152_*_tal_nlin_sym_09a_converted.nii.gz"
FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}
# fMRIPrep's dseg labels (its docs: 1 GM, 2 WM, 3 CSF); probseg files use the same names.
TISSUES: tuple[str, ...] = ("GM", "WM", "CSF")
BRAIN_THRESHOLD = 0.2  # nilearn's load_mni152_brain_mask default: T1 (scaled 0..1) above 0.2
INSTALL_HINT = "pip install 'bids-energy[demo]'"


class DemoExtraMissing(BidsEnergyError):
    """The demo's dependencies (ANTsPy, nilearn) are not installed.

    Exit 1 (failure), not 64: the command line is right, the installation lacks a part; the
    message names the one command that fixes it.
    """

    exit_code = ExitCode.FAILURE


def require_demo_extra() -> None:
    """Raise DemoExtraMissing unless antspyx and nilearn are importable (without importing)."""
    missing = [m for m in ("ants", "nilearn", "scipy") if importlib.util.find_spec(m) is None]
    if missing:
        raise DemoExtraMissing(
            f"the demo pipeline needs {', '.join(missing)} (ANTsPy, nilearn): {INSTALL_HINT}"
        )


def data_dir() -> Path:
    """nilearn's bundled data folder (``nilearn/datasets/data``)."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise DemoExtraMissing(f"nilearn is not installed: {INSTALL_HINT}")
    d = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    missing = [f for f in FILES.values() if not (d / f).is_file()]
    if missing:
        raise DemoExtraMissing(f"nilearn at {d.parent.parent} lacks {missing}: {INSTALL_HINT}")
    return d


@dataclass(frozen=True)
class Template:
    """The template on one grid: T1 (0..1), tissue probabilities, brain mask, affine."""

    res_mm: int
    affine: np.ndarray
    t1: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    mask: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.t1.shape)

    def priors(self) -> list[np.ndarray]:
        """Tissue probabilities in TISSUES order."""
        return [self.gm, self.wm, self.csf]

    def dseg(self) -> np.ndarray:
        """Hard labels (1 GM, 2 WM, 3 CSF, 0 outside the brain): the most probable class."""
        labels = np.argmax(np.stack(self.priors()), axis=0).astype(np.uint8) + 1
        return np.where(self.mask, labels, 0).astype(np.uint8)


def grid(res_mm: int) -> tuple[tuple[int, int, int], np.ndarray]:
    """Shape and affine of the template's grid at ``res_mm`` (the 1 mm origin kept)."""
    import nibabel as nib

    img = nib.load(str(data_dir() / FILES["t1"]))
    return _grid(img.shape, img.affine, res_mm)


def _grid(shape, affine, res_mm: int) -> tuple[tuple[int, int, int], np.ndarray]:
    if int(res_mm) != res_mm or res_mm < 1:
        raise ValueError(f"template resolution must be a whole number of mm, got {res_mm}")
    r = int(res_mm)
    new_shape = tuple(int(-(-n // r)) for n in shape[:3])
    new_affine = np.array(affine, dtype=np.float64)
    new_affine[:3, :3] = new_affine[:3, :3] * r
    return new_shape, new_affine


def _decimate_axis(a: np.ndarray, r: int, axis: int) -> np.ndarray:
    """Every r-th sample along ``axis`` after a triangle (Bartlett) filter 2r-1 wide.

    The filter is centred on the kept samples, so the grid keeps the template's origin;
    computed only where it is kept (a sum of strided slices), so it costs little.
    """
    n = a.shape[axis]
    m = -(-n // r)
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r - 1, r * m - n + r - 1)
    padded = np.pad(a, pad)
    out = np.zeros(a.shape[:axis] + (m,) + a.shape[axis + 1:], dtype=np.float32)
    for d in range(-(r - 1), r):
        w = (r - abs(d)) / (r * r)
        sl = [slice(None)] * a.ndim
        sl[axis] = slice(r - 1 + d, r - 1 + d + r * m, r)
        out += w * padded[tuple(sl)]
    return out


def _downsample(data: np.ndarray, r: int) -> np.ndarray:
    for axis in range(3):
        data = _decimate_axis(data, r, axis) if r > 1 else data
    return data


@lru_cache(maxsize=1)
def _raw() -> dict[str, np.ndarray]:
    """The 1 mm images (scaled 0..1) and their affine, read once per process."""
    import nibabel as nib

    d = data_dir()
    out = {}
    for k, f in FILES.items():
        img = nib.load(str(d / f))
        a = np.asarray(img.dataobj, dtype=np.float32)
        out[k] = a / max(float(a.max()), 1e-6)
        out["affine"] = img.affine
    return out


@lru_cache(maxsize=4)
def load(res_mm: int = 2) -> Template:
    """The template at ``res_mm``; CSF is what the brain mask holds beyond GM and WM.

    nilearn bundles no CSF map: within the brain mask, CSF = 1 - GM - WM (clipped), which
    puts the ventricles and sulcal CSF there, as the full release's CSF map does.
    """
    raw = _raw()
    r = int(res_mm)
    shape, affine = _grid(raw["t1"].shape, raw["affine"], r)
    arrays = {k: np.clip(_downsample(raw[k], r), 0.0, 1.0) for k in FILES}
    mask = arrays["t1"] > BRAIN_THRESHOLD
    gm = np.where(mask, arrays["gm"], 0.0).astype(np.float32)
    wm = np.where(mask, arrays["wm"], 0.0).astype(np.float32)
    csf = np.where(mask, np.clip(1.0 - gm - wm, 0.0, 1.0), 0.0).astype(np.float32)
    return Template(r, affine, arrays["t1"].astype(np.float32), gm, wm, csf, mask)
