"""The public API: deploy a trained X-volution layer to the engine (docs/deploy.md).

    import xvolution
    layer = xvolution.deploy(module, calibration_frames, simd=4, pe=4)
    layer.predict(x)            # what the engine computes, bit-exact
    layer.simulate(x)           # the RTL on your frames: outputs, cycles, the model's cycles
    layer.export("build/my-layer", x)   # parameter stream, Verilog, weight image, vectors
    layer.save("layer.npz"); xvolution.load("layer.npz")
"""
from golden.config import XvConfig, preset
from golden.model import XVolution

from .deploy import Calibration, DeployedLayer, Simulation, deploy, load
from .errors import DeployError

__all__ = ["Calibration", "DeployError", "DeployedLayer", "Simulation", "XVolution", "XvConfig",
           "deploy", "load", "preset"]
