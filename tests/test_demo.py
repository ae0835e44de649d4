"""The real-data demo, quick version: a few epochs, 12 digits and a 16 x 16 photo through the
RTL.  `make demo` runs the full one (every test image) and regenerates docs/real-data.md."""
import subprocess
import sys
from pathlib import Path

import torch

from golden.digits import MIDDLES, DigitsNet, TrainSettings, layer_config, load_data, train
from golden.model import reparameterize


def test_digits_split_and_networks():
    data = load_data()
    assert len(data.y_train) + len(data.y_test) == 1797 and len(data.y_test) == 450
    assert float(data.x_train.max()) == 1.0 and float(data.x_train.min()) == 0.0
    for middle in MIDDLES:
        assert DigitsNet(middle, layer_config())(data.x_test[:2].float()).shape == (2, 10)


def test_trained_layer_reparameterizes_exactly(tmp_path):
    data = load_data()
    net = train("pssa", layer_config(), data, TrainSettings(epochs=1), cache=tmp_path)
    assert list(tmp_path.glob("digits-pssa-*.pt")), "training result not cached"
    with torch.no_grad():
        feats = net.stem(data.x_test[:64])
        y_train, y_s8 = net.middle(feats), reparameterize(net.middle)(feats)
    assert float((y_train - y_s8).abs().max()) <= 1e-9 * float(y_train.abs().max())


def test_quick_demo_rtl_agrees_with_golden():
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-m", "reports", "demo", "--quick"], cwd=root,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "12288 words compared, 0 mismatched" in out.stdout
    assert "agree with the golden model on 100% of 12 images" in out.stdout
    assert "photo RTL = golden: True" in out.stdout
    report = (root / "build" / "demo-quick" / "real-data.md").read_text()
    assert "| X-volution, PSSA | RTL" in report
    assert (root / "build" / "demo-quick" / "real-data.png").stat().st_size > 10_000
