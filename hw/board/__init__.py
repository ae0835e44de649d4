"""The engine on a board: a UART host link with a framed, CRC-checked protocol (docs/board.md).

``protocol`` is plain Python (the packet format, shared with the host driver
``xvolution.board``); ``uart``, ``crc``, ``link`` and ``board_top`` are the board-independent
Amaranth blocks; ``pll`` and ``ulx3s`` wrap them for the ULX3S (ECP5-85F); ``build`` runs
Yosys, nextpnr-ecp5 and ecppack.
"""
