"""Real data end to end (make demo): digits through the RTL, and a photograph.

1. Train the digits network (golden/digits.py) with each middle layer: plain conv, X-volution
   PSSA, SA and involution (cached under build/demo/).
2. Test accuracy of every form: training form, re-parameterized S8 (must equal), the int8
   fixed-point golden model of the PSSA layer, and the RTL: the PSSA layer of the test images
   runs through the cocotb simulation of the engine, its output words go through the rest of
   the network in float, and the predictions are compared with the golden model's.
3. A photograph (scikit-learn's china.jpg, grayscale) scaled to a feature map, through the stem
   and the PSSA layer in float and in the RTL: docs/real-data.png.
4. docs/real-data.md with the table.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from golden.digits import MIDDLES, TrainSettings, accuracy, layer_config, load_data, train
from golden.fixed import forward_fixed, sqnr_db
from golden.model import reparameterize
from golden.quantize import quantize_input, quantize_layer
from golden.vectors import VectorSet, write_vectors
from sim.runner import run_vectors

ROOT = Path(__file__).resolve().parent.parent
CALIBRATION_IMAGES = 512
SHOWN_CHANNELS = 4


@dataclass
class DemoSettings:
    train: TrainSettings = field(default_factory=TrainSettings)
    rtl_images: int = 0          # 0: every test image
    photo_size: int = 48
    simulator: str = "verilator"
    cache: Path = ROOT / "build" / "demo"
    docs: Path = ROOT / "docs"


@dataclass
class FormResult:
    network: str
    form: str
    accuracy: float
    images: int
    note: str = ""


@dataclass
class DemoResult:
    rows: list
    rtl_images: int
    rtl_agreement: float
    rtl_words: int
    rtl_mismatches: int
    reparam_max_diff: dict
    photo_sqnr_db: float
    photo_rtl_equal: bool
    photo_input_saturated: float
    seconds: dict


def quantize_pssa(net, data, cfg):
    """The trained PSSA layer in the engine's integers, calibrated on training images."""
    with torch.no_grad():
        calib = net.stem(data.x_train[:CALIBRATION_IMAGES])
    return quantize_layer(reparameterize(net.middle), calib)


def golden_fixed(net, layer, cfg, images: torch.Tensor):
    """(int inputs NHWC, int outputs NHWC, logits) of the fixed-point path."""
    with torch.no_grad():
        xi = quantize_input(net.stem(images), layer.x_scale, cfg)
    yi = np.stack([forward_fixed(cfg, layer, frame).y for frame in xi])
    return xi, yi, head_logits(net, yi, layer)


def head_logits(net, yi: np.ndarray, layer) -> torch.Tensor:
    """The rest of the network, in float, on integer layer outputs NHWC."""
    y = torch.from_numpy(yi.transpose(0, 3, 1, 2).astype(np.float64) * layer.y_scale)
    with torch.no_grad():
        return net.head(y)


def run_rtl(cfg, layer, xi, yi, folder: Path, simulator: str, label: str) -> tuple[np.ndarray,
                                                                                     dict]:
    """Frames through the cocotb simulation; returns what the RTL sent and the figures."""
    write_vectors(VectorSet(cfg=cfg, layer=layer, x=xi, y=yi, source=label), folder)
    result = run_vectors(folder, simulator=simulator, outputs=folder / "rtl_outputs.npy")
    return np.load(folder / "rtl_outputs.npy"), result.figures


def photo_map(size: int) -> torch.Tensor:
    """china.jpg, centre square, grayscale, area-resized to size x size, in [0, 1] like the
    digits: (1, 1, size, size) float64."""
    from sklearn.datasets import load_sample_images

    photo = load_sample_images().images[0].astype(np.float64).mean(-1) / 255.0
    h, w = photo.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = torch.from_numpy(photo[top:top + side, left:left + side])[None, None]
    return F.interpolate(crop, size=(size, size), mode="area")


def photograph(net, layer, cfg, settings: DemoSettings, png: Path) -> tuple[float, bool, float]:
    """The photo through the stem and the PSSA layer in float (S8) and in the RTL; PNG."""
    pcfg = cfg.replace(h=settings.photo_size, w=settings.photo_size)
    image = photo_map(settings.photo_size)
    dyn = reparameterize(net.middle)
    with torch.no_grad():
        feats = net.stem(image)
        y_float = dyn(feats)[0].numpy()
    xi = quantize_input(feats, layer.x_scale, pcfg)
    yi = np.stack([forward_fixed(pcfg, layer, xi[0]).y])
    rtl, figures = run_rtl(pcfg, layer, xi, yi, settings.cache / "photo-vectors",
                           settings.simulator, "photo")
    y_rtl = rtl[0].transpose(2, 0, 1) * layer.y_scale
    plot_photo(image[0, 0].numpy(), y_float, y_rtl, png)
    equal = figures["mismatches"] == 0 and np.array_equal(rtl, yi)
    f = cfg.fmt
    saturated = float(np.isin(xi, (f.data_min, f.data_max)).mean())
    return sqnr_db(y_float, y_rtl), equal, saturated


def plot_photo(image, y_float, y_rtl, png: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    channels = np.argsort(-y_float.std(axis=(1, 2)))[:SHOWN_CHANNELS]  # the liveliest ones
    fig, axes = plt.subplots(3, SHOWN_CHANNELS + 1, figsize=(2.2 * (SHOWN_CHANNELS + 1), 6.8))
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(image, cmap="gray")
    axes[0, 0].set_title("input (china.jpg)", fontsize=9)
    for col, c in enumerate(channels, start=1):
        lo, hi = y_float[c].min(), y_float[c].max()
        for row, (y, name) in enumerate(((y_float, "float S8"), (y_rtl, "RTL int8"))):
            axes[row, col].imshow(y[c], cmap="viridis", vmin=lo, vmax=hi)
            axes[row, col].set_title(f"{name}, channel {c}", fontsize=9)
        diff = np.abs(y_rtl[c] - y_float[c])
        axes[2, col].imshow(diff, cmap="magma", vmin=0, vmax=(hi - lo) / 4)
        axes[2, col].set_title(f"|RTL - float|, max {diff.max():.3f}", fontsize=9)
    fig.suptitle("X-volution (PSSA) layer of the digits network on a photograph", fontsize=11)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def run(settings: DemoSettings) -> DemoResult:
    cfg = layer_config()
    data = load_data(settings.train.seed)
    rows, diffs, seconds = [], {}, {}
    n_test = len(data.y_test)
    nets = {}
    t0 = time.time()
    for middle in tqdm(MIDDLES, desc="train (cached in build/demo)", unit="net"):
        nets[middle] = train(middle, cfg, data, settings.train, settings.cache,
                             progress=lambda r: tqdm(r, desc=f"  {middle}", unit="epoch",
                                                     leave=False))
    seconds["train"] = time.time() - t0
    for middle, net in nets.items():
        with torch.no_grad():
            logits = net(data.x_test)
        rows.append(FormResult(middle, "training form, float64", accuracy(logits, data.y_test),
                               n_test))
        if middle == "conv":
            continue
        with torch.no_grad():
            logits_s8 = net.head(reparameterize(net.middle)(net.stem(data.x_test)))
        diffs[middle] = float((logits_s8 - logits).abs().max())
        same = float((logits_s8.argmax(1) == logits.argmax(1)).double().mean())
        rows.append(FormResult(middle, "re-parameterized S8, float64",
                               accuracy(logits_s8, data.y_test), n_test,
                               f"max logit diff {diffs[middle]:.1e}, same predictions "
                               f"{100 * same:.0f}%"))

    net = nets["pssa"]
    layer = quantize_pssa(net, data, cfg)
    xi, yi, logits_fixed = golden_fixed(net, layer, cfg, data.x_test)
    pred_fixed = logits_fixed.argmax(1)
    rows.append(FormResult("pssa", f"fixed-point golden, int{cfg.fmt.data_bits}",
                           accuracy(logits_fixed, data.y_test), n_test))

    n = settings.rtl_images or n_test
    t0 = time.time()
    print(f"RTL: {n} test images through the engine ({cfg.describe()}), {settings.simulator}",
          flush=True)
    rtl, figures = run_rtl(cfg, layer, xi[:n], yi[:n], settings.cache / "digits-vectors",
                           settings.simulator, "digits")
    seconds["rtl"] = time.time() - t0
    logits_rtl = head_logits(net, rtl, layer)
    agreement = float((logits_rtl.argmax(1) == pred_fixed[:n]).double().mean())
    rows.append(FormResult("pssa", "RTL (cocotb + Verilator), head in float",
                           accuracy(logits_rtl, data.y_test[:n]), n,
                           f"{100 * agreement:.0f}% same predictions as the golden model"))

    t0 = time.time()
    photo_sqnr, photo_equal, photo_sat = photograph(net, layer, cfg, settings,
                                         settings.docs / "real-data.png")
    seconds["photo"] = time.time() - t0
    return DemoResult(rows=rows, rtl_images=n, rtl_agreement=agreement,
                      rtl_words=figures["outputs_compared"], rtl_mismatches=figures["mismatches"],
                      reparam_max_diff=diffs, photo_sqnr_db=photo_sqnr,
                      photo_rtl_equal=photo_equal, photo_input_saturated=photo_sat,
                      seconds=seconds)


NAMES = {"conv": "plain 3x3 conv + BN", "pssa": "X-volution, PSSA", "sa": "X-volution, full SA",
         "involution": "X-volution, involution"}


def write_report(result: DemoResult, settings: DemoSettings, path: Path) -> Path:
    cfg = layer_config()
    t = settings.train
    lines = [
        "# Real data: handwritten digits through the RTL",
        "",
        "Generated by `make demo` (`python -m reports demo`, reports/demo.py); do not edit.",
        "",
        "The network (golden/digits.py): 3x3 conv 1 -> 16 + BN + ReLU, then the middle layer "
        "(16 -> 16 on the 8 x 8 map), ReLU, 2x2 average pool, linear 256 -> 10. The middle "
        "layer is the spec's `digits` workload; each variant is trained in its training form "
        f"(multi-branch, BN) on scikit-learn's `load_digits` (75/25 split, seed {t.seed}): "
        f"AdamW, lr {t.lr}, {t.epochs} epochs, batch {t.batch}, cosine schedule. The engine: "
        f"{cfg.describe()}.",
        "",
        "| network | form | test accuracy | images | note |",
        "|---|---|---|---|---|",
    ]
    for r in result.rows:
        lines.append(f"| {NAMES[r.network]} | {r.form} | {100 * r.accuracy:.2f}% | {r.images} "
                     f"| {r.note} |")
    lines += [
        "",
        f"RTL: the PSSA layer of {result.rtl_images} test images ran through the generated "
        f"Verilog (cocotb, Verilator); {result.rtl_words} output words were compared with the "
        f"fixed-point golden model: {result.rtl_mismatches} mismatched, so the RTL's "
        f"predictions agree with the golden model's on {100 * result.rtl_agreement:.0f}% of "
        "the images. The rest of the network runs in float on the RTL's output words.",
        "",
        "The digits are an easy task: every variant is within a few test images of the others "
        "(one image is 0.22%), so this table shows that X-volution trains and survives "
        "re-parameterization and int8 quantization, not that one attention form is better.",
        "",
        "The re-parameterized network (S8: one dynamic convolution in place of the two branches "
        "and their BNs) gives the training form's logits to "
        + ", ".join(f"{d:.1e} ({m})" for m, d in result.reparam_max_diff.items())
        + " (largest absolute difference over the test set).",
        "",
        "## A photograph",
        "",
        f"scikit-learn's `china.jpg`, centre square, grayscale, area-resized to "
        f"{settings.photo_size} x {settings.photo_size} and scaled to [0, 1] like the digits, "
        "through the trained stem and the PSSA layer: float S8 (top), the RTL's int8 output "
        "dequantized (middle), their difference (bottom), for the four output channels that "
        "vary most. The layer's weights do not depend on the frame size, so the same "
        f"quantized layer runs on a {settings.photo_size} x {settings.photo_size} engine. "
        f"RTL = fixed-point golden on every word: {'yes' if result.photo_rtl_equal else 'NO'}; "
        f"SQNR of the RTL output against float: {result.photo_sqnr_db:.1f} dB, with "
        f"{100 * result.photo_input_saturated:.2f}% of the layer's int8 inputs saturated "
        "(the scales were calibrated on digits).",
        "",
        "![photo](real-data.png)",
        "",
        f"Run time of this report: training {result.seconds['train']:.0f} s (0 when cached), "
        f"RTL simulation of the digits {result.seconds['rtl']:.0f} s, photograph "
        f"{result.seconds['photo']:.0f} s.",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path
