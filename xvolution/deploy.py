"""Deploy a trained X-volution layer: quantize it, run it bit-exact, simulate the RTL on your own
frames, write its Verilog, parameter stream and weight image, save and load it (docs/deploy.md).

This package sits above golden/, hw/ and sim/ and uses only their public pieces: the golden
model's re-parameterization and quantizers (``golden.forms``), the parameter packer
(``hw.params``), the Verilog generator (``hw.build``), the testbench runner and the cycle model
(``sim``).
"""
from __future__ import annotations

import copy
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from golden.config import XvConfig
from golden.forms import golden_form
from golden.model import XVolution, reparameterize
from golden.quantize import dequantize_input, quantize_input
from golden.vectors import VectorSet, write_vectors

from .errors import DeployError, require


@dataclass(frozen=True)
class Calibration:
    """How the calibration set fits the integer input format: the fraction of its values that
    saturate at int ``data_bits`` (the scale is chosen from the set, so this is 0 unless a
    few outliers set it), and the same for the outputs of the bit-exact model."""

    frames: int
    input_saturated: float
    output_saturated: float

    def __str__(self) -> str:
        return (f"calibrated on {self.frames} frames: {self.input_saturated:.2%} of the inputs "
                f"and {self.output_saturated:.2%} of the outputs saturate")


@dataclass
class Simulation:
    """An RTL run of your frames: the engine's outputs (int, N H W C_out), whether every word
    equals the bit-exact model, and the cycles measured and predicted."""

    outputs: np.ndarray
    mismatches: int
    cycles: int
    model_cycles: int
    folder: Path


def _frames(x, cfg: XvConfig, what: str = "x") -> torch.Tensor:
    """Float frames as float64 CPU NCHW; one CHW frame is taken as a batch of one."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    require(isinstance(x, torch.Tensor), what, f"expected a torch tensor or a numpy array, "
            f"got {type(x).__name__}")
    require(x.is_floating_point(), what, f"expected float frames, got dtype {x.dtype} "
            "(integer frames go to predict_int)")
    if x.dim() == 3:
        x = x[None]
    shape = (cfg.c_in, cfg.h, cfg.w)
    require(x.dim() == 4 and tuple(x.shape[1:]) == shape, what,
            f"expected frames of shape (N, {cfg.c_in}, {cfg.h}, {cfg.w}) or "
            f"({cfg.c_in}, {cfg.h}, {cfg.w}), got {tuple(x.shape)}")
    return x.detach().to("cpu", torch.float64)


def _saturated(values: np.ndarray, bits: int) -> float:
    limit = 1 << (bits - 1)
    return float(np.mean((values <= -limit) | (values >= limit - 1))) if values.size else 0.0


class DeployedLayer:
    """A quantized X-volution layer and the engine configuration that computes it."""

    def __init__(self, cfg: XvConfig, layer, calibration: Calibration | None = None):
        self.cfg, self.layer, self.calibration = cfg, layer, calibration

    # ------------------------------------------------------------------ bit-exact model
    def quantize_input(self, x) -> np.ndarray:
        """Float frames (N C H W, or one C H W) to the engine's int input (N H W C_in)."""
        return quantize_input(_frames(x, self.cfg), self.layer.x_scale, self.cfg)

    def predict_int(self, xi) -> np.ndarray:
        """The engine's exact integer outputs (N H W C_out) for int input frames (N H W C_in)."""
        xi = np.asarray(xi)
        cfg = self.cfg
        require(np.issubdtype(xi.dtype, np.integer), "x",
                f"expected integer frames, got dtype {xi.dtype} (float frames go to predict)")
        if xi.ndim == 3:
            xi = xi[None]
        require(xi.ndim == 4 and xi.shape[1:] == (cfg.h, cfg.w, cfg.c_in), "x",
                f"expected int frames of shape (N, {cfg.h}, {cfg.w}, {cfg.c_in}), "
                f"got {xi.shape}")
        forward = golden_form(cfg).forward
        return np.stack([forward(cfg, self.layer, frame).y for frame in xi])

    def predict(self, x) -> torch.Tensor:
        """What the engine computes for float frames, as float NCHW: quantize, run the
        integer model, scale back."""
        yi = self.predict_int(self.quantize_input(x))
        return dequantize_input(yi, self.layer.y_scale)

    # ------------------------------------------------------------------ hardware
    def parameter_words(self) -> list[int]:
        """The engine's parameter stream (s_param, one value a beat, ``param_bits`` wide)."""
        from hw.params import param_words

        return param_words(self.cfg, self.layer)

    def weight_image(self) -> bytes:
        """With external weights, the bytes to put in DRAM at ``weights_base``."""
        from golden.memory_image import weight_image

        require(self.cfg.external_weights, "weights",
                "the weight image is for weights='external'; these weights are on chip")
        return weight_image(self.cfg, self.layer)

    def verilog(self, path) -> Path:
        """Write the engine's synthesizable Verilog (top module ``xvolution_engine``)."""
        from hw.build import write_verilog

        path = Path(path)
        return write_verilog(self.cfg, _writable(path.parent) / path.name)

    def vector_set(self, x) -> VectorSet:
        """Your frames and the engine's exact outputs, as a vector set (docs/vectors.md)."""
        xi = self.quantize_input(x)
        return VectorSet(cfg=self.cfg, layer=self.layer, x=xi, y=self.predict_int(xi),
                         source="user")

    def simulate(self, x, simulator: str = "verilator", stall: float = 0.0,
                 folder=None) -> Simulation:
        """Run your frames through the RTL (cocotb): every output word is compared with the
        bit-exact model, and the cycles with the cycle model's prediction."""
        from sim.cycle_model import predict
        from sim.runner import run_vectors

        vs = self.vector_set(x)
        folder = _writable(Path(folder) if folder else Path(tempfile.mkdtemp(prefix="xv-")))
        write_vectors(vs, folder / "vectors")
        outputs = folder / "outputs.npy"
        figures = run_vectors(folder / "vectors", simulator, stall=stall, outputs=outputs)
        return Simulation(outputs=np.load(outputs), mismatches=figures["mismatches"],
                          cycles=figures["cycles"],
                          model_cycles=predict(self.cfg, vs.frames).cycles, folder=folder)

    def export(self, folder, x=None) -> Path:
        """Write what a hardware engineer needs: the parameter stream (``params.hex``, one
        word a line, and ``params.bin``, little-endian words of ``param_bits`` rounded up to
        bytes), the weight image (``weights.bin``, external weights), the Verilog, the saved
        layer, a manifest, and with frames ``x`` their vector set."""
        from hw.build import TOP
        from hw.geometry import Geometry

        folder = _writable(Path(folder))
        geo = Geometry(self.cfg)
        words = self.parameter_words()
        digits, nbytes = (geo.param_bits + 3) // 4, (geo.param_bits + 7) // 8
        (folder / "params.hex").write_text("".join(f"{w:0{digits}x}\n" for w in words))
        (folder / "params.bin").write_bytes(b"".join(w.to_bytes(nbytes, "little")
                                                     for w in words))
        if self.cfg.external_weights:
            (folder / "weights.bin").write_bytes(self.weight_image())
        self.verilog(folder / f"{TOP}.v")
        self.save(folder / "layer.npz")
        if x is not None:
            write_vectors(self.vector_set(x), folder / "vectors")
        manifest = {"config": self.cfg.to_dict(), "description": self.cfg.describe(),
                    "parameter_words": len(words), "param_bits": geo.param_bits,
                    "calibration": str(self.calibration) if self.calibration else None}
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        return folder

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """The whole quantized layer and its configuration in one .npz file."""
        path = _writable(Path(path).parent) / Path(path).name
        arrays = {f"layer.{k}": np.asarray(v) for k, v in self.layer.as_dict().items()}
        meta = {"config": self.cfg.to_dict(),
                "calibration": self.calibration.__dict__ if self.calibration else None}
        np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
        return path

    def __repr__(self) -> str:
        return f"DeployedLayer({self.cfg.describe()})"


def load(path) -> DeployedLayer:
    """A layer saved with ``DeployedLayer.save``."""
    path = Path(path)
    require(path.is_file(), "path", f"no such file {path}")
    try:
        with np.load(path) as npz:
            meta = json.loads(str(npz["meta"]))
            values = {k.split(".", 1)[1]: npz[k] for k in npz.files if k.startswith("layer.")}
    except (OSError, ValueError, KeyError) as err:
        raise DeployError(f"path: {path} is not a saved layer ({err})") from None
    cfg = XvConfig.from_dict(meta["config"])
    layer = golden_form(cfg).layer_class.from_dict(values)
    layer.check(cfg)
    calibration = Calibration(**meta["calibration"]) if meta.get("calibration") else None
    return DeployedLayer(cfg, layer, calibration)


def deploy(module: XVolution, calibration, **hardware) -> DeployedLayer:
    """Quantize a trained training-form layer (``golden.model.XVolution``, any float dtype,
    any device) for the engine, calibrating on float frames (N C H W); ``hardware`` overrides
    fields of its configuration that do not change the layer (``simd``, ``pe``, ``weights``,
    ``co_tile``, ``data_bits``, ...)."""
    require(isinstance(module, XVolution), "module",
            f"expected a golden.model.XVolution (training form), got {type(module).__name__}")
    layer_fields = {"h", "w", "c_in", "c_out", "d", "k", "shift", "attention",
                    "group_channels", "reduction"}
    changed = sorted(set(hardware) & layer_fields)
    require(not changed, "hardware", f"{changed} describe the layer, not the engine: they "
            "come from the module")
    try:
        cfg = module.cfg.replace(**hardware)
    except (TypeError, ValueError) as err:
        raise DeployError(str(err)) from None
    model = copy.deepcopy(module).to("cpu", torch.float64).eval()
    _check_shapes(model, cfg)
    calib = _frames(calibration, cfg, "calibration")
    dyn = reparameterize(model)
    layer = golden_form(cfg).quantize(dyn, calib)
    deployed = DeployedLayer(cfg, layer)
    xi = deployed.quantize_input(calib)
    yi = deployed.predict_int(xi)
    deployed.calibration = Calibration(frames=int(calib.shape[0]),
                                       input_saturated=_saturated(xi, cfg.fmt.data_bits),
                                       output_saturated=_saturated(yi, cfg.fmt.data_bits))
    return deployed


def _check_shapes(model: XVolution, cfg: XvConfig) -> None:
    """The module's parameters must be the shapes its configuration says (a state dict loaded
    into another configuration fails here, by name, not deep inside the quantizer)."""
    reference = XVolution(cfg).state_dict()
    for name, value in model.state_dict().items():
        want = reference.get(name)
        require(want is not None, "module", f"unexpected parameter {name!r} for "
                f"{cfg.describe()}")
        require(tuple(value.shape) == tuple(want.shape), "module",
                f"{name} has shape {tuple(value.shape)}, the configuration needs "
                f"{tuple(want.shape)}")


def _writable(folder: Path) -> Path:
    """Create ``folder`` (and its parents) or say in one line why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".xv-write-probe"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise DeployError(f"out: cannot write to {folder} ({err.strerror or err})") from None
    return folder
