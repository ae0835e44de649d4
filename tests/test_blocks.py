"""Block-level tests in Amaranth's simulator: the projection, the PSSA logit unit, the window
aggregation, full SA's softmax unit and involution's kernel unit, each fed what the golden
model's trace says it receives and checked, word by word and address by address, against what
the trace says it writes (sim/unit_bench.py)."""
import numpy as np

from golden.config import preset
from golden.forms import golden_form
from golden.generate import make_vector_set
from hw.aggregation import WindowAggregation
from hw.attention.involution_kernel import KernelUnit, hidden, kernel_rows
from hw.attention.pssa_logit import BANK_ROW_BITS, LogitUnit
from hw.attention.qk import qk_outputs
from hw.attention.sa_softmax import RECIP_BITS, SA_SLOTS, SoftmaxUnit
from hw.geometry import SLOTS, Geometry
from hw.params import region_images
from hw.projection import Projection
from sim.unit_bench import UnitBench, pack, put_stream, run, unpack

DEADLINE = 20000


def golden_frame(cfg):
    """A quantized random layer, one int frame (H, W, C_in) and the form's trace of it."""
    vs = make_vector_set(cfg, frames=1, seed=5)
    return vs.layer, vs.x[0], golden_form(cfg).forward(cfg, vs.layer, vs.x[0])


def words(image, bits):
    return [pack(row, bits) for row in np.asarray(image)]


def per_pixel(array, cfg):
    """(H, W, ...) -> (N, rest) in raster order."""
    return np.asarray(array).reshape(cfg.n_pixels, -1)


def test_projection_writes_q_and_k_of_every_pixel():
    cfg = preset("tiny", h=4, w=5, simd=2, pe=2)
    geo, f = Geometry(cfg), cfg.fmt
    layer, x, trace = golden_frame(cfg)
    images = region_images(cfg, layer)
    unit = Projection(geo, qk_outputs(cfg))
    bench = UnitBench(unit, contents={"w": words(images["w_qk"], f.weight_bits),
                                      "m": words(images["m_qk"], f.mult_bits)})
    xs = per_pixel(x, cfg)

    async def testbench(ctx):
        ctx.set(unit.shifts, pack([layer.s_q, layer.s_k], f.shift_bits))
        await put_stream(ctx, unit.chunk, (
            {"data": pack(xs[p, ci * cfg.simd:(ci + 1) * cfg.simd], f.data_bits), "index": ci,
             "end": ci == geo.ci_chunks - 1}
            for p in range(cfg.n_pixels) for ci in range(geo.ci_chunks)))
        await ctx.tick().until(unit.count == cfg.n_pixels)

    writes = run(bench, testbench, {"q": unit.q, "k": unit.k}, DEADLINE)
    for name, want in (("q", trace.q), ("k", trace.k)):
        assert [a for a, _ in writes[name]] == list(range(cfg.n_pixels))  # ring slot = pixel
        assert [unpack(d, cfg.d, f.data_bits) for _, d in writes[name]] == \
            per_pixel(want, cfg).tolist()


def test_logit_unit_writes_nine_logits_a_pixel():
    cfg = preset("tiny", h=4, w=5, shift=2)
    geo, f = Geometry(cfg), cfg.fmt
    layer, _, trace = golden_frame(cfg)
    unit = LogitUnit(geo)
    q, k = per_pixel(trace.q, cfg), per_pixel(trace.k, cfg)
    bench = UnitBench(unit, contents={"q": words(q, f.data_bits), "k": words(k, f.data_bits)},
                      loops={"agg_issued": "count"})

    async def testbench(ctx):
        for port, value in ((unit.avail, cfg.n_pixels), (unit.m_a, layer.m_a),
                            (unit.s_a, layer.s_a)):
            ctx.set(port, value)
        await ctx.tick().until(unit.count == cfg.n_pixels)

    writes = run(bench, testbench, {"bank": unit.bank}, DEADLINE)["bank"]
    a = per_pixel(trace.a, cfg)
    assert [addr for addr, _ in writes] == [(p % SLOTS) << BANK_ROW_BITS | t
                                            for p in range(cfg.n_pixels) for t in range(9)]
    assert [unpack(d, 1, f.data_bits)[0] for _, d in writes] == a.ravel().tolist()


def test_window_aggregation_writes_z():
    cfg = preset("tiny", h=4, w=5, simd=4)
    geo, f = Geometry(cfg), cfg.fmt
    layer, x, trace = golden_frame(cfg)
    unit = WindowAggregation(geo, cfg.shift_offsets, BANK_ROW_BITS)
    xs, a = per_pixel(x, cfg), per_pixel(trace.a, cfg)
    ring = [pack(xs[p, ci * cfg.simd:(ci + 1) * cfg.simd], f.data_bits)  # {slot = p, ci}
            for p in range(cfg.n_pixels) for ci in range(1 << geo.chunk_bits)]
    bench = UnitBench(unit, contents={"x": ring}, refilled=("a",),
                      loops={"mac_count": "count"})
    bank = bench.writes["a"]

    async def testbench(ctx):  # the logit unit's part: fill a slot once it is free
        ctx.set(unit.m_z, layer.m_z)
        ctx.set(unit.s_z, layer.s_z)
        for p in range(cfg.n_pixels):
            if p >= SLOTS:
                await ctx.tick().until(unit.issued > p - SLOTS)
            for t in range(9):
                ctx.set(bank["addr"], (p % SLOTS) << BANK_ROW_BITS | t)
                ctx.set(bank["data"], pack([a[p, t]], f.data_bits))
                ctx.set(bank["en"], 1)
                await ctx.tick()
            ctx.set(bank["en"], 0)
            ctx.set(unit.logit_count, p + 1)
        await ctx.tick().until(unit.count == cfg.n_pixels)

    writes = run(bench, testbench, {"z": unit.z}, DEADLINE)["z"]
    z = per_pixel(trace.z, cfg)
    chunks = [(p, ci) for p in range(cfg.n_pixels) for ci in range(geo.ci_chunks)]
    assert [addr for addr, _ in writes] == [(p % SLOTS) << geo.chunk_bits | ci
                                            for p, ci in chunks]
    assert [unpack(d, cfg.simd, f.data_bits) for _, d in writes] == \
        [z[p, ci * cfg.simd:(ci + 1) * cfg.simd].tolist() for p, ci in chunks]


def test_softmax_unit_logits_max_and_reciprocal():
    cfg = preset("tiny", attention="sa", h=3, w=4, simd=2)
    geo, f = Geometry(cfg), cfg.fmt
    layer, _, trace = golden_frame(cfg)
    unit = SoftmaxUnit(geo)
    bench = UnitBench(unit, contents={"q": words(trace.q, f.data_bits),
                                      "k": words(trace.k, f.data_bits)},
                      shared={"bank_r": "bank_w"}, loops={"agg_issued": "count"})
    lb = len(unit.bank_w.data)
    held = []

    async def testbench(ctx):
        for port, value in ((unit.avail, cfg.n_pixels), (unit.m_t, layer.m_t),
                            (unit.s_t, layer.s_t)):
            ctx.set(port, value)
        for p in range(cfg.n_pixels):  # the slot's max and R_p as the pixel is counted
            await ctx.tick().until(unit.count == p + 1)
            slot = p % SA_SLOTS
            held.append((unpack(ctx.get(unit.maxes), SA_SLOTS, lb)[slot],
                         unpack(ctx.get(unit.recips), SA_SLOTS, RECIP_BITS, signed=False)[slot]))

    writes = run(bench, testbench, {"bank": unit.bank_w}, DEADLINE)["bank"]
    assert [unpack(d, 1, lb)[0] for _, d in writes] == trace.t.ravel().tolist()
    assert held == list(zip(trace.t.max(axis=1).tolist(), trace.recip.tolist()))


def test_kernel_unit_writes_the_involution_kernel():
    cfg = preset("tiny", attention="involution", group_channels=4, reduction=2, simd=2,
                 h=3, w=4)
    geo, f = Geometry(cfg), cfg.fmt
    layer, _, trace = golden_frame(cfg)
    images = region_images(cfg, layer)
    unit = KernelUnit(geo)
    bench = UnitBench(unit, contents={"u": words(per_pixel(trace.u, cfg), f.data_bits),
                                      "w": words(images["w_kg"], f.weight_bits),
                                      "m": words(images["m_kg"], f.mult_bits)},
                      loops={"agg_issued": "count"})

    async def testbench(ctx):
        ctx.set(unit.avail, cfg.n_pixels)
        ctx.set(unit.s_2, layer.s_2)
        await ctx.tick().until(unit.count == cfg.n_pixels)

    writes = run(bench, testbench, {"bank": unit.bank}, DEADLINE)["bank"]
    assert hidden(cfg) == 4 and kernel_rows(cfg) == 18
    assert [unpack(d, 1, f.data_bits)[0] for _, d in writes] == \
        per_pixel(trace.h, cfg).ravel().tolist()
