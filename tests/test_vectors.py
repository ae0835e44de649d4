"""Vector sets: written, read back, and every kind of damage refused with a clear message."""
import dataclasses
import json
import shutil

import numpy as np
import pytest

from golden.config import ATTENTION_FORMS, preset
from golden.forms import FORMS, golden_form
from golden.generate import make_vector_set
from golden.vectors import (VectorFileError, VectorSet, from_hex_lines, read_vectors,
                            to_hex_lines, write_vectors)


@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("vectors") / "tiny"
    write_vectors(make_vector_set(preset("tiny"), frames=2, seed=3), out)
    return out


@pytest.fixture
def damaged(vector_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(vector_dir, copy)
    return copy


def test_round_trip(vector_dir):
    vs = read_vectors(vector_dir, expect=preset("tiny"))
    assert vs.x.shape == (2, 8, 8, 8) and vs.y.shape == (2, 8, 8, 8)
    assert vs.layer.w_conv.shape == (9, 8, 8)
    words = from_hex_lines((vector_dir / "x.hex").read_text(), 8)
    assert np.array_equal(words, vs.x.ravel())


def test_hex_is_twos_complement():
    assert to_hex_lines(np.array([-1, 0, 127, -128]), 8) == "ff\n00\n7f\n80\n"
    assert to_hex_lines(np.array([-2]), 12) == "ffe\n"
    assert from_hex_lines("ffe\n7ff\n", 12).tolist() == [-2, 2047]


def test_missing_folder_and_manifest(tmp_path, damaged):
    with pytest.raises(VectorFileError, match="no such folder"):
        read_vectors(tmp_path / "nothing")
    (damaged / "manifest.json").unlink()
    with pytest.raises(VectorFileError, match="missing manifest.json"):
        read_vectors(damaged)


def test_missing_data_file(damaged):
    (damaged / "y.hex").unlink()
    with pytest.raises(VectorFileError, match="missing file y.hex"):
        read_vectors(damaged)


def test_corrupted_file(damaged):
    words = (damaged / "x.hex").read_text().split()
    words[0] = f"{(int(words[0], 16) + 1) & 0xff:02x}"  # one word changed, same length
    (damaged / "x.hex").write_text("\n".join(words) + "\n")
    with pytest.raises(VectorFileError, match="x.hex does not match its checksum"):
        read_vectors(damaged)


def test_truncated_npz(damaged):
    data = (damaged / "vectors.npz").read_bytes()
    (damaged / "vectors.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(VectorFileError, match="vectors.npz does not match its checksum"):
        read_vectors(damaged)


def _rewrite_manifest(folder, change):
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_wrong_config(vector_dir):
    with pytest.raises(VectorFileError, match=r"another configuration \(differs in \['c_in', "):
        read_vectors(vector_dir, expect=preset("digits"))


def test_wrong_shape(damaged):
    _rewrite_manifest(damaged, lambda m: m.__setitem__("frames", 3))
    with pytest.raises(VectorFileError, match=r"x has shape \(2, 8, 8, 8\), expected \(3, 8, 8, 8\)"):
        read_vectors(damaged)


def test_invalid_config_in_manifest(damaged):
    _rewrite_manifest(damaged, lambda m: m["config"].__setitem__("k", 2))
    with pytest.raises(VectorFileError, match="invalid configuration in manifest: k:"):
        read_vectors(damaged)


def test_malformed_manifest(damaged):
    (damaged / "manifest.json").write_text("{not json")
    with pytest.raises(VectorFileError, match="not valid JSON"):
        read_vectors(damaged)
    (damaged / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(VectorFileError, match="is not a xvolution-vectors manifest"):
        read_vectors(damaged)


def test_bad_layer_parameter(damaged):
    _rewrite_manifest(damaged, lambda m: m["scalars"].__setitem__("s_out", 0))
    with pytest.raises(VectorFileError, match="layer parameters: s_out: shift 0 outside"):
        read_vectors(damaged)


def test_conv_round_trip(tmp_path):
    """The plain convolution's set: the output stage's arrays only, read back equal."""
    cfg = preset("tiny", attention="conv", c_out=6)
    vs = make_vector_set(cfg, frames=2, seed=4)
    write_vectors(vs, tmp_path / "conv")
    back = read_vectors(tmp_path / "conv", expect=cfg)
    assert sorted(back.layer.ARRAYS) == ["bias", "m_c", "w_conv"]
    assert not (tmp_path / "conv" / "w_v.hex").exists()
    assert back.layer.as_dict().keys() == vs.layer.as_dict().keys()
    for name, value in vs.layer.as_dict().items():
        assert np.array_equal(getattr(back.layer, name), value), name
    assert np.array_equal(back.x, vs.x) and np.array_equal(back.y, vs.y)


@pytest.mark.parametrize("change, message", [
    (lambda vs: vs.x[0], r"^x: shape \(8, 8, 8\), expected \(1, 8, 8, 8\)"),
    (lambda vs: vs.x[:, :, :, :4], r"^x: shape \(1, 8, 8, 4\), expected \(1, 8, 8, 8\)"),
    (lambda vs: vs.x[:0], r"^x: shape \(0, 8, 8, 8\), a vector set needs at least one frame"),
    (lambda vs: vs.x.astype(float), r"^x: dtype float64, expected integers"),
    (lambda vs: vs.x * 1000, r"^x: values outside int8"),
])
def test_writer_refuses_malformed_frames(tmp_path, change, message):
    """write_vectors checks what read_vectors would refuse, and writes nothing."""
    vs = make_vector_set(preset("tiny"), frames=1, seed=2)
    with pytest.raises(ValueError, match=message):
        write_vectors(VectorSet(vs.cfg, vs.layer, change(vs), vs.y), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_writer_refuses_a_bad_layer_or_output(tmp_path):
    vs = make_vector_set(preset("tiny"), frames=1, seed=2)
    with pytest.raises(ValueError, match=r"^y: shape \(2, 8, 8, 8\), expected \(1, 8, 8, 8\)"):
        write_vectors(VectorSet(vs.cfg, vs.layer, vs.x, np.concatenate([vs.y, vs.y])),
                      tmp_path / "bad")
    short = dataclasses.replace(vs.layer, m_c=vs.layer.m_c[:3])
    with pytest.raises(ValueError, match=r"^m_c: shape \(3,\), expected \(8,\)"):
        write_vectors(VectorSet(vs.cfg, short, vs.x, vs.y), tmp_path / "bad")
    conv = make_vector_set(preset("tiny", attention="conv"), frames=1, seed=2)
    with pytest.raises(ValueError, match=r"^layer: a QuantizedConvLayer, expected the pssa"):
        write_vectors(VectorSet(vs.cfg, conv.layer, vs.x, vs.y), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_registry_covers_every_form_and_refuses_others():
    assert tuple(FORMS) == ATTENTION_FORMS
    assert golden_form(preset("tiny", attention="sa")) is FORMS["sa"]
    with pytest.raises(ValueError) as err:
        golden_form("softmax")
    assert str(err.value) == ("attention: no golden model for 'softmax'; the forms are "
                              "pssa, sa, involution, conv")


def test_reader_and_registry_do_not_need_torch():
    import subprocess
    import sys
    code = ("import sys; sys.modules['torch'] = None\n"
            "import golden.forms, golden.vectors; golden.forms.golden_form('conv')")
    subprocess.run([sys.executable, "-c", code], check=True)
