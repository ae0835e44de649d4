"""python -m golden: the golden model's commands (vectors, check, explain, error)."""
from __future__ import annotations

import argparse
import sys

from .config import ATTENTION_FORMS
from .options import add_config_arguments, config_from_args, writable_folder


def require_frames(frames: int) -> None:
    if frames < 1:
        raise ValueError(f"frames: must be >= 1, got {frames}")


def cmd_vectors(args: argparse.Namespace) -> int:
    from .generate import make_vector_set
    from .vectors import write_vectors

    cfg = config_from_args(args)
    require_frames(args.frames)
    out = writable_folder(args.out)  # before the work, not after it
    vs = make_vector_set(cfg, frames=args.frames, seed=args.seed, source=args.source)
    path = write_vectors(vs, out)
    print(f"{cfg.describe()}\nwrote {vs.frames} frame(s) of {args.source} vectors: {path}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Equivalence of the three float forms (S1-S6, S8, S9) and the fixed-point error, for one
    configuration of any form."""
    from .generate import check_equivalence, fixed_point_error, random_frames
    from .model import random_model

    cfg = config_from_args(args)
    require_frames(args.frames)
    print(cfg.describe())
    eq = check_equivalence(random_model(cfg, args.seed), random_frames(cfg, 2, args.seed + 1))
    ok = max(eq.s8_vs_training, eq.s9_vs_training) <= 1e-9
    print(f"float64 training form vs S8: {eq.s8_vs_training:.2e}  vs S9: {eq.s9_vs_training:.2e}"
          f"  (relative; bound 1e-9) {'ok' if ok else 'FAILED'}")
    for source in ("random", "image"):
        err = fixed_point_error(cfg, source, frames=args.frames, seed=args.seed)
        print(f"fixed point vs float S8, {source:6s}: SQNR {err.sqnr_db:6.2f} dB, "
              f"max error {err.max_lsb:.2f} LSB over {err.frames} frame(s)")
    return 0 if ok else 1


def cmd_error(args: argparse.Namespace) -> int:
    """The fixed-point error table of docs/fixed-point.md."""
    from tqdm import tqdm

    from .config import preset
    from .generate import fixed_point_error

    rows = [(a, w, b, s) for a in args.attentions for w in args.workloads for b in args.bits
            for s in ("random", "image")]
    print(f"{'form':10s} {'workload':8s} {'bits':>4s} {'source':6s} {'SQNR dB':>8s} "
          f"{'max LSB':>8s}")
    require_frames(args.frames)
    for attention, workload, bits, source in tqdm(rows, desc="fixed-point error", leave=False,
                                                  disable=None):
        cfg = preset(workload, attention=attention, data_bits=bits, weight_bits=bits,
                     acc_bits=48 if bits > 8 else 32)
        err = fixed_point_error(cfg, source, frames=args.frames, seed=args.seed)
        tqdm.write(f"{attention:10s} {workload:8s} {bits:4d} {source:6s} {err.sqnr_db:8.2f} "
                   f"{err.max_lsb:8.2f}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """Work one output word through every integer stage (docs/fixed-point.md's example)."""
    from .fixed import forward_fixed
    from .generate import make_vector_set

    cfg = config_from_args(args)
    for name, value, size in (("row", args.row, cfg.h), ("col", args.col, cfg.w),
                              ("channel", args.channel, cfg.c_out)):
        if not 0 <= value < size:
            raise ValueError(f"{name}: must be in 0..{size - 1}, got {value}")
    vs = make_vector_set(cfg, frames=1, seed=args.seed)
    layer, t = vs.layer, forward_fixed(cfg, vs.layer, vs.x[0])
    i, j, o = args.row, args.col, args.channel
    print(f"{cfg.describe()}\npixel ({i}, {j}), output channel {o}, seed {args.seed}")
    print(f"x_p            = {vs.x[0, i, j].tolist()}   (LSB = {layer.x_scale:.6g})")
    print(f"q_p            = {t.q[i, j].tolist()}   m_q = {layer.m_q.tolist()}, s_q = {layer.s_q}")
    print(f"k_p            = {t.k[i, j].tolist()}   m_k = {layer.m_k.tolist()}, s_k = {layer.s_k}")
    print(f"<q_p, k_p+d>   = {t.logit_acc[i, j].tolist()}   d in {list(cfg.shift_offsets)}")
    print(f"a_p(d)         = {t.a[i, j].tolist()}   = RQ(., m_a = {layer.m_a}, s_a = {layer.s_a})")
    print(f"sum a x        = {t.z_acc[i, j].tolist()}")
    print(f"z_p            = {t.z[i, j].tolist()}   = RQ(., m_z = {layer.m_z}, s_z = {layer.s_z})")
    acc_c, acc_a = int(t.acc_c[i, j, o]), int(t.acc_a[i, j, o])
    m_c, m_v, bias = int(layer.m_c[o]), int(layer.m_v[o]), int(layer.bias[o])
    total = acc_c * m_c + acc_a * m_v + bias
    print(f"acc_c = {acc_c}, acc_a = {acc_a}, m_c = {m_c}, m_v = {m_v}, bias = {bias}, "
          f"s_out = {layer.s_out}")
    print(f"acc_c*m_c + acc_a*m_v + bias = {total}")
    print(f"y = SAT(({total} + 2^{layer.s_out - 1}) >> {layer.s_out}) = {int(t.y[i, j, o])}"
          f"   (LSB = {layer.y_scale:.6g})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m golden",
        description="Golden model of X-volution (PSSA / SA / involution, and the plain "
                    "convolution it replaces): float training and inference forms, "
                    "bit-accurate fixed point, test vectors.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("vectors", help="write a test-vector set (docs/vectors.md)")
    add_config_arguments(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--frames", type=int, default=2, help="frames to generate (default 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--source", choices=("random", "image"), default="random",
                   help="random normal frames or sample-photograph features")
    p.set_defaults(run=cmd_vectors)

    p = sub.add_parser("check", help="check S1-S6 = S8 = S9 and report the fixed-point error")
    add_config_arguments(p)
    p.add_argument("--frames", type=int, default=4, help="frames for the error figure")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_check)

    p = sub.add_parser("explain", help="work one output word through every integer stage")
    add_config_arguments(p)
    p.add_argument("--row", type=int, default=0)
    p.add_argument("--col", type=int, default=0)
    p.add_argument("--channel", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_explain)

    p = sub.add_parser("error", help="fixed-point error table over workloads and precisions")
    p.add_argument("--workloads", nargs="+", default=["tiny", "digits", "stage3"])
    p.add_argument("--bits", nargs="+", type=int, default=[8, 12, 16])
    p.add_argument("--attentions", nargs="+", default=["pssa"], choices=ATTENTION_FORMS,
                   help="forms (default pssa; each has its fixed-point path, golden/forms.py; "
                        "conv is the plain convolution baseline)")
    p.add_argument("--frames", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_error)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as err:  # invalid configuration or vector set: one clear line
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
