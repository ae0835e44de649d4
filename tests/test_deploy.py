"""The public deployment API (xvolution/): the tutorial of docs/deploy.md runs as written, a
float32 layer deploys bit-exact, and bad input is refused by name."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import xvolution
from golden.config import preset
from golden.model import random_model
from xvolution.checkpoint import save_checkpoint

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "deploy.md"


def tutorial_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", TUTORIAL.read_text(), re.S)


def test_tutorial_runs_as_written(tmp_path, monkeypatch):
    """Every python block of docs/deploy.md, in order, in one namespace; then the commands it
    shows."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in tutorial_blocks():
        exec(compile(block, str(TUTORIAL), "exec"), namespace)
    commands = re.findall(r"^    (python -m .*?)(?:  +#.*)?$",
                          TUTORIAL.read_text().replace("\\\n        ", ""), re.M)
    assert len(commands) == 4
    for command in commands:
        args = command.split()[1:]
        done = subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True,
                              text=True, env={**__import__("os").environ,
                                              "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr[-2000:]}"


@pytest.mark.parametrize("form", ["pssa", "sa", "involution", "conv"])
def test_float32_layer_deploys_bit_exact_model(form):
    cfg = preset("digits", attention=form, h=4, w=5)
    module = random_model(cfg, seed=2, dtype=torch.float32)
    layer = xvolution.deploy(module, torch.randn(4, cfg.c_in, cfg.h, cfg.w), simd=4, pe=4)
    frames = torch.randn(2, cfg.c_in, cfg.h, cfg.w)
    y = layer.predict(frames)
    with torch.no_grad():
        reference = module.double().eval()(frames.double())
    assert float((y - reference).abs().max()) < 0.1 * float(reference.abs().max())
    # the same integers as the vector set the testbench checks the RTL against
    vs = layer.vector_set(frames)
    assert np.array_equal(layer.predict_int(vs.x), vs.y)


def test_float32_layer_is_bit_exact_on_the_rtl():
    cfg = preset("tiny", h=4, w=5)
    module = random_model(cfg, seed=4, dtype=torch.float32)
    layer = xvolution.deploy(module, torch.randn(4, cfg.c_in, cfg.h, cfg.w), simd=2, pe=2)
    run = layer.simulate(torch.randn(2, cfg.c_in, cfg.h, cfg.w))
    assert run.mismatches == 0 and run.cycles == run.model_cycles
    assert run.outputs.shape == (2, cfg.h, cfg.w, cfg.c_out)


@pytest.fixture(scope="module")
def small():
    cfg = preset("tiny", h=4, w=5)
    module = random_model(cfg, seed=1, dtype=torch.float32)
    return module, xvolution.deploy(module, torch.randn(4, cfg.c_in, cfg.h, cfg.w))


@pytest.mark.parametrize("call, message", [
    (lambda m, l: xvolution.deploy(torch.nn.Conv2d(8, 8, 3), torch.randn(1, 8, 4, 5)),
     r"^module: expected a golden.model.XVolution"),
    (lambda m, l: xvolution.deploy(m, torch.randn(1, 8, 4, 5), h=9),
     r"^hardware: \['h'\] describe the layer"),
    (lambda m, l: xvolution.deploy(m, torch.randn(1, 8, 4, 5), pe=3),
     r"^pe: c_out=8 is not divisible by pe=3"),
    (lambda m, l: xvolution.deploy(m, torch.randn(8, 4, 5, 1)), r"^calibration: expected "),
    (lambda m, l: l.predict(torch.randn(2, 8)), r"^x: expected frames of shape"),
    (lambda m, l: l.predict(torch.zeros(1, 8, 4, 5, dtype=torch.int64)),
     r"^x: expected float frames"),
    (lambda m, l: l.predict_int(np.zeros((1, 4, 5, 8))), r"^x: expected integer frames"),
    (lambda m, l: l.export("/dev/null/x"), r"^out: cannot write to /dev/null/x"),
    (lambda m, l: l.weight_image(), r"^weights: the weight image is for weights='external'"),
    (lambda m, l: xvolution.load("/nonexistent.npz"), r"^path: no such file"),
])
def test_bad_input_is_refused_by_name(small, call, message):
    module, layer = small
    with pytest.raises(ValueError, match=message):
        call(module, layer)


def test_module_that_does_not_match_its_configuration(small):
    module, _ = small
    wrong = random_model(preset("tiny", h=4, w=5, d=2), seed=1)
    wrong.cfg = module.cfg  # a state dict of another layer under this configuration
    with pytest.raises(ValueError, match=r"^module: .* has shape"):
        xvolution.deploy(wrong, torch.randn(2, 8, 4, 5))


def test_command_line_refuses_bad_checkpoints(small, tmp_path):
    module, _ = small
    np.save(tmp_path / "calib.npy", np.random.randn(2, 8, 4, 5))
    torch.save({"state_dict": module.state_dict()}, tmp_path / "noconfig.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    save_checkpoint(module, tmp_path / "good.pt")
    cases = [("noconfig.pt", "calib.npy", r"checkpoint: .* lacks \['config'\]"),
             ("junk.pt", "calib.npy", r"checkpoint: .* is not a torch checkpoint"),
             ("good.pt", "missing.npy", r"calibration: no such file")]
    for checkpoint, calib, message in cases:
        done = subprocess.run([sys.executable, "-m", "xvolution", "export", "--checkpoint",
                               str(tmp_path / checkpoint), "--calibration",
                               str(tmp_path / calib), "--out", str(tmp_path / "out")],
                              cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 2 and re.search(message, done.stderr), done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
