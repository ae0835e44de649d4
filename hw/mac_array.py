"""The SIMD x PE MAC array and its sequencer: S9's W'_d x_{p+d} taps and the W'_v z tap.

Per output pixel p (once its window is projected and z_p is in the z buffer), for each
group og of PE output channels, for each tap t of the K*K window plus the z tap (forms without
attention have none: ``XvConfig.taps``), for each chunk
ci of SIMD input channels, one cycle: PE x SIMD multiplies of a weight word by the SIMD inputs,
summed per PE lane into the convolution accumulator acc_c (taps) or the attention accumulator
acc_a (z tap).  After a group's last cycle the PE pairs (acc_c, acc_a) go to the output stage.

The weight memory is read in address order, so its address is a running counter.  A group is
only started with a credit from the output FIFO, so results never need back-pressure.
"""
from __future__ import annotations

from functools import partial

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .dsp import in_dsp, multiply
from .geometry import Geometry, ceil_log2
from .kept_register import kept_tree, tree_levels
from .ports import read_port, region_read_port
from .weight_fetch import TILE_COUNT_BITS
from .util import (PixelCursor, lanes, next_tap, register, registered_neighbour, sum_in_two_steps,
                   wrap_inc)

#: cycles from the counts allowing a pixel's window to its first issue (``_window_ok``)
WINDOW_WAIT = 1


#: the tags that steer one PE lane's accumulators, copied a lane (``MacArray``)
ACC_CONTROL = data.StructLayout({"valid": 1, "z": 1, "first": 1, "last": 1})


def result_signature(geo: Geometry) -> wiring.Signature:
    """A group of PE results, from the MAC array to the output stage: the convolution sums
    acc_c and the z-tap sums acc_a (0 without attention), one pulse of ``valid`` a group."""
    cfg, f = geo.cfg, geo.cfg.fmt
    return wiring.Signature({"valid": Out(1), "group": Out(range(geo.co_groups)),
                             "acc_c": Out(cfg.pe * f.acc_bits),
                             "acc_a": Out(cfg.pe * f.acc_bits)})


class MacArray(wiring.Component):

    def __init__(self, geo: Geometry, credits: int):
        self.geo, self.credits = geo, credits
        super().__init__({
            "avail": In(geo.count_bits),      # pixels projected (their x is in the ring)
            "agg_count": In(geo.count_bits),  # pixels whose z is ready
            "sent": In(1),                    # the output stage handed a group on
            "x": read_port(ceil_log2(geo.x_words), geo.in_bits),
            "z": read_port(ceil_log2(geo.z_words), geo.in_bits),
            "w": (read_port(ceil_log2(geo.tile_buffer_words), geo.weight_word_bits)
                  if geo.cfg.external_weights else region_read_port(geo.region("w_mac"))),
            # a banked weight memory (``hw.weight_banks``) registers the read address itself:
            # the address ``w.addr`` holds next cycle, or above ``FANOUT`` banks whether it
            # moves on (the issue: each bank counts, ``Geometry.weight_issue_levels``)
            **({"w_step": Out(1)} if geo.weight_issue_levels else
               {"w_next": Out(geo.region("w_mac").addr_bits)} if geo.weight_banks > 1 else {}),
            # a bank deeper than a block RAM answers every piece's word, and the piece to take
            # (``hw.weight_banks``); ``w.data`` is then unused
            **({"w_pieces": In(geo.weight_pieces * geo.weight_word_bits),
                "w_piece": In(geo.weight_banks * geo.weight_piece_bits)}
               if geo.weight_pieces > 1 else {}),
            "result": Out(result_signature(geo)),
            "count": Out(geo.count_bits),     # pixels whose reads are all issued
            "busy": Out(1),                   # the array multiplies this cycle
            # external weights: tiles the fetcher has loaded, tiles this array has finished
            **({"tiles_loaded": In(TILE_COUNT_BITS), "tile_count": Out(TILE_COUNT_BITS)}
               if geo.cfg.external_weights else {}),
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        kk, pe, simd = cfg.k * cfg.k, cfg.pe, cfg.simd
        cur = PixelCursor(geo, "mac")
        groups = geo.tile_groups  # output groups a pass over the frame (all, without tiles)
        og = Signal(range(groups))
        t = Signal(range(cfg.taps))
        ci = Signal(range(geo.ci_chunks))
        has_z = cfg.has_attention
        offsets = cfg.conv_offsets + ((0, 0),) * has_z  # tap K^2: z

        # ---------------------------------------------------------------- issue
        outstanding = Signal(range(self.credits + 1))
        pixel_start = (og == 0) & (t == 0) & (ci == 0)
        group_start = (t == 0) & (ci == 0)
        pixel_end = (ci == geo.ci_chunks - 1) & (t == cfg.taps - 1) & (og == groups - 1)
        window_ok = Signal(name="window_ok")  # the pixel's window and z are ready (registered)
        issue = (~pixel_start | window_ok) & (~group_start | (outstanding < self.credits))
        if cfg.external_weights:  # and the tile's weights are in their buffer
            issue &= ~pixel_start | ((self.tiles_loaded - self.tile_count)[:TILE_COUNT_BITS] != 0)
        m.d.comb += [
            self.busy.eq(issue),
            self.z.addr.eq(Cat(ci[:geo.chunk_bits], cur.pixel[:geo.z_slot_bits])),
        ]
        taken = issue & group_start
        m.d.sync += outstanding.eq(outstanding + taken - self.sent)
        with m.If(issue):
            m.d.sync += ci.eq(wrap_inc(ci, geo.ci_chunks - 1))
            with m.If(ci == geo.ci_chunks - 1):
                m.d.sync += t.eq(wrap_inc(t, cfg.taps - 1))
                with m.If(t == cfg.taps - 1):
                    m.d.sync += og.eq(wrap_inc(og, groups - 1))
                    with m.If(og == groups - 1):  # the pixel's reads are all issued
                        cur.step(m)
        if cfg.external_weights:
            group, rewind = self._tiles(m, cur, issue & pixel_end, og)
        else:
            group, rewind = og, None
        self._window_ok(m, cur, window_ok, issue & pixel_end, rewind)
        inside = self._window_address(m, cur, offsets, issue, pixel_end, rewind,
                                      next_tap(m, issue, t, ci, cfg.taps, geo.ci_chunks, "mac"),
                                      ci)
        if not cfg.external_weights:
            m.d.comb += self.count.eq(cur.pixel)
            following = wrap_inc(self.w.addr, geo.co_groups * cfg.taps * geo.ci_chunks - 1)
            with m.If(issue):  # the weights are read in address order, one pixel a pass
                m.d.sync += self.w.addr.eq(following)
            if geo.weight_issue_levels:
                m.d.comb += self.w_step.eq(issue)
            elif geo.weight_banks > 1:
                m.d.comb += self.w_next.eq(Mux(issue, following, self.w.addr))

        # ---------------------------------------------------------------- pipeline
        tags = {"valid": issue, "z": (t == kk) if has_z else Const(0, 1), "inside": inside,
                "first": (ci == 0) & ((t == 0) | (t == kk)),
                "last": (ci == geo.ci_chunks - 1) & (t == cfg.taps - 1), "group": group}
        s0 = register(m, tags, "s0")
        # the memories answer now; their outputs are registered before any logic (the weights
        # later still where the issue or the address passes kept copies on its way to the
        # banks, and a register beside the block RAMs: ``weight_read_delay``)
        pieced = geo.weight_pieces > 1
        answered = {**s0, "x": self.x.data, "zv": self.z.data}
        for level in range(1, 1 + geo.weight_read_delay):
            answered = register(m, answered, f"s0w{level}")
        s1 = register(m, {**answered, "w": self.w_pieces if pieced else self.w.data,
                          **({"w_piece": self.w_piece} if pieced else {})}, "s1")
        # the operands cross the chip from the memories to the DSP rows in registered steps:
        # the operand multiplexer's register, then one copy a PE lane (a kept module, which
        # Yosys cannot merge back) beside its row of multipliers, through a tree of copies
        # where the lanes are many (``kept_tree``: ``copy_levels`` steps), and the weights
        # through as many registers beside their multipliers
        copy_levels = tree_levels(pe)
        operand = Mux(s1["z"], s1["zv"], Mux(s1["inside"], s1["x"], 0))
        tags = {k: v for k, v in s1.items() if k not in ("x", "zv", "w", "w_piece")}
        weights = self._weight_piece(s1["w"], s1["w_piece"]) if pieced else s1["w"]
        s1b = register(m, {**tags, "x": operand, "w": weights}, "s1b")
        # then each copy and the weights once more (``util.NEAR_DSP``): a register the placer puts
        # beside the very DSP block it feeds, so no cycle holds a route across the DSP row
        # (in the ECP5 form the DSP blocks' input registers, ``hw.dsp``)
        near = (lambda values, name: values) if in_dsp(platform) else partial(register, m)
        xs = [lanes(near({"x": copy}, f"x{lane}_near")["x"], simd, f.data_bits)
              for lane, copy in enumerate(kept_tree(m, s1b["x"], "x", pe, reset_less=True))]
        w_near = {"w": s1b["w"]}
        for level in range(copy_levels):
            w_near = register(m, w_near, f"s1c{level}" if level else "s1c")
        ws = lanes(near(w_near, "s1d")["w"], pe * simd, f.weight_bits)
        stages = [tags]
        for stage in ("s2d", "s2c", *(f"s2c{level}" for level in range(1, copy_levels)),
                      "s2b", "s2", "s3a", "s3"):
            stages.append(register(m, stages[-1], stage))
        products = []
        for lane in range(pe):
            row_p = []
            for s in range(simd):
                p = Signal(signed(f.data_bits + f.weight_bits), name=f"prod_{lane}_{s}")
                multiply(m, platform, p, ws[lane * simd + s], xs[lane][s], f"mul_{lane}_{s}")
                row_p.append(p)
            products.append(row_p)
        # each PE lane's SIMD products summed in two registered steps: pairs beside the DSP
        # blocks, then the lane's sum
        s3 = stages[-1]
        # the accumulators' control, one kept copy a PE lane in step with s3 (``kept_tree``
        # from ``copy_levels`` stages before it): s3's first, z, valid and last selected and
        # enabled every lane's accumulators and result across the DSP rows (stage2 8 x 16's
        # placed critical path on cffe75d: mac.s3_first -> the result's acc_a, 8.9 ns of
        # routing)
        early = stages[-1 - copy_levels]
        lane_control = [data.View(ACC_CONTROL, copy) for copy in kept_tree(
            m, Cat(*(early[k] for k in ACC_CONTROL.members)), "acc_control", pe)]
        sums = [Signal(signed(f.acc_bits), name=f"lane_sum{lane}", reset_less=True)
                for lane in range(pe)]
        for lane, (sm, row_p) in enumerate(zip(sums, products)):
            sum_in_two_steps(m, sm, row_p, f"pair_{lane}")

        # the accumulators and the result's payload are data: only the result's valid is reset
        acc_c = [Signal(signed(f.acc_bits), name=f"acc_c{lane}", reset_less=True)
                 for lane in range(pe)]
        acc_a = [Signal(signed(f.acc_bits), name=f"acc_a{lane}", reset_less=True)
                 for lane in range(pe)]
        res = self.result
        group = Signal.like(res.group, name="result_group", reset_less=True)
        out_c = [Signal(signed(f.acc_bits), name=f"result_acc_c{lane}", reset_less=True)
                 for lane in range(pe)]
        out_a = [Signal(signed(f.acc_bits), name=f"result_acc_a{lane}", reset_less=True)
                 for lane in range(pe)]
        m.d.comb += [res.group.eq(group), res.acc_c.eq(Cat(*out_c)),
                     res.acc_a.eq(Cat(*out_a) if has_z else 0)]
        m.d.sync += res.valid.eq(0)
        with m.If(s3["valid"] & s3["last"]):  # the z tap's (or the window's) last cycle
            m.d.sync += [res.valid.eq(1), group.eq(s3["group"])]
        for lane, ctl in enumerate(lane_control):
            new_c = sums[lane] + Mux(ctl.first, 0, acc_c[lane])
            new_a = sums[lane] + Mux(ctl.first, 0, acc_a[lane])
            with m.If(ctl.valid):
                with m.If(ctl.z):
                    m.d.sync += acc_a[lane].eq(new_a)
                with m.Else():
                    m.d.sync += acc_c[lane].eq(new_c)
                with m.If(ctl.last):
                    m.d.sync += [out_c[lane].eq(acc_c[lane] if has_z else new_c),
                                 out_a[lane].eq(new_a)]
        return m

    def _weight_piece(self, words, piece):
        """The weight word from the pieces' words (piece-major, banks within): each bank's
        own piece (``piece``, one index a bank), picked between the memory register and the
        operand register."""
        geo = self.geo
        banks, word = geo.weight_banks, geo.weight_word_bits
        bank_bits = word // banks
        index_bits = len(piece) // banks
        picked = []
        for b in range(banks):
            options = [words[k * word + b * bank_bits:k * word + (b + 1) * bank_bits]
                       for k in range(geo.weight_pieces)]
            picked.append(Array(options)[piece[b * index_bits:(b + 1) * index_bits]])
        return Cat(*picked)

    def _tiles(self, m, cur, pixel_end, og):
        """External weights: the passes over a frame, one an output-channel tile.  The weight
        address runs over the tile's words once a pixel, in the buffer of the tile (tile n in
        buffer n mod 2); after the frame's last pixel the tile advances and, before the last
        tile, the cursor goes back to the frame's first pixel.  The pixels the array is done
        with (``count``: they free ring and z slots) are those before the frame until its last
        tile.  Returns the output group (tile base + og) for the results and the rewind:
        whether the cursor goes back to the frame's first pixel after this pixel, and that
        pixel."""
        geo, cfg = self.geo, self.geo.cfg
        tile = Signal(range(cfg.tiles))
        base = Signal(range(geo.co_groups), name="group_base")
        w_base = Signal(range(geo.tile_buffer_words), name="w_base")
        last_tile = tile == cfg.tiles - 1
        tile_end = pixel_end & (cur.pos == cfg.n_pixels - 1)
        rewound = cur.pixel + 1 - cfg.n_pixels  # the frame's first pixel, read again
        other = Mux(w_base == 0, geo.tile_words, 0)
        with m.If(pixel_end):
            m.d.sync += self.w.addr.eq(Mux(tile_end, other, w_base))
        with m.Elif(self.busy):
            m.d.sync += self.w.addr.eq(self.w.addr + 1)
        with m.If(tile_end):
            m.d.sync += [w_base.eq(other), tile.eq(wrap_inc(tile, cfg.tiles - 1)),
                         base.eq(Mux(last_tile, 0, base + geo.tile_groups)),
                         self.tile_count.eq(self.tile_count + 1)]
            with m.If(~last_tile):  # the next tile reads the frame again
                m.d.sync += cur.pixel.eq(rewound)
        m.d.comb += self.count.eq(Mux(last_tile, cur.pixel, cur.pixel - cur.pos) if geo.tiled
                                  else cur.pixel)
        # (the rewind holds at the pixel's end)
        return base + og, ((cur.pos == cfg.n_pixels - 1) & ~last_tile, rewound)

    def _window_ok(self, m, cur, window_ok, stepping, rewind):
        """``window_ok`` as a register: whether the window of the cursor's pixel is projected
        and its z ready, so that the counts' subtractions and compares are not in the issue
        cycle (whose fan-out reaches every weight bank's address).  It holds the condition of
        the cycle before: in a pixel's last issue that of the next pixel (``ahead`` = 1: the
        count of projected pixels a step further, z two pixels ahead), after a tile's rewind 1
        (the frame's first pixel was read in the tile before: ``_tiles``); the counts only grow,
        so a condition that held still holds.  A wait therefore ends ``WINDOW_WAIT`` cycle after
        the counts allow (the cycle model adds it)."""
        geo = self.geo
        now = cur.window_ready(m, self.avail, geo.reach) & (cur.behind(self.agg_count) != 0)
        following = (cur.window_ready(m, self.avail, geo.reach, ahead=1)
                     & (cur.behind(self.agg_count) >= 2))
        if rewind is not None:
            back, _ = rewind
            following |= back
        m.d.sync += window_ok.eq(Mux(stepping, following, now))

    def _window_address(self, m, cur, offsets, issue, pixel_end, rewind, following_tap, ci):
        """The x ring's read address Cat(ci, slot of the pixel at offsets[t]) and whether that
        pixel is inside the frame, the slot and flag registered (``registered_neighbour``,
        loaded with ``following_tap``, the pixel's next issue's: ``hw.util.next_tap``).
        ``rewind``: (whether, to which pixel) the cursor goes back over the frame for the next
        tile.  Returns ``inside``
        (for the cycle's issue, as the address)."""
        geo = self.geo
        following = cur.registered_following(m)  # the pixel after the last issue, tap 0
        if rewind is not None:
            back, rewound = rewind
            following.pixel = Mux(back, rewound, following.pixel)
        slot, inside = registered_neighbour(m, cur, offsets, issue, pixel_end, following_tap,
                                            following, "mac")
        m.d.comb += self.x.addr.eq(Cat(ci[:geo.chunk_bits], slot))
        return inside

