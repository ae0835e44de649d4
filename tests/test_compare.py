"""The PSSA-versus-SA comparison (reports/compare.py): its model side, and the report it writes.
Synthesis and the RTL runs are `make compare`; the engines it compares are bit-exact and their
cycle model equals the RTL in tests/test_engine_cocotb.py and tests/test_cycle_model.py."""
import subprocess
import sys
from pathlib import Path

from reports.compare import BASELINE, FORMS, points

ROOT = Path(__file__).resolve().parent.parent


def test_full_sa_grows_faster_than_pssa():
    pts = [p for p in points() if p.workload == "sweep" and p.shift == 1]
    by = {(p.form, p.size): p for p in pts}
    sizes = sorted({p.size for p in pts})
    mem = [by["sa", s].memory_bits / by["pssa", s].memory_bits for s in sizes]
    cyc = [by["sa", s].cycles_per_frame / by["pssa", s].cycles_per_frame for s in sizes]
    assert mem == sorted(mem) and mem[-1] > 10      # SA buffers the frame
    assert cyc == sorted(cyc) and cyc[-1] > 10      # N^2 attention work
    for s in sizes:  # involution costs about what PSSA costs
        assert abs(by["involution", s].cycles_per_frame / by["pssa", s].cycles_per_frame - 1) < 0.01
        assert by["sa", s].first_output > by["pssa", s].first_output
    assert {p.form for p in points()} == set(FORMS)


def test_every_attention_form_costs_more_than_the_convolution():
    """The baseline: same engine without attention units or z tap (K^2 taps, not K^2 + 1)."""
    by = {(p.form, p.workload, p.size): p for p in points() if p.shift == 1}
    for (form, workload, size), p in by.items():
        if form == BASELINE:
            continue
        base = by[BASELINE, workload, size]
        assert p.memory_bits > base.memory_bits and p.first_output > base.first_output
        assert p.cycles_per_frame >= base.cycles_per_frame * 10 / 9 * 0.99, (form, size)


def test_compare_report_without_synthesis(tmp_path):
    out = tmp_path / "report" / "pssa-vs-sa.md"
    proc = subprocess.run([sys.executable, "-m", "reports", "compare", "--no-synth", "--no-sim",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    assert "full SA needs" in text and "| 28 x 28 | full SA |" in text
    assert "What attention costs over the plain convolution" in text
    assert "| sweep 14x14 | PSSA | " in text
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_resnet50_stage3_estimate():
    """The on-paper estimate of docs/performance.md: with output-channel tiles (the ring
    holding one frame ahead of the MAC array) every layer of stage 3 fits both devices, the
    MAC array the bottleneck of each, and the frame rate is given for each device."""
    from reports.resnet import DEVICES, estimate, section

    for device in DEVICES:
        assert all(c.fits and c.bottleneck == "MAC array" for c in estimate(device))
    text = "\n".join(section(100.0, "assumed"))
    assert "does not fit" not in text
    assert text.count("frames per second at 100.0 MHz") == len(DEVICES)
