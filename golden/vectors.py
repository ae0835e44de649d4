"""Test-vector sets: what the golden model writes and the testbench reads (docs/vectors.md).

A vector set is a folder holding

- ``manifest.json``: format name and version, the full ``XvConfig``, the number of frames, the
  requantization shifts and scales, and for every data file its shape, width and SHA-256;
- ``vectors.npz``: every array (inputs ``x`` (F, H, W, C_in), expected outputs ``y``
  (F, H, W, C_out), and the integer layer parameters of the form's layer class, from
  ``golden.forms``: ``golden.fixed.QuantizedLayer`` for PSSA);
- one ``NAME.hex`` per array for ``$readmemh``: one word per line, two's complement, in C order
  (frame, row, column, channel for x and y), ``ceil(bits / 4)`` hex digits.

Reading validates all of it and raises ``VectorFileError`` naming what is wrong.  This module
needs numpy only, so the testbenches can read vectors without torch.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .config import XvConfig
from .fixed import INT, OutputStage
from .forms import golden_form

FORMAT = "xvolution-vectors"
#: the external-memory weight image (golden/memory_image.py), with weights="external"
WEIGHT_IMAGE = "weights.bin"
VERSION = 1


def layer_class(cfg: XvConfig):
    """The quantized-layer class of the configuration's form (golden.forms)."""
    return golden_form(cfg).layer_class


def scalar_names(cls) -> tuple[str, ...]:
    """The layer's non-array parameters (shifts, scalar multipliers, scales)."""
    return tuple(f.name for f in fields(cls) if f.name not in cls.ARRAYS)


class VectorFileError(ValueError):
    """A vector set that is missing, malformed, corrupted or made for another configuration."""


@dataclass
class VectorSet:
    cfg: XvConfig
    layer: OutputStage
    x: np.ndarray  # (frames, H, W, C_in) int
    y: np.ndarray  # (frames, H, W, C_out) int
    seed: int = 0
    source: str = "random"

    @property
    def frames(self) -> int:
        return int(self.x.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"x": self.x, "y": self.y}
        out.update({name: np.asarray(getattr(self.layer, name)) for name in self.layer.ARRAYS})
        return out

    def widths(self) -> dict[str, int]:
        """Hex word width of every array: activations, weights, multipliers (+1: written as
        signed), the output bias (the requantizer's width), b_1 (the accumulator's)."""
        f = self.cfg.fmt
        out = {"x": f.data_bits, "y": f.data_bits}
        for name in self.layer.ARRAYS:
            out[name] = (f.weight_bits if name in self.layer.WEIGHTS else
                         f.mult_bits + 1 if name.startswith("m_") else
                         self.cfg.requant_bits if name == "bias" else f.acc_bits)
        return out


def to_hex_lines(values: np.ndarray, bits: int) -> str:
    """Two's-complement hex words, one a line."""
    digits = (bits + 3) // 4
    mask = (1 << bits) - 1
    return "".join(f"{int(v) & mask:0{digits}x}\n" for v in np.asarray(values).ravel())


def from_hex_lines(text: str, bits: int) -> np.ndarray:
    """Inverse of ``to_hex_lines`` (sign-extending each word)."""
    words = np.array([int(t, 16) for t in text.split()], dtype=object)
    sign = 1 << (bits - 1)
    return np.array([(w ^ sign) - sign for w in words], dtype=INT)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def array_shapes(cfg: XvConfig, frames: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the frames of a vector set: x (F, H, W, C_in), y (F, H, W, C_out)."""
    return {"x": (frames, cfg.h, cfg.w, cfg.c_in), "y": (frames, cfg.h, cfg.w, cfg.c_out)}


def check_vector_set(vs: VectorSet) -> None:
    """ValueError naming the first part of ``vs`` that ``read_vectors`` would refuse, so that
    nothing unreadable is written: x and y (shape, integers inside data_bits) and the layer
    (the form's class, ``layer.check``)."""
    cfg, f = vs.cfg, vs.cfg.fmt
    frames = np.shape(vs.x)[0] if np.ndim(vs.x) == 4 else 1
    if frames < 1:
        raise ValueError(f"x: shape {np.shape(vs.x)}, a vector set needs at least one frame")
    for name, shape in array_shapes(cfg, frames).items():
        arr = np.asarray(getattr(vs, name))
        if arr.shape != shape:
            raise ValueError(f"{name}: shape {arr.shape}, expected {shape} (frames, H, W, "
                             f"channels) for {cfg.name}")
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name}: dtype {arr.dtype}, expected integers")
        if arr.min() < f.data_min or arr.max() > f.data_max:
            raise ValueError(f"{name}: values outside int{f.data_bits}")
    if not isinstance(vs.layer, layer_class(cfg)):
        raise ValueError(f"layer: a {type(vs.layer).__name__}, expected the {cfg.attention} "
                         f"form's {layer_class(cfg).__name__}")
    vs.layer.check(cfg)


def write_vectors(vs: VectorSet, out: Path) -> Path:
    """Check ``vs`` (``check_vector_set``), write it into folder ``out`` (created) and return
    the manifest's path."""
    check_vector_set(vs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = vs.arrays()
    np.savez(out / "vectors.npz", **arrays)
    files = {"vectors.npz": {"sha256": _sha256(out / "vectors.npz")}}
    for name, bits in vs.widths().items():
        path = out / f"{name}.hex"
        path.write_text(to_hex_lines(arrays[name], bits))
        files[path.name] = {"sha256": _sha256(path), "shape": list(arrays[name].shape),
                            "bits": bits}
    if vs.cfg.external_weights:  # what the engine fetches from external memory
        from .memory_image import weight_image

        (out / WEIGHT_IMAGE).write_bytes(weight_image(vs.cfg, vs.layer))
        files[WEIGHT_IMAGE] = {"sha256": _sha256(out / WEIGHT_IMAGE)}
    manifest = {
        "format": FORMAT, "version": VERSION, "config": vs.cfg.to_dict(), "frames": vs.frames,
        "seed": vs.seed, "source": vs.source,
        "scalars": {name: getattr(vs.layer, name) for name in scalar_names(type(vs.layer))},
        "files": files,
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def _fail(folder: Path, message: str) -> VectorFileError:
    return VectorFileError(f"vector set {folder}: {message}")


def _load_manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    if not path.is_file():
        raise _fail(folder, "missing manifest.json (write one with `python -m golden vectors`)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise _fail(folder, f"manifest.json is not valid JSON ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _fail(folder, f"manifest.json is not a {FORMAT} manifest")
    if manifest.get("version") != VERSION:
        raise _fail(folder, f"manifest version {manifest.get('version')!r}, expected {VERSION}")
    for key in ("config", "frames", "scalars", "files"):
        if key not in manifest:
            raise _fail(folder, f"manifest.json lacks {key!r}")
    return manifest


def _verify_checksums(folder: Path, files: dict) -> None:
    for name, meta in files.items():
        path = folder / name
        if not path.is_file():
            raise _fail(folder, f"missing file {name}")
        if _sha256(path) != meta.get("sha256"):
            raise _fail(folder, f"{name} does not match its checksum (corrupted or edited)")


def read_vectors(folder: Path, expect: XvConfig | None = None) -> VectorSet:
    """Read and validate a vector set; ``expect`` also requires its configuration to match."""
    folder = Path(folder)
    if not folder.is_dir():
        raise _fail(folder, "no such folder")
    manifest = _load_manifest(folder)
    try:
        cfg = XvConfig.from_dict(manifest["config"])
    except (TypeError, ValueError) as err:
        raise _fail(folder, f"invalid configuration in manifest: {err}") from None
    if expect is not None and cfg != expect:
        diff = sorted(k for k, v in cfg.to_dict().items() if expect.to_dict().get(k) != v)
        raise _fail(folder, f"written for another configuration (differs in {diff})")
    _verify_checksums(folder, manifest["files"])
    try:
        with np.load(folder / "vectors.npz") as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError) as err:
        raise _fail(folder, f"vectors.npz is unreadable ({err})") from None
    frames = manifest["frames"]
    for name, shape in array_shapes(cfg, frames).items():
        if name not in arrays:
            raise _fail(folder, f"vectors.npz lacks {name!r}")
        if arrays[name].shape != shape:
            raise _fail(folder, f"{name} has shape {arrays[name].shape}, expected {shape}")
    try:
        layer = layer_class(cfg).from_dict({**arrays, **manifest["scalars"]})
        layer.check(cfg)
    except ValueError as err:
        raise _fail(folder, f"layer parameters: {err}") from None
    _check_hex_matches(folder, manifest["files"], arrays)
    return VectorSet(cfg=cfg, layer=layer, x=arrays["x"].astype(INT), y=arrays["y"].astype(INT),
                     seed=int(manifest.get("seed", 0)), source=str(manifest.get("source", "?")))


def _check_hex_matches(folder: Path, files: dict, arrays: dict) -> None:
    """The .hex words must be the .npz arrays (a cheap guard against a half-written set)."""
    for name in ("x", "y"):
        meta = files.get(f"{name}.hex")
        if meta is None:
            raise _fail(folder, f"manifest lists no {name}.hex")
        words = from_hex_lines((folder / f"{name}.hex").read_text(), meta["bits"])
        if words.size != arrays[name].size or not np.array_equal(words,
                                                                 arrays[name].ravel()):
            raise _fail(folder, f"{name}.hex disagrees with vectors.npz")
