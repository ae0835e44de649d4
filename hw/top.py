"""The PSSA X-volution engine: memories, blocks, and AXI4-Stream ports.

                 s_param --> ParamLoader --> w_mac, w_qk, m_qk, m_c, m_v, bias memories, scalars
  s_axis --> InputStage --> x ring ---------------------------+
                  |                                          |
                  +--> Projection --> q ring, k ring --> LogitUnit --> logit bank
                                                             |                      |
                                                             +----> Aggregation <---+
                                                             |           |
                                                             v           v  z buffer
                                                     MacArray (SIMD x PE) --> OutputStage --> m_axis

Counters couple the blocks (docs/architecture.md): the projection's count of finished pixels
gates the logit unit and the MAC array; each unit's count gates the next; the MAC array's pixel
frees ring slots for the input and z slots for the aggregation unit.

Full SA (``attention="sa"``) swaps the two attention units: a SoftmaxUnit (logits of a query
against every pixel of its frame, max, sum of exponentials, reciprocal) and an SaAggregation
(sum_j e_pj x_j, normalized), and its ring holds about two frames (``Geometry.hold``).
Involution (``attention="involution"``): the projection computes the kernel generator's hidden
layer u_p into a u ring, a KernelUnit the G x K^2 kernel h_p into the bank, and the aggregation
the depthwise sum over the K x K window; the MAC array and output stage are unchanged.
"""
from __future__ import annotations

from amaranth.hdl import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.config import XvConfig

from .aggregation import Aggregation
from .geometry import Geometry
from .input_stage import InputStage
from .kernel_gen import KernelUnit
from .logit import LogitUnit
from .mac_array import MacArray
from .output_stage import OutputStage
from .param_loader import ParamLoader
from .projection import Projection
from .sa_aggregation import SaAggregation
from .softmax import SoftmaxUnit

#: Result groups the output FIFO holds (credits of the MAC array).
OUTPUT_CREDITS = 4


class XvolutionEngine(wiring.Component):
    """Top level.  Ports use AXI4-Stream names: ``s_axis_*`` pixels in, ``m_axis_*`` results out,
    ``s_param_*`` the layer's parameters; ``tuser`` is start of frame, ``tlast`` end of row."""

    def __init__(self, cfg: XvConfig):
        self.cfg = cfg
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
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg = self.geo, self.cfg
        mems = {}

        def memory(name, width, depth, granularity=None):
            mem = Memory(shape=unsigned(width), depth=depth, init=[])
            m.submodules[name] = mems[name] = mem
            return mem, mem.write_port(granularity=granularity)

        m.submodules.loader = loader = ParamLoader(geo)
        m.submodules.inp = inp = InputStage(geo)
        m.submodules.proj = proj = Projection(geo)
        sa = cfg.attention == "sa"
        m.submodules.logit = logit = {"sa": SoftmaxUnit, "involution": KernelUnit}.get(
            cfg.attention, LogitUnit)(geo)
        m.submodules.agg = agg = SaAggregation(geo) if sa else Aggregation(geo)
        m.submodules.mac = mac = MacArray(geo, OUTPUT_CREDITS)
        m.submodules.out = out = OutputStage(geo, OUTPUT_CREDITS)

        # ---------------------------------------------------------- parameters
        m.d.comb += [
            loader.i.p.data.eq(self.s_param_tdata), loader.i.p.last.eq(self.s_param_tlast),
            loader.i.valid.eq(self.s_param_tvalid), self.s_param_tready.eq(loader.i.ready),
            self.param_loaded.eq(loader.loaded), self.param_error.eq(loader.error),
        ]
        readers = {}
        for r in geo.memory_regions:
            mem, wp = memory(r.name, r.lanes * r.bits, r.depth, granularity=r.bits)
            m.d.comb += [wp.addr.eq(getattr(loader, f"{r.name}_addr")),
                         wp.data.eq(getattr(loader, f"{r.name}_data")),
                         wp.en.eq(getattr(loader, f"{r.name}_en"))]
            readers[r.name] = mem.read_port()

        # ---------------------------------------------------------- pixel path
        x_ring, x_wp = memory("x_ring", geo.in_bits, geo.x_words)
        z_buf, z_wp = memory("z_buf", geo.in_bits, geo.z_words)
        bank, a_wp = memory("logit_bank", geo.logit_bits, geo.bank_words)
        x_agg, x_mac = x_ring.read_port(), x_ring.read_port()
        a_rp, z_rp = bank.read_port(), z_buf.read_port()

        m.d.comb += [
            inp.i.p.data.eq(self.s_axis_tdata), inp.i.p.first.eq(self.s_axis_tuser),
            inp.i.p.last.eq(self.s_axis_tlast), inp.i.valid.eq(self.s_axis_tvalid),
            self.s_axis_tready.eq(inp.i.ready), self.frame_error.eq(inp.error),
            inp.enable.eq(loader.loaded),
            # a new pixel may overwrite its ring slot once the MAC array is past its window
            inp.space.eq((inp.pixel - mac.count)[:geo.diff_bits] < geo.depth - geo.hold),
            x_wp.addr.eq(inp.x_addr), x_wp.data.eq(inp.x_data), x_wp.en.eq(inp.x_en),
        ]
        wiring.connect(m, inp.chunk, proj.chunk)
        m.d.comb += [
            readers["w_qk"].addr.eq(proj.w_addr), proj.w_data.eq(readers["w_qk"].data),
            readers["m_qk"].addr.eq(proj.m_addr), proj.m_data.eq(readers["m_qk"].data),
            logit.avail.eq(proj.count), logit.agg_issued.eq(agg.issued),
            agg.mac_count.eq(mac.count),
            x_agg.addr.eq(agg.x_addr), agg.x_data.eq(x_agg.data),
            a_rp.addr.eq(agg.a_addr), agg.a_data.eq(a_rp.data),
            z_wp.addr.eq(agg.z_addr), z_wp.data.eq(agg.z_data), z_wp.en.eq(agg.z_en),
        ]
        if cfg.attention == "involution":
            self._involution_attention(m, memory, readers, loader, proj, logit, agg, a_wp)
        else:
            self._qk_rings(m, memory, loader, proj, logit)
            attention = self._sa_attention if sa else self._pssa_attention
            attention(m, loader, logit, agg, a_wp)
            if sa:
                b_rp = bank.read_port()
                m.d.comb += [b_rp.addr.eq(logit.r_addr), logit.r_data.eq(b_rp.data)]
        m.d.comb += [
            mac.avail.eq(proj.count), mac.agg_count.eq(agg.count), mac.sent.eq(out.sent),
            x_mac.addr.eq(mac.x_addr), mac.x_data.eq(x_mac.data),
            z_rp.addr.eq(mac.z_addr), mac.z_data.eq(z_rp.data),
            readers["w_mac"].addr.eq(mac.w_addr), mac.w_data.eq(readers["w_mac"].data),
            self.mac_busy.eq(mac.busy),
        ]
        m.d.comb += [
            out.res_valid.eq(mac.res_valid), out.res_group.eq(mac.res_group),
            out.res_acc_c.eq(mac.res_acc_c), out.res_acc_a.eq(mac.res_acc_a),
            out.s_out.eq(loader.s_out),
        ]
        for name in ("m_c", "m_v", "bias"):
            m.d.comb += [readers[name].addr.eq(out.p_addr), getattr(out, name).eq(readers[name].data)]
        m.d.comb += [
            self.m_axis_tdata.eq(out.o.p.data), self.m_axis_tvalid.eq(out.o.valid),
            out.o.ready.eq(self.m_axis_tready), self.m_axis_tlast.eq(out.o.p.last),
            self.m_axis_tuser.eq(out.o.p.first),
        ]
        return m

    def _qk_rings(self, m, memory, loader, proj, logit):
        """S2: the projection writes q and k of a pixel into their rings; the logit (or
        softmax) unit reads q_p and k_j."""
        cfg, geo = self.cfg, self.geo
        width = cfg.d * cfg.fmt.data_bits
        q_ring, q_wp = memory("q_ring", width, geo.depth)
        k_ring, k_wp = memory("k_ring", width, geo.depth)
        q_rp, k_rp = q_ring.read_port(), k_ring.read_port()
        m.d.comb += [
            proj.s_q.eq(loader.s_q), proj.s_k.eq(loader.s_k),
            q_wp.addr.eq(proj.qk_addr), q_wp.data.eq(proj.qk_data[:width]),
            k_wp.addr.eq(proj.qk_addr), k_wp.data.eq(proj.qk_data[width:]),
            q_wp.en.eq(proj.qk_en), k_wp.en.eq(proj.qk_en),
            q_rp.addr.eq(logit.q_addr), logit.q_data.eq(q_rp.data),
            k_rp.addr.eq(logit.k_addr), logit.k_data.eq(k_rp.data),
        ]

    def _involution_attention(self, m, memory, readers, loader, proj, logit, agg, a_wp):
        """S5: the projection computes u_p = ReLU(RQ(W'_1 x_p + b_1)) into the u ring, the
        kernel unit h_p = RQ(W_2 u_p) into the bank, the aggregation the depthwise sum."""
        geo = self.geo
        u_ring, u_wp = memory("u_ring", geo.proj_rows * self.cfg.fmt.data_bits, geo.depth)
        u_rp = u_ring.read_port()
        m.d.comb += [
            proj.s_q.eq(loader.s_1), proj.s_k.eq(loader.s_1),
            readers["b_qk"].addr.eq(proj.m_addr), proj.b_data.eq(readers["b_qk"].data),
            u_wp.addr.eq(proj.qk_addr), u_wp.data.eq(proj.qk_data), u_wp.en.eq(proj.qk_en),
            u_rp.addr.eq(logit.u_addr), logit.u_data.eq(u_rp.data),
            readers["w_kg"].addr.eq(logit.w_addr), logit.w_data.eq(readers["w_kg"].data),
            readers["m_kg"].addr.eq(logit.w_addr), logit.m_data.eq(readers["m_kg"].data),
            logit.s_2.eq(loader.s_2),
            a_wp.addr.eq(logit.a_addr), a_wp.data.eq(logit.a_data), a_wp.en.eq(logit.a_en),
            agg.logit_count.eq(logit.count), agg.m_z.eq(loader.m_z), agg.s_z.eq(loader.s_z),
        ]

    @staticmethod
    def _pssa_attention(m, loader, logit, agg, a_wp):
        """S3: nine logits a pixel into the bank; the aggregation's own requantizer for z."""
        m.d.comb += [
            logit.m_a.eq(loader.m_a), logit.s_a.eq(loader.s_a),
            a_wp.addr.eq(logit.a_addr), a_wp.data.eq(logit.a_data), a_wp.en.eq(logit.a_en),
            agg.logit_count.eq(logit.count), agg.m_z.eq(loader.m_z), agg.s_z.eq(loader.s_z),
        ]

    @staticmethod
    def _sa_attention(m, loader, logit, agg, a_wp):
        """S4: N logits a query into the bank, softmax max and reciprocal to the aggregation."""
        m.d.comb += [
            logit.m_t.eq(loader.m_t), logit.s_t.eq(loader.s_t),
            a_wp.addr.eq(logit.w_addr), a_wp.data.eq(logit.w_data), a_wp.en.eq(logit.w_en),
            agg.softmax_count.eq(logit.count), agg.maxes.eq(logit.maxes),
            agg.recips.eq(logit.recips),
        ]
