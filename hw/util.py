"""Small pieces of logic shared by the engine's blocks."""
from __future__ import annotations

import math

from amaranth.hdl import Array, Const, Mux, Signal, signed

from .dsp import in_dsp, multiply
from .geometry import Geometry
from .requant import Requantizer

#: the operands' second register, beside the DSP blocks, in front of every multiplier: the
#: operands cross the chip in two registered steps (one register near their source, one near
#: the DSP block); ``near_dsp`` adds it, the MAC array and the requantizer their own
NEAR_DSP = 1
#: cycles from the last issue of a pixel to its count, in a unit built on ``dot_requantize``:
#: issue, memory register, operands beside the DSP blocks, products, dot product, requantizer,
#: count
DOT_DONE = 5 + NEAR_DSP + Requantizer.LATENCY
#: the extra cycles of a dot product taken in parts: the part select, the sum of the parts
DOT_PARTS_EXTRA = 2
#: the most products a dot product sums in one cycle; more are summed in two registered steps,
#: groups of about their square root, then the groups' sums (``dot_sum_cycles``): a kernel
#: generator's 16 products in one cycle were 23 cells (a C = 64 layer's placed critical path)
DOT_ONE_CYCLE_TERMS = 4


def dot_sum_cycles(terms: int) -> int:
    """Cycles ``dot_requantize`` takes to sum ``terms`` products."""
    return 1 if terms <= DOT_ONE_CYCLE_TERMS else 2


def dot_done(terms: int) -> int:
    """``DOT_DONE`` for a dot product of ``terms`` products a cycle."""
    return DOT_DONE + dot_sum_cycles(terms) - 1
#: cycles from a start condition holding to the first issue, with ``row_sequencer``'s registered
#: start
REGISTERED_START_WAIT = 1


def wrap_inc(value, last: int):
    """value + 1, back to 0 after ``last``."""
    return Mux(value == last, 0, value + 1)


def _within(index, offset: int, size: int):
    """Is index + offset in [0, size)?  Compared against constants:
    -offset <= index < size - offset."""
    low = index >= -offset if offset < 0 else Const(1, 1)
    high = index < size - offset if offset > 0 else Const(1, 1)
    return low & high


def lanes(word, count: int, bits: int, signed_lanes: bool = True) -> list:
    """Split a packed word into ``count`` lanes of ``bits`` (lane 0 in the low bits)."""
    out = [word[i * bits:(i + 1) * bits] for i in range(count)]
    return [v.as_signed() for v in out] if signed_lanes else out


class PixelCursor:
    """The pixel a unit works on: a free-running index (its ring slot is the low bits), its row,
    column and position in the frame.  ``step(m)`` adds the statements that move it on."""

    def __init__(self, geo: Geometry, name: str):
        self.geo = geo
        cfg = geo.cfg
        self.pixel = Signal(geo.count_bits, name=f"{name}_pixel")
        self.row = Signal(range(cfg.h), name=f"{name}_row")
        self.col = Signal(range(cfg.w), name=f"{name}_col")
        self.pos = Signal(range(cfg.n_pixels), name=f"{name}_pos")
        self.stepping = Signal(name=f"{name}_stepping")  # high in a cycle that moves it on

    def step(self, m) -> None:
        cfg = self.geo.cfg
        m.d.comb += self.stepping.eq(1)
        m.d.sync += [self.pixel.eq(self.pixel + 1), self.pos.eq(wrap_inc(self.pos, cfg.n_pixels - 1)),
                     self.col.eq(wrap_inc(self.col, cfg.w - 1))]
        with m.If(self.col == cfg.w - 1):
            m.d.sync += self.row.eq(wrap_inc(self.row, cfg.h - 1))

    def neighbour(self, offsets, tap):
        """Ring slot of the pixel at offsets[tap] and whether it lies inside the frame."""
        cfg = self.geo.cfg
        distance = Array(Const(a * cfg.w + b, signed(24)) for a, b in offsets)[tap]
        # one compare against constants per distinct offset, then the tap only selects among
        # them: no adder in front of the compare (it was a critical path of the window address)
        row_in = {a: _within(self.row, a, cfg.h) for a in {a for a, _ in offsets}}
        col_in = {b: _within(self.col, b, cfg.w) for b in {b for _, b in offsets}}
        inside = Array(row_in[a] & col_in[b] for a, b in offsets)[tap]
        return (self.pixel + distance)[:self.geo.addr_bits], inside

    def following(self) -> "PixelCursor":
        """The cursor as ``step`` leaves it (pixel + 1, the next position), for a condition
        computed a cycle before the cursor gets there."""
        cfg = self.geo.cfg
        nxt = object.__new__(PixelCursor)
        nxt.geo = self.geo
        nxt.pixel = (self.pixel + 1)[:len(self.pixel)]
        nxt.pos = wrap_inc(self.pos, cfg.n_pixels - 1)
        nxt.col = wrap_inc(self.col, cfg.w - 1)
        nxt.row = Mux(self.col == cfg.w - 1, wrap_inc(self.row, cfg.h - 1), self.row)
        return nxt

    def registered_following(self, m) -> "PixelCursor":
        """``following()`` with its row and column in registers that the cursor's step moves
        on with it, so a compare on the next pixel's row or column starts at a register,
        not behind the increment and wrap of the cursor's (stage2 8 x 16's placed critical
        path on b395076: ``mac_row`` through two carry chains to ``mac_inside``, 10.4 ns).
        Its pixel and position stay ``following()``'s (an external-weight rewind moves the
        pixel, not the row and column: they wrap at the frame's end either way)."""
        cfg = self.geo.cfg
        nxt = self.following()
        first = (1, 0) if cfg.w == 1 else (0, 1)  # the pixel after (0, 0)
        nxt.row = Signal(range(cfg.h), name=f"{self.pixel.name}_next_row",
                         init=first[0] % cfg.h)
        nxt.col = Signal(range(cfg.w), name=f"{self.pixel.name}_next_col", init=first[1])
        with m.If(self.stepping):
            m.d.sync += [nxt.col.eq(wrap_inc(nxt.col, cfg.w - 1)),
                         nxt.row.eq(Mux(nxt.col == cfg.w - 1, wrap_inc(nxt.row, cfg.h - 1),
                                        nxt.row))]
        return nxt

    def window_ready(self, m, avail, reach: int, ahead: int = 0):
        """Are the pixels up to min(p + reach, end of p's frame) projected, for p the pixel
        ``ahead`` (0 or 1) after the cursor's?  ``avail`` counts projected pixels (at least p
        while a unit waits on p); counters are compared by modular difference.  What
        ``avail - pixel`` must reach depends on the position alone, so it is a register that
        the cursor's step loads: nothing but the subtraction sits in front of the compare."""
        n = self.geo.cfg.n_pixels
        assert ahead in (0, 1), "a window is checked for the cursor's pixel or the next"

        def needed(q: int) -> int:  # for p at frame position q
            left = n - q  # p and the pixels after it in its frame
            if reach >= n:  # the window is the frame
                return left + ahead
            return (left if q >= n - reach else reach + 1) + ahead

        def at_least(value, bound: int):
            return Const(1, 1) if bound <= 0 else value >= bound

        # as q = pos + ahead (mod n) steps on, the count stays at reach + 1 until the window
        # meets the frame's end, falls by one a pixel from there (from q = n - reach - 1 on),
        # and starts over after the frame's last pixel: compares of pos with constants and a
        # decrement, instead of pos + 1 through a compare and a subtraction
        first_fall = n - reach - 1
        wraps = self.pos == (n - 1 - ahead) % n
        if ahead == 0:
            falls = at_least(self.pos, first_fall)
        else:  # q is pos + 1, or 0 after the frame's last pixel
            falls = Mux(self.pos == n - 1, Const(int(first_fall <= 0), 1),
                        at_least(self.pos, first_fall - 1))
        need = Signal(range(n + 2), name=f"{self.pixel.name}_need{ahead}",
                      init=needed(ahead % n))
        with m.If(self.stepping):
            m.d.sync += need.eq(Mux(wraps, needed(0), Mux(falls, need - 1, need)))
        return self.behind(avail) >= need

    def behind(self, counter):
        """counter - pixel, modulo 2^diff_bits (unsigned)."""
        return (counter - self.pixel)[:self.geo.diff_bits]

    def ahead_of(self, counter):
        """pixel - counter, modulo 2^diff_bits (unsigned)."""
        return (self.pixel - counter)[:self.geo.diff_bits]


def next_tap(m, issue, t, j, taps: int, parts: int, name: str):
    """The tap of a unit's next issue of the same pixel, for ``registered_neighbour``: ``t``
    while parts remain, after the last part t + 1 (wrapping after ``taps - 1``).  ``t`` and
    ``j`` are the unit's counters, both 0 at reset: j steps on each ``issue`` and wraps after
    ``parts - 1``, t steps after j's last.  From registers that step beside them (the tap after
    t, and whether j is the last part), so at most a multiplexer of registers, not the tap's
    increment and j's compare, sits before the offsets' lookup and the add (stage2 8 x 16's placed
    critical paths: ``logit_tap`` through the increment into ``logit_slot``, 8.5 ns on
    754fe57; ``mac.ci`` through the compare and the increment into ``mac_slot``, 9.1 ns)."""
    after = Signal(range(taps), name=f"{name}_tap_after", init=1 % taps)
    if parts == 1:  # every issue is its tap's last (``j`` unused)
        with m.If(issue):
            m.d.sync += after.eq(wrap_inc(after, taps - 1))
        return after
    last = Signal(name=f"{name}_last_part")
    with m.If(issue):
        m.d.sync += last.eq(j == parts - 2)  # the next issue's part is the last
        with m.If(last):
            m.d.sync += after.eq(wrap_inc(after, taps - 1))
    return Mux(last, after, t)


def registered_neighbour(m, cur: PixelCursor, offsets, issue, step, next_tap,
                         following: PixelCursor | None = None, name: str = "window"):
    """``cur.neighbour`` as registers, for a unit that issues one tap a cycle: each issue loads
    the ring slot and inside flag of the next (tap, pixel), ``next_tap`` of this pixel or, when
    ``step`` (the pixel's last issue), tap 0 of ``following`` (``cur.registered_following``
    unless
    given).  The issue only enables the registers, so the tap's distance, the add and the
    ring's address decode are not in one cycle, and no cycle is added.  The reset values are
    those of pixel 0 (row 0, column 0) at tap 0.  Returns (slot, inside) for this cycle's
    issue."""
    cfg, geo = cur.geo.cfg, cur.geo
    following = cur.registered_following(m) if following is None else following
    slot_same, inside_same = cur.neighbour(offsets, next_tap)
    slot_step, inside_step = following.neighbour(offsets, Const(0, 1))
    di, dj = offsets[0]
    slot = Signal(geo.addr_bits, name=f"{name}_slot", init=(di * cfg.w + dj) % (1 << geo.addr_bits))
    inside = Signal(name=f"{name}_inside", init=0 <= di < cfg.h and 0 <= dj < cfg.w)
    with m.If(issue):
        m.d.sync += [slot.eq(Mux(step, slot_step, slot_same)),
                     inside.eq(Mux(step, inside_step, inside_same))]
    return slot, inside


def row_sequencer(m, cur: PixelCursor, rows: int, start, start_next=None):
    """Issue rows 0..rows-1 of a pixel, one a cycle without bubbles: row 0 once ``start`` holds,
    the others right after; the cursor steps on with the last row.  Returns (row, issue).

    With ``start_next`` (the same condition for the pixel after the cursor's) the condition is
    registered: row 0 issues a cycle after ``start`` holds (``REGISTERED_START_WAIT``), and no
    compare reaches the counters' enables in the cycle it is made.  The register takes the next
    pixel's condition in the last row, when the cursor steps (rows > 1: the last row always
    issues)."""
    row = Signal(range(rows), name=f"{cur.pixel.name}_row_issue")
    if start_next is None:
        issue = Mux(row == 0, start, 1)
    else:
        assert rows > 1, "a registered start needs a pixel of two rows or more"
        ready = Signal(name=f"{cur.pixel.name}_start_ready")
        m.d.sync += ready.eq(Mux(row == rows - 1, start_next, start))
        issue = Mux(row == 0, ready, 1)
    with m.If(issue):
        m.d.sync += row.eq(wrap_inc(row, rows - 1))
        with m.If(row == rows - 1):
            cur.step(m)
    return row, issue


def dot_requantize(m, tags: dict, pairs, width: int, out_bits: int, fmt, mult, shift,
                   zero_unless=None, name: str = "rq", platform=None):
    """The pipeline the attention units' dot products share: registered products of the
    operand ``pairs`` (0 where ``zero_unless`` is 0), their registered sum (``width`` bits, the
    worst case), and a requantizer by ``mult`` (a value, or the name of a tag that travels with
    the sum) and ``shift`` to ``out_bits``.  Returns (valid, tags, result) after the
    requantizer, ``tags`` (with "valid") delayed alongside.  With tags "first" and "last" the
    pairs are parts of one dot product, summed over the cycles from first to last before the
    requantizer (one cycle more: ``DOT_PARTS_EXTRA``).  The operands (and ``zero_unless``)
    are registered once more first, beside the DSP blocks (``NEAR_DSP``).  More than
    ``DOT_ONE_CYCLE_TERMS`` products are summed in two cycles (``dot_done``).  ``platform``:
    the build's (``hw.dsp``: the multipliers' form)."""
    pairs, tags, zero_unless = near_dsp(m, pairs, tags, zero_unless, name, platform)
    products = [Signal(signed(len(a) + len(b)), name=f"{name}_prod{i}")
                for i, (a, b) in enumerate(pairs)]
    for i, (p, (a, b)) in enumerate(zip(products, pairs)):
        multiply(m, platform, p, a, b, f"{name}_mul{i}", zero_unless)
    t2 = register(m, tags, f"{name}_s2")
    dot = Signal(signed(width), name=f"{name}_dot", reset_less=True)
    if dot_sum_cycles(len(products)) == 1:
        m.d.sync += dot.eq(sum(products))
    else:  # groups of about sqrt(terms) products, then their sums: half the tree a cycle
        group = math.isqrt(len(products) - 1) + 1
        partial = []
        for i in range(0, len(products), group):
            part = Signal(signed(width), name=f"{name}_part{i // group}", reset_less=True)
            m.d.sync += part.eq(sum(products[i:i + group]))
            partial.append(part)
        m.d.sync += dot.eq(sum(partial))
        t2 = register(m, t2, f"{name}_s2b")
    t3 = register(m, t2, f"{name}_s3")
    if "first" in t3:  # the dot product comes in parts, tagged "first" .. "last": add them up
        total = Signal(signed(width), name=f"{name}_total", reset_less=True)
        with m.If(t3["valid"]):
            m.d.sync += total.eq(dot + Mux(t3["first"], 0, total))
        t3.pop("first")
        last = t3.pop("last")
        t3 = register(m, {**t3, "valid": t3["valid"] & last}, f"{name}_s4")
        dot = total
    rq = Requantizer(acc_bits=width, mult_bits=fmt.mult_bits, shift_bits=fmt.shift_bits,
                     out_bits=out_bits)
    m.submodules[name] = rq
    m.d.comb += [rq.acc0.eq(dot), rq.mult0.eq(t3.pop(mult) if isinstance(mult, str) else mult),
                 rq.shift.eq(shift)]
    valid, out = delay(m, t3.pop("valid"), t3, Requantizer.LATENCY, name)
    return valid, out, rq.result


def near_dsp(m, pairs, tags: dict, zero_unless, name: str, platform=None):
    """The operand ``pairs``, ``tags`` and ``zero_unless`` (or None) one register later
    (``NEAR_DSP``): the register the placer puts beside the DSP block, so that no cycle
    holds a route across the chip and into a multiplier.  In the ECP5 form (``hw.dsp``) that
    register is the DSP block's own: the pairs and zero_unless come back as they are, for
    ``dsp.multiply``, and only the tags are registered."""
    if in_dsp(platform):
        return pairs, register(m, tags, f"{name}_s1d"), zero_unless
    operands = register(m, {f"op{2 * i + k}": v for i, pair in enumerate(pairs)
                            for k, v in enumerate(pair)}, name)
    pairs = [(operands[f"op{2 * i}"], operands[f"op{2 * i + 1}"]) for i in range(len(pairs))]
    extra = {} if zero_unless is None else {"zero_unless": zero_unless}
    tags = register(m, {**tags, **extra}, f"{name}_s1d")
    return pairs, tags, tags.pop("zero_unless", None)


def sum_in_two_steps(m, total, values, name: str) -> None:
    """``total`` gets sum(values) two cycles later, in two registered steps: sums of pairs
    (beside the DSP blocks that make the values), then the sum of the pairs, so that a cycle
    holds half the adder tree."""
    pairs = []
    for i in range(0, len(values), 2):
        pair = Signal(signed(max(len(v) for v in values) + 1), name=f"{name}_{i}",
                      reset_less=True)
        m.d.sync += pair.eq(sum(values[i:i + 2]))
        pairs.append(pair)
    m.d.sync += total.eq(sum(pairs))


def delay(m, valid, tags: dict, cycles: int, name: str):
    """Delay a valid bit and a dict of tags by ``cycles`` registers."""
    for i in range(cycles):
        tags = register(m, {"valid": valid, **tags}, f"{name}{i}")
        valid = tags.pop("valid")
    return valid, tags


def seen(m, geo: Geometry, count, name: str):
    """``count``, a count one unit keeps, as another unit compares it: behind
    ``cfg.count_registers`` registers (``XvConfig``), so the route between the two units and
    the reader's compare are not in one cycle.  A reader that sees a count late only waits
    longer (every count only grows), so this changes no result, only the waits, which the
    cycle model lengthens by as much.  Reset, like the counts."""
    for stage in range(geo.cfg.count_registers):
        late = Signal(len(count), name=f"{name}_seen{stage}")
        m.d.sync += late.eq(count)
        count = late
    return count


def register(m, tags: dict, name: str) -> dict:
    """One pipeline register for every tag (a dict of values); returns the registered dict.
    Only ``valid`` is reset: every other tag is data that a stage reads only with its valid
    (docs/architecture.md, "Reset: control only")."""
    out = {}
    for key, value in tags.items():
        reg = Signal(value.shape(), name=f"{name}_{key}", reset_less=key != "valid")
        m.d.sync += reg.eq(value)
        out[key] = reg
    return out
