"""The host link's packet format, shared by the hardware (``hw.board``) and the host driver
(``xvolution.board``).  Plain Python: no Amaranth, no torch.

A packet, either way::

    SYNC (0xA5) | CMD (1 byte) | LENGTH (2 bytes, little-endian) | PAYLOAD (LENGTH bytes) | CRC

CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, not reflected, no final
XOR) of CMD, LENGTH and PAYLOAD, sent high byte first, so the CRC run over the whole packet
after SYNC, CRC included, ends at 0.  A reply's CMD is the request's with bit 7 set; an error
reply is CMD 0xFF with the payload (error code, the CMD received).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

SYNC = 0xA5
HEADER_BYTES = 4          # SYNC, CMD, LENGTH
CRC_BYTES = 2
OVERHEAD = HEADER_BYTES + CRC_BYTES
REPLY = 0x80              # a reply's CMD: the request's | REPLY
ERROR = 0xFF              # an error reply's CMD
VERSION = 1


class Cmd(IntEnum):
    INFO = 0x01           # -> the board's configuration (INFO_FORMAT)
    LOAD_PARAMS = 0x02    # flags, then whole parameter words -> empty reply once in the engine
    SEND_PIXELS = 0x03    # flags, then whole rows of input beats -> empty reply once in the engine
    READ_RESULTS = 0x04   # u16 most beats wanted -> the result beats waiting (up to that many)
    STATUS = 0x05         # -> flags and counters (STATUS_FORMAT)
    RESET = 0x06          # resets the engine, the result buffer and the counters -> empty reply


class Error(IntEnum):
    CRC = 1               # the CRC does not match: nothing done
    COMMAND = 2           # unknown CMD: nothing done
    LENGTH = 3            # LENGTH wrong for the CMD (or above the board's buffer): nothing done
    TIMEOUT = 4           # the packet stopped arriving midway: dropped


#: LOAD_PARAMS flags: the packet's last word ends the parameter stream (tlast)
FLAG_LAST = 0x01
#: SEND_PIXELS flags: the packet's first row is a frame's first (tuser on its first beat)
FLAG_FIRST = 0x01

#: STATUS flags bits
STATUS_LOADED, STATUS_PARAM_ERROR, STATUS_FRAME_ERROR = 0x01, 0x02, 0x04

#: INFO: version, input beat bytes, output beat bytes, parameter word bytes, parameter words,
#: H, W, beats a row in, beats a frame out, largest payload, result buffer beats, clock Hz,
#: clocks a UART bit
INFO_FORMAT = "<BBBBHHHHIHHIH"
#: STATUS: flags, clock cycles, MAC-busy cycles, cycles of the last frame (its first input beat
#: to its last output beat), frames completed, parameter beats and input beats the engine took,
#: bad packets refused (all since the last RESET)
STATUS_FORMAT = "<BIIIIIII"
READ_FORMAT = "<H"


@dataclass(frozen=True)
class BoardInfo:
    version: int
    in_bytes: int
    out_bytes: int
    param_bytes: int
    param_words: int
    h: int
    w: int
    row_beats: int
    frame_out_beats: int
    max_payload: int
    result_beats: int
    clock_hz: int
    divisor: int

    @classmethod
    def unpack(cls, payload: bytes) -> "BoardInfo":
        return cls(*struct.unpack(INFO_FORMAT, payload))

    def pack(self) -> bytes:
        return struct.pack(INFO_FORMAT, *(getattr(self, f) for f in self.__dataclass_fields__))

    @property
    def baud(self) -> float:
        return self.clock_hz / self.divisor


@dataclass(frozen=True)
class BoardStatus:
    flags: int
    cycles: int
    busy_cycles: int
    frame_cycles: int
    frames: int
    param_beats: int
    in_beats: int
    bad_packets: int

    @classmethod
    def unpack(cls, payload: bytes) -> "BoardStatus":
        return cls(*struct.unpack(STATUS_FORMAT, payload))

    @property
    def param_loaded(self) -> bool:
        return bool(self.flags & STATUS_LOADED)

    @property
    def param_error(self) -> bool:
        return bool(self.flags & STATUS_PARAM_ERROR)

    @property
    def frame_error(self) -> bool:
        return bool(self.flags & STATUS_FRAME_ERROR)


def crc16_byte(crc: int, byte: int) -> int:
    """One byte into CRC-16/CCITT-FALSE, bit by bit (the hardware's loop, hw.board.crc)."""
    crc ^= byte << 8
    for _ in range(8):
        crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (its check value: crc16(b"123456789") == 0x29B1)."""
    for byte in data:
        crc = crc16_byte(crc, byte)
    return crc


def encode(cmd: int, payload: bytes = b"") -> bytes:
    """One packet: SYNC, CMD, LENGTH, PAYLOAD, CRC."""
    if not 0 <= cmd <= 0xFF:
        raise ValueError(f"cmd: {cmd} is not a byte")
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload: {len(payload)} bytes, a packet carries at most 65535")
    body = bytes([cmd]) + struct.pack("<H", len(payload)) + bytes(payload)
    return bytes([SYNC]) + body + struct.pack(">H", crc16(body))


class ProtocolError(ValueError):
    """A reply that is not a well-formed packet (bad sync, bad CRC)."""


def decode_header(header: bytes) -> tuple[int, int]:
    """(CMD, LENGTH) of a packet's first HEADER_BYTES bytes."""
    if len(header) != HEADER_BYTES or header[0] != SYNC:
        raise ProtocolError(f"reply: expected the sync byte 0x{SYNC:02X}, got {header[:1].hex() or 'nothing'}")
    return header[1], struct.unpack("<H", header[2:4])[0]


def check_crc(header: bytes, payload: bytes, crc: bytes) -> None:
    if crc16(header[1:] + payload + crc) != 0:
        raise ProtocolError(f"reply: CRC mismatch (cmd 0x{header[1]:02X}, {len(payload)} bytes)")


def decode(packet: bytes) -> tuple[int, bytes]:
    """(CMD, PAYLOAD) of one whole packet; ProtocolError if it is malformed."""
    cmd, length = decode_header(packet[:HEADER_BYTES])
    if len(packet) != OVERHEAD + length:
        raise ProtocolError(f"reply: {len(packet)} bytes, its header says {OVERHEAD + length}")
    payload = packet[HEADER_BYTES:HEADER_BYTES + length]
    check_crc(packet[:HEADER_BYTES], payload, packet[HEADER_BYTES + length:])
    return cmd, payload


def length_rules(param_bytes: int, row_bytes: int) -> dict[int, tuple[int, int]]:
    """{CMD: (fixed bytes, unit)}: a payload is the fixed bytes plus one or more units (unit 0:
    exactly the fixed bytes).  The hardware parser checks these."""
    return {Cmd.INFO: (0, 0), Cmd.LOAD_PARAMS: (1, param_bytes), Cmd.SEND_PIXELS: (1, row_bytes),
            Cmd.READ_RESULTS: (2, 0), Cmd.STATUS: (0, 0), Cmd.RESET: (0, 0)}
