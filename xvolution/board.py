"""Host driver of the engine on a board (docs/board.md): parameters in, frames in, results out,
over the UART link's packets (``hw.board.protocol``).

The transport is pluggable: anything with ``write(bytes)`` and ``read(n) -> bytes`` (which
raises ``BoardTimeout`` when fewer than n bytes come).  ``SerialTransport`` is the board's
USB-serial port (pyserial); the cocotb testbench ``sim.tb_board`` gives the same driver a
transport into the simulated board top, so this code is what the simulation checks.

    board = Board(SerialTransport("/dev/ttyUSB0"))
    board.check(cfg)                       # INFO: the bitstream was built for this layer
    board.load_params(layer.parameter_words())
    y = board.run_frame(x_int)             # (H, W, C_out) ints, bit-exact with predict_int
"""
from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from hw.board.protocol import (CRC_BYTES, ERROR, FLAG_FIRST, FLAG_LAST, HEADER_BYTES, OVERHEAD,
                               READ_FORMAT, REPLY, BoardInfo, BoardStatus, Cmd, Error,
                               ProtocolError, check_crc, crc16, decode_header, encode)

from hw.geometry import Geometry

from .errors import DeployError

__all__ = ["Board", "BoardError", "BoardRefused", "BoardTimeout", "LinkEstimate",
           "SerialTransport", "Transport", "crc16", "encode", "estimate", "pack_frame",
           "unpack_results"]

#: the link's default rate: 3 Mbaud, 16 clocks a bit at the board's 48 MHz (docs/board.md)
BAUD = 3_000_000
#: UART bits a byte: start, eight data, stop
BITS_PER_BYTE = 10


class BoardError(DeployError):
    """The board or its port: a one-line message (no port, wrong bitstream, a refused packet)."""


class BoardTimeout(BoardError):
    """Fewer bytes came than the reply needs within the transport's timeout."""


class BoardRefused(BoardError):
    """The board answered a packet with an error reply (``code``: ``protocol.Error``)."""

    def __init__(self, code: int, cmd: int):
        self.code, self.cmd = code, cmd
        name = Error(code).name if code in Error._value2member_map_ else str(code)
        super().__init__(f"board: refused command 0x{cmd:02X} ({name} error)")


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...

    def read(self, n: int) -> bytes: ...


class SerialTransport:
    """The board's USB-serial port (the ULX3S's FT231X) through pyserial."""

    def __init__(self, port: str, baud: int = BAUD, timeout: float = 2.0):
        try:
            import serial
        except ImportError:
            raise BoardError("port: pyserial is not installed (pip install pyserial)") from None
        self.port_name, self.timeout = port, timeout
        try:
            self.port = serial.Serial(port, baudrate=baud, timeout=timeout, write_timeout=timeout)
        except (serial.SerialException, ValueError, OSError) as err:
            import os

            code = getattr(err, "errno", None)
            reason = os.strerror(code) if isinstance(code, int) else str(err)
            raise BoardError(f"port: cannot open {port} at {baud} baud ({reason})") from None
        self.port.reset_input_buffer()

    def write(self, data: bytes) -> None:
        self.port.write(data)

    def read(self, n: int) -> bytes:
        data = self.port.read(n)
        if len(data) < n:
            raise BoardTimeout(f"board: no answer on {self.port_name} within {self.timeout} s "
                               f"({len(data)} of {n} bytes; is the bitstream loaded?)")
        return bytes(data)

    def close(self) -> None:
        self.port.close()


def pack_frame(frame: np.ndarray, cfg, in_bytes: int) -> list[bytes]:
    """Rows of one (H, W, C_in) int frame as input beats: each beat SIMD channels of
    ``data_bits``, little-endian in ``in_bytes`` bytes."""
    bits, simd = cfg.fmt.data_bits, cfg.simd
    mask = (1 << bits) - 1
    rows = []
    for r in range(cfg.h):
        out = bytearray()
        for c in range(cfg.w):
            for i in range(cfg.c_in // simd):
                word = 0
                for s, v in enumerate(frame[r, c, i * simd:(i + 1) * simd]):
                    word |= (int(v) & mask) << (s * bits)
                out += word.to_bytes(in_bytes, "little")
        rows.append(bytes(out))
    return rows


def unpack_results(data: bytes, cfg, out_bytes: int) -> np.ndarray:
    """A frame's output beats (H rows a tile, each W x groups beats of PE lanes) as
    (H, W, C_out) ints."""
    bits, pe = cfg.fmt.data_bits, cfg.pe
    groups = Geometry(cfg).tile_groups
    sign, mask = 1 << (bits - 1), (1 << bits) - 1
    y = np.zeros((cfg.h, cfg.w, cfg.c_out), dtype=np.int64)
    beat = 0
    for tile in range(cfg.tiles):
        for r in range(cfg.h):
            for c in range(cfg.w):
                for g in range(groups):
                    word = int.from_bytes(data[beat * out_bytes:(beat + 1) * out_bytes], "little")
                    og = tile * groups + g
                    for lane in range(pe):
                        v = (word >> (lane * bits)) & mask
                        y[r, c, og * pe + lane] = (v ^ sign) - sign
                    beat += 1
    return y


class Board:
    """The engine on a board, packet by packet: each packet waits for its reply."""

    def __init__(self, transport: Transport):
        self.t = transport
        self._info: BoardInfo | None = None

    # ------------------------------------------------------------------ packets
    def send(self, cmd: int, payload: bytes = b"") -> None:
        self.t.write(encode(cmd, payload))

    def receive(self) -> tuple[int, bytes]:
        header = self.t.read(HEADER_BYTES)
        cmd, length = decode_header(header)
        payload = self.t.read(length) if length else b""
        check_crc(header, payload, self.t.read(CRC_BYTES))
        return cmd, payload

    def transact(self, cmd: int, payload: bytes = b"") -> bytes:
        """Send one packet and return its reply's payload; BoardRefused for an error reply."""
        self.send(cmd, payload)
        got, reply = self.receive()
        if got == ERROR:
            raise BoardRefused(reply[0], reply[1])
        if got != cmd | REPLY:
            raise ProtocolError(f"reply: command 0x{got:02X} to 0x{cmd:02X}")
        return reply

    # ------------------------------------------------------------------ commands
    def info(self) -> BoardInfo:
        self._info = BoardInfo.unpack(self.transact(Cmd.INFO))
        return self._info

    def status(self) -> BoardStatus:
        return BoardStatus.unpack(self.transact(Cmd.STATUS))

    def reset(self) -> None:
        self.transact(Cmd.RESET)

    @property
    def board_info(self) -> BoardInfo:
        return self._info or self.info()

    def check(self, cfg) -> BoardInfo:
        """INFO against the configuration ``cfg``: BoardError naming the first difference."""
        from hw.board.board_top import BoardGeometry

        info = self.info()
        want = BoardGeometry(cfg, info.clock_hz, info.divisor, info.max_payload).info
        for name in ("in_bytes", "out_bytes", "param_bytes", "param_words", "h", "w",
                     "row_beats", "frame_out_beats"):
            if getattr(info, name) != getattr(want, name):
                raise BoardError(f"board: its bitstream has {name}={getattr(info, name)}, "
                                 f"{cfg.name} needs {getattr(want, name)} (rebuild it with "
                                 f"this configuration)")
        return info

    def load_params(self, words: list[int]) -> None:
        """The parameter stream, in as many packets as the board's buffer needs; tlast on the
        last word."""
        info = self.board_info
        per = (info.max_payload - 1) // info.param_bytes
        for start in range(0, len(words), per):
            chunk = words[start:start + per]
            flags = FLAG_LAST if start + per >= len(words) else 0
            self.transact(Cmd.LOAD_PARAMS, bytes([flags]) + b"".join(
                int(w).to_bytes(info.param_bytes, "little") for w in chunk))

    def send_frame(self, frame: np.ndarray, cfg) -> None:
        info = self.board_info
        rows = pack_frame(frame, cfg, info.in_bytes)
        per = (info.max_payload - 1) // len(rows[0])
        for start in range(0, len(rows), per):
            flags = FLAG_FIRST if start == 0 else 0
            self.transact(Cmd.SEND_PIXELS, bytes([flags]) + b"".join(rows[start:start + per]))

    def read_results(self, beats: int, poll_timeout: float = 10.0) -> bytes:
        """``beats`` output beats, asking again while the engine is still computing."""
        info = self.board_info
        most = 0xFFFF // info.out_bytes
        out = bytearray()
        deadline = time.monotonic() + poll_timeout
        while len(out) < beats * info.out_bytes:
            want = min(most, beats - len(out) // info.out_bytes)
            got = self.transact(Cmd.READ_RESULTS, struct.pack(READ_FORMAT, want))
            out += got
            if not got and time.monotonic() > deadline:
                raise BoardTimeout(f"board: {len(out) // info.out_bytes} of {beats} result "
                                   f"beats after {poll_timeout} s (the engine is stuck: check "
                                   "the status flags)")
        return bytes(out)

    def run_frame(self, frame: np.ndarray, cfg) -> np.ndarray:
        """One (H, W, C_in) int frame in, its (H, W, C_out) int results out."""
        self.send_frame(frame, cfg)
        data = self.read_results(self.board_info.frame_out_beats)
        return unpack_results(data, cfg, self.board_info.out_bytes)

    def run(self, cfg, words: list[int], frames: np.ndarray,
            expected: np.ndarray | None = None, progress: bool = False) -> "RunResult":
        """Load ``words``, run every (N, H, W, C_in) frame, compare with ``expected``."""
        from tqdm import tqdm

        self.check(cfg)
        self.reset()
        self.load_params(words)
        status = self.status()
        if not status.param_loaded or status.param_error:
            raise BoardError("board: the parameters did not load (param_loaded "
                             f"{status.param_loaded}, param_error {status.param_error})")
        outputs = []
        t0 = time.monotonic()
        for frame in tqdm(frames, desc="frames", unit="frame", disable=not progress):
            outputs.append(self.run_frame(frame, cfg))
        seconds = time.monotonic() - t0
        outputs = np.stack(outputs)
        mismatches = int(np.sum(outputs != expected)) if expected is not None else None
        return RunResult(outputs, mismatches, seconds, self.status())


@dataclass
class RunResult:
    outputs: np.ndarray          # (N, H, W, C_out) ints from the board
    mismatches: int | None       # words that differ from the expected outputs
    seconds: float               # host wall time of the frames (not the parameter load)
    status: BoardStatus

    @property
    def frames_per_second(self) -> float:
        return len(self.outputs) / self.seconds if self.seconds else float("inf")


@dataclass(frozen=True)
class LinkEstimate:
    """What the link allows for a configuration, a frame at a time (stop-and-wait)."""

    bytes_in: int                # host to board, a frame: SEND_PIXELS packets, a READ request
    bytes_out: int               # board to host: their replies, the results
    link_seconds: float          # the frame's bytes on the wire, both ways one after another
    engine_cycles: int           # the cycle model: a frame alone, first input to last output
    clock_hz: float
    baud: float

    @property
    def link_fps(self) -> float:
        return 1 / self.link_seconds

    @property
    def engine_fps(self) -> float:
        return self.clock_hz / self.engine_cycles

    @property
    def board_fps(self) -> float:
        """Link and engine one after the other, as the driver runs them."""
        return 1 / (self.link_seconds + self.engine_cycles / self.clock_hz)


def estimate(cfg, clock_hz: float = 48e6, divisor: int = 16) -> LinkEstimate:
    """Bytes a frame and frames per second the UART allows vs the engine (``sim.cycle_model``)
    at ``clock_hz``; one READ_RESULTS after the engine is done."""
    from hw.board.board_top import BoardGeometry
    from sim.cycle_model import predict

    bg = BoardGeometry(cfg, int(clock_hz), divisor)
    rows_per = (bg.max_payload - 1) // bg.row_bytes
    packets = -(-cfg.h // rows_per)
    bytes_in = packets * (OVERHEAD + 1) + cfg.h * bg.row_bytes + OVERHEAD + 2
    reads = -(-bg.frame_out_beats * bg.out_bytes // (0xFFFF // bg.out_bytes * bg.out_bytes))
    bytes_out = packets * OVERHEAD + reads * OVERHEAD + bg.frame_out_beats * bg.out_bytes
    baud = clock_hz / divisor
    return LinkEstimate(bytes_in, bytes_out, (bytes_in + bytes_out) * BITS_PER_BYTE / baud,
                        predict(cfg, 1).cycles, clock_hz, baud)
