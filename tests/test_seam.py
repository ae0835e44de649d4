"""The attention seam (docs/architecture.md): one registry, one signature, forms named nowhere
else in hw/ and sim/, and widths checked where blocks meet."""
import re
from pathlib import Path

import pytest
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.hdl import Fragment, Module

from golden.config import ATTENTION_FORMS, preset
from golden.forms import FORMS as GOLDEN_FORMS
from hw.attention import FORMS, attention_signature, engine_form
from hw.geometry import Geometry
from hw.ports import read_port

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"\b(pssa|involution)\b|[\"'](sa|conv)[\"']|\bfull SA\b", re.IGNORECASE)
CONFIGS = {"pssa": preset("tiny"), "sa": preset("tiny", attention="sa"),
           "involution": preset("digits", attention="involution"),
           "conv": preset("tiny", attention="conv")}


def test_every_form_has_an_engine_and_a_golden_model():
    assert tuple(FORMS) == ATTENTION_FORMS == tuple(GOLDEN_FORMS)
    for name, cfg in CONFIGS.items():
        assert engine_form(cfg).name == name and engine_form(cfg).golden.name == name


def test_no_form_is_named_outside_the_registry_and_the_form_files():
    offenders = []
    for folder in ("hw", "sim"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.parent.name == "attention":
                continue  # the registry and the form files
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if NAME.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("form", sorted(CONFIGS))
def test_every_form_has_the_one_signature(form):
    geo = Geometry(CONFIGS[form])
    component = geo.form.component(geo)
    assert component.signature == attention_signature(geo)
    Fragment.get(component, None)  # and it elaborates


def test_a_width_mismatch_is_refused_at_elaboration():
    """Blocks meet through memory-port signatures: a port one bit narrower than the memory is
    an error, not a truncation."""
    class Reader(wiring.Component):
        def __init__(self, width):
            super().__init__({"x": read_port(4, width)})

        def elaborate(self, platform):
            return Module()

    mem = Memory(shape=8, depth=16, init=[])
    narrow, exact = Reader(7), Reader(8)
    m = Module()
    with pytest.raises(wiring.ConnectionError, match=r"shape widths \(7 and 8\) do not match"):
        wiring.connect(m, narrow.x, mem.read_port())
    wiring.connect(m, exact.x, mem.read_port())
    m.submodules += [narrow, exact, mem]
    Fragment.get(m, None)


def test_unknown_form_refused_by_name():
    with pytest.raises(ValueError, match=r"^attention: "):
        engine_form(type("Cfg", (), {"attention": "lambda"})())
