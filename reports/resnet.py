"""Beyond one layer, on paper: ResNet-50's stage 3 with X-volution in every 3 x 3, from the cycle
model (docs/performance.md, "ResNet-50 stage 3").

Stage 3 (conv4_x) at 224 x 224 input runs at 14 x 14: six bottleneck blocks, each a 1 x 1
reduction to 256 channels, the 3 x 3 (here an X-volution layer, PSSA, C = 256, D = 32) and a 1 x 1
expansion to 1024; the first block reduces from 512 and has a 1 x 1 projection shortcut
(512 -> 1024), its stride-2 downsampling taken at 14 x 14 like the rest (an estimate).  The 1 x 1
layers are the engine's plain-convolution form with K = 1.  One engine runs the layers in turn,
so every layer's weights come from external memory each frame: fetched in tiles over AXI4 (the
largest tile that fits the block RAM, ``choose_weights``), the first two tiles of a layer before
it starts (``PREFETCHED``, counted), the rest during its compute; its feature maps are streamed
in and out over its AXI4-Stream ports.
"""
from __future__ import annotations

from dataclasses import dataclass

from golden.config import XvConfig
from hw.geometry import BLOCK_RAM_BITS, BLOCK_RAM_FILL, Geometry
from sim.cycle_model import PREFETCHED, MemoryTiming, predict

from .synth import TARGETS

SIZE = 14
BLOCKS = 6


@dataclass(frozen=True)
class Device:
    name: str
    multipliers: int
    bram_bits: int
    simd: int
    pe: int
    axi_bits: int


#: the ECP5-85F (156 MULT18, 208 x 18 kbit) with a 8 x 16 MAC array and a 64-bit memory port,
#: and a device with four times its multipliers and memory, a 16 x 32 array and 128 bits
_MULTS, _BRAM = TARGETS["ecp5-85f"].capacity["DSP"], BLOCK_RAM_BITS["ecp5-85f"]
DEVICES = (Device("ECP5-85F", _MULTS, _BRAM, 8, 16, 64),
           Device("4 x ECP5-85F", 4 * _MULTS, 4 * _BRAM, 16, 32, 128))


def layer_cycles(cfg: XvConfig) -> int:
    """A layer's frame, run on its own: the fetch of its first tiles, then the frame."""
    return PREFETCHED * MemoryTiming().tile_cycles(Geometry(cfg)) + predict(cfg, 1).cycles


def layers(device: Device) -> list[tuple[str, int, XvConfig, bool]]:
    """(name, how many, engine configuration, fits) of the stage's layers on ``device``."""
    def layer(name, c_in, c_out, k, attention):
        """The tile (of those that fit the block RAM) with the fewest cycles: large tiles
        make the first fetch long, small ones make the frame be held."""
        cfg = XvConfig(h=SIZE, w=SIZE, c_in=c_in, c_out=c_out, d=max(1, c_in // 8), k=k,
                       attention=attention, simd=device.simd, pe=device.pe,
                       axi_bits=device.axi_bits, weights="external", name=name)
        budget = BLOCK_RAM_FILL * device.bram_bits
        fitting = [cfg.replace(co_tile=t) for t in range(device.pe, c_out + 1, device.pe)
                   if c_out % t == 0 and sum(Geometry(cfg.replace(co_tile=t)).buffer_bits()
                                                 .values()) <= budget]
        return (min(fitting, key=layer_cycles), True) if fitting else (cfg, False)

    return [(name, count, *layer(*shape)) for name, count, shape in (
        ("1x1 reduce 512 -> 256 (block 1)", 1, ("reduce1", 512, 256, 1, "conv")),
        ("1x1 projection 512 -> 1024 (block 1)", 1, ("shortcut", 512, 1024, 1, "conv")),
        ("1x1 reduce 1024 -> 256", BLOCKS - 1, ("reduce", 1024, 256, 1, "conv")),
        ("3x3 X-volution (PSSA) 256 -> 256", BLOCKS, ("xvolution", 256, 256, 3, "pssa")),
        ("1x1 expand 256 -> 1024", BLOCKS, ("expand", 256, 1024, 1, "conv")),
    )]


@dataclass
class LayerCost:
    name: str
    count: int
    weights: str
    cycles: int            # a frame of this layer and the fetch of its first tiles
    mac_utilization: float
    bottleneck: str
    weight_bytes: int      # read from external memory a frame
    feature_bytes: int     # feature maps in and out a frame
    fits: bool = True
    memory_bits: int = 0   # the engine's on-chip memories (smallest tile)


def estimate(device: Device) -> list[LayerCost]:
    out = []
    for name, count, cfg, fits in layers(device):
        if not fits:  # the smallest tile: what the frame alone needs
            cfg = cfg.replace(co_tile=cfg.pe)
            out.append(LayerCost(name, count, "-", 0, 0.0, "-", 0,
                                 cfg.n_pixels * (cfg.c_in + cfg.c_out), fits=False,
                                 memory_bits=sum(Geometry(cfg).buffer_bits().values())))
            continue
        model = predict(cfg, 1)
        geo = Geometry(cfg)
        cycles = layer_cycles(cfg)
        data_bytes = cfg.fmt.data_bits // 8
        out.append(LayerCost(
            name=name, count=count,
            weights=f"{cfg.tiles} x {cfg.tile_co} ch",
            cycles=cycles, mac_utilization=model.mac_busy / cycles,
            bottleneck=model.bottleneck, weight_bytes=geo.tiles_bytes_per_frame,
            feature_bytes=cfg.n_pixels * (cfg.c_in + cfg.c_out) * data_bytes))
    return out


def section(clock_mhz: float, clock_source: str) -> list[str]:
    """The markdown section of docs/performance.md."""
    lines = [
        "## ResNet-50 stage 3, on paper",
        "",
        "The whole of stage 3 (conv4_x at 224 x 224 input: 14 x 14, six bottleneck blocks) with "
        "an X-volution layer (PSSA) in every 3 x 3, from the cycle model "
        "(`reports/resnet.py`): one engine runs the layers in turn, the 1 x 1 layers as the "
        "plain-convolution form with K = 1; since it switches layers, every layer's weights "
        "come from external memory each frame, in the largest tiles that fit its block RAM "
        "(`choose_weights`), the first two tiles of a layer fetched before it starts (counted "
        "in its cycles), the rest during its compute; feature maps are streamed in and out. "
        "Each layer runs one frame (its pipeline fill and drain counted: layers do not "
        "overlap). The first block's stride 2 is taken at 14 x 14 like the rest. Clock: "
        f"{clock_mhz:.1f} MHz ({clock_source}).",
        "",
    ]
    for device in DEVICES:
        costs = estimate(device)
        cycles = sum(c.cycles * c.count for c in costs)
        fps = clock_mhz * 1e6 / cycles
        weight_bytes = sum(c.weight_bytes * c.count for c in costs)
        feature_bytes = sum(c.feature_bytes * c.count for c in costs)
        lines += [f"### {device.name}: {device.multipliers} multipliers, "
                  f"{device.bram_bits / 2**20:.1f} Mbit of block RAM, SIMD x PE = "
                  f"{device.simd} x {device.pe}", "",
                  "| layer | x | weight tiles | cycles / frame | MAC utilization | bottleneck "
                  "| weight bytes / frame |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {c.name} | {c.count} | {c.weights} | {c.cycles:,} | "
                  f"{c.mac_utilization:.3f} | {c.bottleneck} | {c.weight_bytes:,} |"
                  if c.fits else
                  f"| {c.name} | {c.count} | does not fit: {c.memory_bits / 2**20:.1f} Mbit "
                  "even with the smallest tile | | | | |" for c in costs]
        misfits = [c for c in costs if not c.fits]
        if misfits:
            lines += [
                "", f"Stage 3 does not fit {device.name} in this engine: "
                + ", ".join(c.name for c in misfits) + " must hold a frame of its input (with "
                "output-channel tiles every tile reads the frame again, so the x ring keeps the "
                "frame and the next frame's first window, rounded to a power of two) and that alone "
                "exceeds the block RAM. What would lift it: input-channel tiles as well "
                "(partial sums kept on chip or in external memory), not built here.", ""]
            continue
        busiest = max(costs, key=lambda c: c.cycles * c.count)
        busy = sum(c.mac_utilization * c.cycles * c.count for c in costs) / cycles
        lines += [
            "",
            f"Stage 3 a frame: {cycles:,} cycles, {fps:.1f} frames per second at "
            f"{clock_mhz:.1f} MHz; external traffic {weight_bytes / 1e6:.2f} MB of weights "
            f"and {feature_bytes / 1e6:.2f} MB of feature maps a frame, "
            f"{(weight_bytes + feature_bytes) * fps / 1e6:.0f} MB/s, which a single DDR3 "
            f"channel exceeds by far. What limits it: the MAC array multiplies in {busy:.0%} "
            "of the cycles (the steady-state bottleneck of every layer is "
            f"{', '.join(sorted({c.bottleneck for c in costs}))}); the rest is each layer's "
            "pipeline fill and drain and the fetch of its first tiles, paid at every layer "
            "switch since the layers run one at a time. The "
            f"{busiest.name} layers take {busiest.cycles * busiest.count / cycles:.0%} of the "
            "cycles.", ""]
    return lines
