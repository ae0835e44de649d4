"""The X-volution engine: memories, blocks, and AXI4-Stream ports.

                 s_param --> ParamLoader --> parameter memories (w_mac, banked when wide:
                                             hw.weight_banks; the form's, m_c, m_v, bias),
                                             scalar registers
  s_axis --> InputStage --> x ring ---------------------------+---------------+
                  |                                           |               |
                  +--chunk--> attention (the form's) --z--> z buffer          |
                                                              v               v
                                                     MacArray (SIMD x PE) --> OutputStage --> m_axis

The attention component is the configuration's form (``hw.attention``, built without testing its
name); every form has the signature ``hw.attention.attention_signature``: it takes the input
chunks, reads the x ring, writes z, and gives the MAC array its counts.  Blocks are connected
through their signatures (``wiring.connect``: a width mismatch is refused at elaboration).

Counters couple the blocks (docs/architecture.md): the attention's count of projected pixels
gates the MAC array, its z count tells the MAC array z_p is ready; the MAC array's pixel frees
ring slots for the input and z slots for the attention.
"""
from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import XvConfig

from .geometry import Geometry
from .input_stage import InputStage
from .mac_array import MacArray
from .output_stage import OutputStage, output_credits
from .param_loader import ParamLoader
from .ports import add_memory, ring_read_port
from .util import seen
from .weight_banks import WeightBanks
from .weight_fetch import ADDR_BITS, WeightFetch, axi_read_signature

#: Deliberately broken variants, for the formal tests only (sim/formal.py shows the solver finds
#: each): the output drops tvalid while waiting; tlast at the wrong beat; pixels taken before the
#: parameters are loaded; param_loaded raised by any tlast; param_error cleared by a new load; a
#: register that a reset does not clear; a misplaced tuser or tlast not flagged; the pixel input
#: refused for good once a malformed beat was flagged.
FAULTS = ("drop_tvalid", "wrong_tlast", "early_input", "loaded_early", "error_not_sticky",
          "leaky_reset", "unflagged_framing", "hang_on_error", "drop_arvalid")
#: the faults of the external-weight port (an AXI4 read address dropped while it waits)
EXTERNAL_FAULTS = ("drop_arvalid",)


class XvolutionEngine(wiring.Component):
    """Top level.  Ports use AXI4-Stream names: ``s_axis_*`` pixels in, ``m_axis_*`` results out,
    ``s_param_*`` the layer's parameters; ``tuser`` is start of frame, ``tlast`` end of row."""

    def __init__(self, cfg: XvConfig, fault: str | None = None, poisoned: bool = False):
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"fault: one of {FAULTS} (formal tests only), got {fault!r}")
        if fault in EXTERNAL_FAULTS and not cfg.external_weights:
            raise ValueError(f"fault: {fault} breaks the external-weight port; the configuration "
                             f"has its weights on chip")
        # poisoned (tests only): reads that meet a write of their ring word answer inverted
        self.cfg, self.fault, self.poisoned = cfg, fault, poisoned
        self.geo = geo = Geometry(cfg)
        super().__init__({
            "s_axis_tdata": In(geo.in_bits), "s_axis_tvalid": In(1), "s_axis_tready": Out(1),
            "s_axis_tlast": In(1), "s_axis_tuser": In(1),
            "m_axis_tdata": Out(geo.out_bits), "m_axis_tvalid": Out(1), "m_axis_tready": In(1),
            "m_axis_tlast": Out(1), "m_axis_tuser": Out(1),
            "s_param_tdata": In(geo.param_bits), "s_param_tvalid": In(1),
            "s_param_tready": Out(1), "s_param_tlast": In(1),
            "param_loaded": Out(1),   # a complete parameter set is loaded
            "param_error": Out(1),    # sticky: the parameter stream's tlast was misplaced
            "frame_error": Out(1),    # sticky: an input beat's tuser/tlast was misplaced
            "mac_busy": Out(1),       # the MAC array multiplies this cycle (for utilization)
            **(self._external_ports(geo) if geo.cfg.external_weights else {}),
        })

    @staticmethod
    def _external_ports(geo) -> dict:
        """External weights: an AXI4 read master (``m_axi_*``, the AXI4 names), the weights'
        base address (a run-time input) and a sticky error."""
        ports = {f"m_axi_{name}": member for name, member in
                 axi_read_signature(geo.cfg.axi_bits).members.items()}
        return {**ports, "weights_base": In(ADDR_BITS),
                "mem_error": Out(1)}  # sticky: an error response or a misaligned base

    def elaborate(self, platform):
        m = Module()
        geo = self.geo
        m.submodules.loader = loader = ParamLoader(geo)
        m.submodules.inp = inp = InputStage(geo)
        m.submodules.attention = att = geo.form.component(geo, self.poisoned)
        credits = output_credits(geo)  # result groups the output FIFO holds
        m.submodules.mac = mac = MacArray(geo, credits)
        m.submodules.out = out = OutputStage(geo, credits)
        self._axi_ports(m, loader, inp, out)

        # parameters: the loader writes every memory; each block reads its own
        params = {}
        banked = geo.weight_banks > 1
        for r in geo.memory_regions:
            if banked and r.name == "w_mac":  # one memory a PE lane, read below
                m.submodules.w_mac = banks = WeightBanks(
                    r, geo.weight_banks, geo.weight_piece_words, geo.weight_issue_levels,
                    geo.weight_piece_copies, geo.weight_data_register)
                wiring.connect(m, loader.mem.w_mac, banks.write)
                continue
            # written only by a load, while no frame is in flight (``hw.param_loader``): no
            # read-before-write logic after the block RAMs' outputs, so the reader's register
            # becomes their output register (``hw.bram_outreg``; stage2 8 x 16 placed without
            # it: ``w_qk`` -> ``proj.s1_w`` through that logic's LUT, 9.1 ns)
            params[r.name] = mem = add_memory(m, r.name, unsigned(r.lanes * r.bits), r.depth,
                                              written_while_idle=True)
            wiring.connect(m, getattr(loader.mem, r.name), mem.write_port(granularity=r.bits))
        for r in geo.form.regions(geo):
            wiring.connect(m, getattr(att.params, r.name), params[r.name].read_port())
        for name in out.param_names:
            wiring.connect(m, getattr(out, name), params[name].read_port())
        if geo.cfg.external_weights:
            self._weight_tiles(m, loader, mac)
        elif banked:
            if geo.weight_issue_levels:
                m.d.comb += banks.r_step.eq(mac.w_step)
            else:
                m.d.comb += banks.r_next.eq(mac.w_next)
            if geo.weight_pieces > 1:
                m.d.comb += [mac.w_pieces.eq(banks.r_data), mac.w_piece.eq(banks.r_piece)]
            else:
                m.d.comb += mac.w.data.eq(banks.r_data)
        else:
            wiring.connect(m, mac.w, params["w_mac"].read_port())
        m.d.comb += [att.scalars.eq(loader.scalars), out.s_out.eq(loader.s_out)]

        # pixel path: the x ring (input writes; attention and MAC array read) and the z buffer
        x_ring = add_memory(m, "x_ring", unsigned(geo.in_bits), geo.x_words, ring=True)
        z_buf = add_memory(m, "z_buf", unsigned(geo.in_bits), geo.z_words, ring=True)
        x_write, z_write = x_ring.write_port(), z_buf.write_port()
        wiring.connect(m, inp.x, x_write)
        wiring.connect(m, inp.chunk, att.chunk)
        wiring.connect(m, att.x, ring_read_port(m, x_ring, x_write, self.poisoned, "att_x"))
        wiring.connect(m, mac.x, ring_read_port(m, x_ring, x_write, self.poisoned, "mac_x"))
        wiring.connect(m, att.z, z_write)
        wiring.connect(m, mac.z, ring_read_port(m, z_buf, z_write, self.poisoned, "mac_z"))
        wiring.connect(m, mac.result, out.result)
        m.d.comb += [
            inp.enable.eq(1 if self.fault == "early_input" else loader.loaded),
            inp.consumed.eq(seen(m, geo, mac.count, "inp_consumed")),
            att.mac_count.eq(seen(m, geo, mac.count, "att_mac_count")),
            mac.avail.eq(seen(m, geo, att.projected, "mac_avail")),
            mac.agg_count.eq(seen(m, geo, att.z_count, "mac_agg_count")), mac.sent.eq(out.sent),
            self.mac_busy.eq(mac.busy),
        ]
        return m

    def _weight_tiles(self, m, loader, mac):
        """The fetcher fills the double-buffered tile memory the MAC array reads."""
        geo = self.geo
        m.submodules.fetch = fetch = WeightFetch(geo)
        tiles = add_memory(m, "weight_tiles", unsigned(geo.weight_word_bits),
                           geo.tile_buffer_words)
        wiring.connect(m, fetch.tiles, tiles.write_port())
        wiring.connect(m, mac.w, tiles.read_port())
        for name in fetch.axi.signature.members:
            port = getattr(self, f"m_axi_{name}")
            channel = getattr(fetch.axi, name)
            m.d.comb += (port.eq(channel) if fetch.axi.signature.members[name].flow == Out
                         else channel.eq(port))
        if self.fault == "drop_arvalid":  # formal tests only: arvalid drops while it waits
            refused = Signal()
            m.d.sync += refused.eq(fetch.axi.arvalid & ~self.m_axi_arready)
            m.d.comb += self.m_axi_arvalid.eq(fetch.axi.arvalid & ~refused)
        m.d.comb += [fetch.base.eq(self.weights_base), fetch.enable.eq(loader.loaded),
                     self.mem_error.eq(fetch.error),
                     fetch.mac_tiles.eq(mac.tile_count), mac.tiles_loaded.eq(fetch.loaded)]

    def _axi_ports(self, m, loader, inp, out):
        """The AXI4-Stream names of the top level onto the blocks' streams."""
        ports = {"valid": out.o.valid, "last": out.o.p.last, "loaded": loader.loaded,
                 "error": loader.error, "frame_error": inp.error,
                 "in_valid": self.s_axis_tvalid, "in_ready": inp.i.ready}
        if self.fault:  # a broken variant for the formal tests (FAULTS)
            ports = self._broken(m, ports)
        m.d.comb += [
            loader.i.p.data.eq(self.s_param_tdata), loader.i.p.last.eq(self.s_param_tlast),
            loader.i.valid.eq(self.s_param_tvalid), self.s_param_tready.eq(loader.i.ready),
            self.param_loaded.eq(ports["loaded"]), self.param_error.eq(ports["error"]),
            inp.i.p.data.eq(self.s_axis_tdata), inp.i.p.first.eq(self.s_axis_tuser),
            inp.i.p.last.eq(self.s_axis_tlast), inp.i.valid.eq(ports["in_valid"]),
            self.s_axis_tready.eq(ports["in_ready"]),
            self.frame_error.eq(ports["frame_error"]),
            self.m_axis_tdata.eq(out.o.p.data), self.m_axis_tvalid.eq(ports["valid"]),
            out.o.ready.eq(self.m_axis_tready), self.m_axis_tlast.eq(ports["last"]),
            self.m_axis_tuser.eq(out.o.p.first),
        ]

    def _broken(self, m, ports):
        """``ports`` with the signals the fault changes (formal tests only; ``early_input``
        and ``drop_arvalid`` break the input stage's enable and the weight fetch instead)."""
        valid, error = ports["valid"], ports["error"]
        refused = Signal()  # the sink refused a beat last cycle: the fault drops tvalid now
        m.d.sync += refused.eq(valid & ~self.m_axis_tready)
        beat = self.s_param_tvalid & self.s_param_tready
        leak = Signal(reset_less=True)  # flips with every parameter beat; no reset clears it
        with m.If(beat):
            m.d.sync += leak.eq(~leak)
        changes = {
            "drop_tvalid": {"valid": valid & ~refused},
            "wrong_tlast": {"last": ~ports["last"]},
            "loaded_early": {"loaded": ports["loaded"] | (beat & self.s_param_tlast)},
            "error_not_sticky": {"error": error & ~beat},
            "leaky_reset": {"error": error | leak},
            "unflagged_framing": {"frame_error": 0},
            # the pixel input closed for good once a malformed beat was flagged
            "hang_on_error": {"in_valid": ports["in_valid"] & ~ports["frame_error"],
                              "in_ready": ports["in_ready"] & ~ports["frame_error"]},
        }
        return {**ports, **changes.get(self.fault, {})}
