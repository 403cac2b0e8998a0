"""The `demo` pipeline's real work: an anatomical workflow with ANTs (ANTsPy) on one T1w.

N4 bias-field correction, registration to the MNI152 2009a template nilearn bundles
(:mod:`bids_energy.template`; nothing is downloaded), tissue segmentation (Atropos with the
template's GM/WM/CSF priors warped to the participant) and a brain mask from the template's,
written as BIDS derivatives as fMRIPrep names them, plus a quality file scoring the result
against the template (:mod:`bids_energy.quality`). Each step is a phase
(:func:`bids_energy.phases.phase`), so the footprint splits the energy by step.

It runs as a child process of bids-energy, exactly like a wrapped pipeline, so it is measured
the same way. Its cost knobs follow fMRIPrep's: the registration's resolution and iterations
(``--sloppy`` registers at a coarser template resolution with fewer iterations) and the
transform model (affine + SyN, or affine only).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from bids_energy import quality, template
from bids_energy.phases import phase

SPACE = template.SPACE
# ANTsPy's "SyN" runs this affine stage before the SyN stage (its registration.py); the
# affine-only variant runs the same one, so the two differ by the nonlinear stage alone.
AFFINE_STAGE = {"aff_iterations": (2100, 1200, 1200, 0), "aff_shrink_factors": (4, 2, 2, 1),
                "aff_smoothing_sigmas": (3, 2, 1, 0)}


def parse_iterations(text: str) -> tuple[int, ...]:
    """``40x20x0`` -> (40, 20, 0), as antsRegistration writes its convergence."""
    try:
        its = tuple(int(x) for x in text.split("x"))
    except ValueError:
        its = ()
    if not its or any(i < 0 for i in its):
        raise argparse.ArgumentTypeError(f"iterations must look like 40x20x0, got {text!r}")
    return its


def to_ants(ants, data: np.ndarray, affine: np.ndarray):
    """An ANTsImage of ``data`` on a NIfTI (RAS) grid: ITK's physical space is LPS."""
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    flip = np.diag([-1.0, -1.0, 1.0])
    direction = flip @ (affine[:3, :3] / spacing)
    origin = flip @ affine[:3, 3]
    return ants.from_numpy(np.ascontiguousarray(data, dtype=np.float32), origin=tuple(origin),
                           spacing=tuple(spacing), direction=direction)


def _sidecar(path: Path, **fields) -> None:
    path.with_name(path.name.replace(".nii.gz", ".json")).write_text(
        json.dumps(fields, indent=2) + "\n")


def registration_res(zooms, scale: float) -> int:
    """Template resolution (whole mm) to register at: the T1w's voxel size x ``scale``.

    Registering to a grid finer than the data buys nothing but time. fMRIPrep registers a
    1 mm T1w at the template's res-1 and, with ``--sloppy``, at res-2: scale 1 and 1.5 here.
    """
    return max(1, int(round(float(np.mean(zooms)) * scale)))


def process(t1w: Path, out_dir: Path, prefix: str, transform: str = "syn", reg_scale: float = 1.0,
            syn_iterations: tuple[int, ...] = (40, 20, 0), out_res: int = 2,
            n4_iterations: tuple[int, ...] = (50, 50, 50, 50), seed: int = 1) -> dict[str, Path]:
    """Run the workflow on ``t1w``; write derivatives under ``out_dir/anat``; return them."""
    import ants

    threads = os.environ.get("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS")
    ants.config.set_ants_deterministic(True, seed)  # fixed seed, as fMRIPrep's --random-seed
    if threads:  # that call also pins ITK to one thread; --nthreads decides instead
        os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = threads
    anat = out_dir / "anat"
    anat.mkdir(parents=True, exist_ok=True)
    source = [f"bids:raw:{t1w.name}"]
    out = {
        "preproc": anat / f"{prefix}_desc-preproc_T1w.nii.gz",
        "mask": anat / f"{prefix}_desc-brain_mask.nii.gz",
        "dseg": anat / f"{prefix}_dseg.nii.gz",
        **{f"probseg_{t}": anat / f"{prefix}_label-{t}_probseg.nii.gz" for t in template.TISSUES},
        "std_preproc": anat / f"{prefix}_space-{SPACE}_res-{out_res}_desc-preproc_T1w.nii.gz",
        "std_mask": anat / f"{prefix}_space-{SPACE}_res-{out_res}_desc-brain_mask.nii.gz",
        "std_dseg": anat / f"{prefix}_space-{SPACE}_res-{out_res}_dseg.nii.gz",
        "xfm": anat / f"{prefix}_from-T1w_to-{SPACE}_mode-image_xfm.h5",
        "xfm_inv": anat / f"{prefix}_from-{SPACE}_to-T1w_mode-image_xfm.h5",
    }
    with phase("bias-correction"):
        img = ants.image_read(str(t1w))
        if img.dimension != 3:
            raise ValueError(f"{t1w} is not a 3-D image")
        reg_res = registration_res(img.spacing, reg_scale)
        head = ants.get_mask(img, cleanup=2)
        # fMRIPrep's N4 settings: shrink 4, B-spline distance 200 mm, 4 x 50 iterations, 1e-7
        n4 = ants.n4_bias_field_correction(
            img, mask=head, shrink_factor=4, spline_param=200,
            convergence={"iters": list(n4_iterations), "tol": 1e-7})
        ants.image_write(n4, str(out["preproc"]))
        _sidecar(out["preproc"], Sources=source, SkullStripped=False,
                 Description="N4 bias-field corrected T1w (ANTs)")
    with phase("registration"):
        tpl_reg = template.load(reg_res)
        fixed = to_ants(ants, tpl_reg.t1 * 1000.0, tpl_reg.affine)
        with tempfile.TemporaryDirectory(prefix="bids-energy-demo-") as tmp:
            kind = "SyN" if transform == "syn" else "Affine"
            reg = ants.registration(
                fixed=fixed, moving=n4, type_of_transform=kind, outprefix=f"{tmp}/xfm_",
                reg_iterations=syn_iterations, write_composite_transform=True,
                **(AFFINE_STAGE if kind == "Affine" else {}))
            shutil.copyfile(reg["fwdtransforms"], out["xfm"])
            shutil.copyfile(reg["invtransforms"], out["xfm_inv"])
    with phase("segmentation"):
        tpl_native = template.load(reg_res)
        priors = [ants.apply_transforms(n4, to_ants(ants, p, tpl_native.affine),
                                        [str(out["xfm_inv"])], interpolator="linear")
                  for p in tpl_native.priors()]
        mask = ants.apply_transforms(n4, to_ants(ants, tpl_native.mask.astype(np.float32),
                                                 tpl_native.affine),
                                     [str(out["xfm_inv"])], interpolator="linear")
        mask = ants.threshold_image(mask, 0.5, 2.0)
        seg = ants.prior_based_segmentation(n4, priors, mask, priorweight=0.25, mrf=0.1,
                                            iterations=5)
        ants.image_write(mask.astype("uint8"), str(out["mask"]))
        ants.image_write(seg["segmentation"].astype("uint8"), str(out["dseg"]))
        for t, p in zip(template.TISSUES, seg["probabilityimages"], strict=True):
            ants.image_write(p, str(out[f"probseg_{t}"]))
            _sidecar(out[f"probseg_{t}"], Sources=source, Type=t)
        _sidecar(out["dseg"], Sources=source,
                 Labels={str(i + 1): t for i, t in enumerate(template.TISSUES)},
                 Description="Atropos with the template's tissue priors (weight 0.25)")
        _sidecar(out["mask"], Sources=source, Type="Brain",
                 Description=f"{SPACE} brain mask warped to the T1w")
    with phase("quality"):  # template-space outputs on the template's own grid, then scores
        out.update(_standard_outputs(ants, n4, seg["segmentation"], mask, out, out_dir, prefix,
                                     out_res, source, f"ANTs {kind} registration at {reg_res} mm; "
                                     "Atropos with warped priors"))
    return out


def _standard_outputs(ants, n4, seg, mask, out: dict, out_dir: Path, prefix: str, out_res: int,
                      source: list[str], method: str) -> dict[str, Path]:
    """Resample to the template's grid at ``out_res``; score against the template there."""
    tpl_out = template.load(out_res)
    ref = to_ants(ants, tpl_out.t1, tpl_out.affine)
    std_t1 = ants.apply_transforms(ref, n4, [str(out["xfm"])], interpolator="linear")
    std_seg = ants.apply_transforms(ref, seg, [str(out["xfm"])],
                                    interpolator="nearestNeighbor")
    std_mask = ants.apply_transforms(ref, mask, [str(out["xfm"])], interpolator="nearestNeighbor")
    ants.image_write(std_t1, str(out["std_preproc"]))
    ants.image_write(std_seg.astype("uint8"), str(out["std_dseg"]))
    ants.image_write(std_mask.astype("uint8"), str(out["std_mask"]))
    for k in ("std_preproc", "std_dseg", "std_mask"):
        _sidecar(out[k], Sources=source, SpatialReference=template.SOURCE)
    values = quality.scores(
        std_seg.numpy().astype(np.uint8), tpl_out.dseg(), std_t1.numpy(), tpl_out.t1,
        tpl_out.mask, {t: i + 1 for i, t in enumerate(template.TISSUES)})
    path = quality.write(quality.path_for(out_dir, prefix), values,
                         reference=f"{SPACE} res-{out_res} ({template.SOURCE})", method=method)
    return {"quality": path}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bids-energy-demo", description=__doc__.splitlines()[0])
    p.add_argument("--t1w", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="participant output folder")
    p.add_argument("--prefix", required=True, help="BIDS entity prefix, e.g. sub-01_ses-1")
    p.add_argument("--transform", choices=("syn", "affine"), default="syn",
                   help="affine + SyN (default) or affine only")
    p.add_argument("--reg-res-scale", type=float, default=1.0,
                   help="register at the template resolution nearest the T1w's voxel size x this")
    p.add_argument("--syn-iterations", type=parse_iterations, default=(40, 20, 0),
                   help="SyN iterations per level, coarse to fine")
    p.add_argument("--n4-iterations", type=parse_iterations, default=(50, 50, 50, 50))
    p.add_argument("--output-res", type=int, default=2, help="resolution (mm) of template-space outputs")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    try:
        template.require_demo_extra()
        paths = process(a.t1w, a.out, a.prefix, a.transform, a.reg_res_scale, a.syn_iterations,
                        a.output_res, a.n4_iterations, a.seed)
    except template.DemoExtraMissing as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1
    print(f"demo: wrote {len(paths)} files to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
