"""Port signatures shared by the blocks: memory ports (``amaranth.lib.memory``) as seen from the
unit that uses them, and scalar-register layouts.  Blocks are connected with ``wiring.connect``,
which refuses a width mismatch at elaboration."""
from __future__ import annotations

from amaranth.hdl import Mux, Signal
from amaranth.lib import data
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In

from .geometry import Geometry, Region


# ``amaranth.lib.memory`` states its port signatures from the memory's side (addr is an input):
# the unit that uses a port holds it flipped, so both helpers return ``In(...)``.
def read_port(addr_width: int, shape) -> In:
    """A unit's read port of a memory (it drives addr, the memory answers data next cycle)."""
    return In(ReadPort.Signature(addr_width=addr_width, shape=shape))


def write_port(addr_width: int, shape, granularity=None) -> In:
    """A unit's write port into a memory (it drives addr, data and en)."""
    return In(WritePort.Signature(addr_width=addr_width, shape=shape, granularity=granularity))


def region_read_port(r: Region) -> In:
    """A read port of a parameter memory: one word of ``lanes`` values a read."""
    return read_port(r.addr_bits, r.lanes * r.bits)


def region_write_port(r: Region) -> In:
    """The loader's write port of a parameter memory: one lane a write, its value in every
    lane (``hw.weight_banks`` takes it from lane 0), the lane enable picking the lane."""
    return write_port(r.addr_bits, r.lanes * r.bits, granularity=r.bits)


def scalar_layout(geo: Geometry, names) -> data.StructLayout:
    """Scalar registers by name (multipliers ``mult_bits``, shifts ``shift_bits`` wide)."""
    return data.StructLayout({name: geo.scalar_bits(name) for name in names})


def add_memory(m, name: str, shape, depth: int, written_while_idle: bool = False,
               ring: bool = False):
    """A memory of ``depth`` words, zero at start, as a submodule of ``m``.
    ``written_while_idle``: the memory is only written while its reads are unused (a
    parameter memory, loaded while no frame is in flight); ``ring``: a ring of pixel slots,
    whose readers read a slot only after it is written and before it is given back to the
    writer, so a read of the word being written is never used (a read issued anyway, of a
    tap outside the frame or while its unit waits, has its data masked or dropped; checked
    by simulating the ``poisoned`` build, ``ring_read_port``).  Either way a read of the
    address being written may return anything: the memory carries Yosys's ``no_rw_check``,
    and synthesis does not add the fabric logic that gives a block RAM read-before-write
    across its two ports (a register of the write data and of an address compare a read
    port, and a multiplexer after the block RAM's output)."""
    from amaranth.lib.memory import Memory

    attrs = {"no_rw_check": 1} if written_while_idle or ring else None
    mem = Memory(shape=shape, depth=depth, init=[], attrs=attrs)
    m.submodules[name] = mem
    return mem


def ring_read_port(m, mem, written, poisoned: bool, name: str):
    """A read port of a ring memory (``add_memory(ring=True)``), to connect to a unit's read
    port.  ``poisoned`` (tests only): a read of the word that ``written``, the ring's write
    port, writes in the same cycle answers with every bit inverted, so a design that used
    such a read (which ``no_rw_check`` leaves undefined on the FPGA) fails the bit-exact
    simulation (``sim.runner``'s ``rtl-poisoned`` design)."""
    port = mem.read_port()
    if not poisoned:
        return port
    face = ReadPort.Signature(addr_width=len(port.addr), shape=port.data.shape()).create(
        path=(name,))
    hit = Signal(name=f"{name}_poison")
    with m.If(face.en):  # the port holds its data while disabled, and so does the poison
        m.d.sync += hit.eq(written.en.any() & (written.addr == face.addr))
    m.d.comb += [port.addr.eq(face.addr), port.en.eq(face.en),
                 face.data.eq(port.data ^ Mux(hit, (1 << len(port.data)) - 1, 0))]
    return face
