// Simulation model of the ECP5 DP16KD (16 Kbit dual-port block RAM), for the configurations
// Yosys's block-RAM mapping writes (brams_map_16kd.v: true dual port, up to 18 bits a port,
// or the pseudo-dual-port 36-bit form, port A writing and port B reading) and that
// hw/bram_outreg.py sets (REGMODE OUTREG). Yosys ships only a black box of this cell
// (cells_bb_ecp5.v); the netlist simulations of tests/test_bram_outreg.py need this one.
// Behaviour after Lattice's memory usage guide for the ECP5 (TN1264):
//   - a port's read latch loads, at the clock edge where CE is high and its chip select
//     matches CSDECODE, the word at its address; on a write through the same port it keeps
//     its value (WRITEMODE NORMAL), takes the new word (WRITETHROUGH) or the old one
//     (READBEFOREWRITE);
//   - a read of a bit the other port writes at the same edge is undefined in the device:
//     here it answers X (and a bit both ports write becomes X), so a design that used such a
//     read shows it;
//   - REGMODE OUTREG: the output register loads the read latch where OCE is high (one cycle
//     of latency more); NOREG: the outputs are the latch. In the 36-bit form the register is
//     enabled by OCEB (nextpnr packs PDPW16KD's OCER onto OCEB and sets both REGMODEs alike);
//     OCEA must equal it (hw/bram_outreg.py ties both to one net), else the run stops;
//   - widths 1, 2, 4, 9, 18 a port (word address ADx[13:0], [13:1], [13:2], [13:3], [13:4];
//     at 18 bits ADx[1:0] enable the two 9-bit bytes of a write), and 36: port A writes
//     {DIB, DIA} at ADA[13:5] with ADA[3:0] its four byte enables, port B reads {DOB, DOA}
//     at ADB[13:5] (the half order of Yosys's mapping). Widths 9, 18 and 36 share one layout
//     (the x36 word a is the x18 words 2a and 2a + 1); INITVAL_rr's 20-bit slot s holds the
//     x18 word 16 rr + s.
// Not modelled, each stopping the simulation with a message naming it: a reset (RSTA or RSTB
// not low), an inverted clock (CLKxMUX), the two ports on different clocks, a port of 4 bits
// or less beside one of 9 or more, an initial value at widths under 9, a write whose enable
// or address is unknown. Ports as in Yosys's cells_bb_ecp5.v.
`timescale 1ns / 1ps
module DP16KD (
    input  DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
    input  ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
    input  CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0,
    output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
    input  DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
    input  ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
    input  CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0,
    output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
    parameter DATA_WIDTH_A = 18;
    parameter DATA_WIDTH_B = 18;
    parameter REGMODE_A = "NOREG";
    parameter REGMODE_B = "NOREG";
    parameter RESETMODE = "SYNC";
    parameter ASYNC_RESET_RELEASE = "SYNC";
    parameter CSDECODE_A = "0b000";
    parameter CSDECODE_B = "0b000";
    parameter WRITEMODE_A = "NORMAL";
    parameter WRITEMODE_B = "NORMAL";
    parameter CLKAMUX = "CLKA";
    parameter CLKBMUX = "CLKB";
    parameter GSR = "ENABLED";
    parameter INIT_DATA = "STATIC";
    parameter INITVAL_00 = 320'h0;
    parameter INITVAL_01 = 320'h0;
    parameter INITVAL_02 = 320'h0;
    parameter INITVAL_03 = 320'h0;
    parameter INITVAL_04 = 320'h0;
    parameter INITVAL_05 = 320'h0;
    parameter INITVAL_06 = 320'h0;
    parameter INITVAL_07 = 320'h0;
    parameter INITVAL_08 = 320'h0;
    parameter INITVAL_09 = 320'h0;
    parameter INITVAL_0A = 320'h0;
    parameter INITVAL_0B = 320'h0;
    parameter INITVAL_0C = 320'h0;
    parameter INITVAL_0D = 320'h0;
    parameter INITVAL_0E = 320'h0;
    parameter INITVAL_0F = 320'h0;
    parameter INITVAL_10 = 320'h0;
    parameter INITVAL_11 = 320'h0;
    parameter INITVAL_12 = 320'h0;
    parameter INITVAL_13 = 320'h0;
    parameter INITVAL_14 = 320'h0;
    parameter INITVAL_15 = 320'h0;
    parameter INITVAL_16 = 320'h0;
    parameter INITVAL_17 = 320'h0;
    parameter INITVAL_18 = 320'h0;
    parameter INITVAL_19 = 320'h0;
    parameter INITVAL_1A = 320'h0;
    parameter INITVAL_1B = 320'h0;
    parameter INITVAL_1C = 320'h0;
    parameter INITVAL_1D = 320'h0;
    parameter INITVAL_1E = 320'h0;
    parameter INITVAL_1F = 320'h0;
    parameter INITVAL_20 = 320'h0;
    parameter INITVAL_21 = 320'h0;
    parameter INITVAL_22 = 320'h0;
    parameter INITVAL_23 = 320'h0;
    parameter INITVAL_24 = 320'h0;
    parameter INITVAL_25 = 320'h0;
    parameter INITVAL_26 = 320'h0;
    parameter INITVAL_27 = 320'h0;
    parameter INITVAL_28 = 320'h0;
    parameter INITVAL_29 = 320'h0;
    parameter INITVAL_2A = 320'h0;
    parameter INITVAL_2B = 320'h0;
    parameter INITVAL_2C = 320'h0;
    parameter INITVAL_2D = 320'h0;
    parameter INITVAL_2E = 320'h0;
    parameter INITVAL_2F = 320'h0;
    parameter INITVAL_30 = 320'h0;
    parameter INITVAL_31 = 320'h0;
    parameter INITVAL_32 = 320'h0;
    parameter INITVAL_33 = 320'h0;
    parameter INITVAL_34 = 320'h0;
    parameter INITVAL_35 = 320'h0;
    parameter INITVAL_36 = 320'h0;
    parameter INITVAL_37 = 320'h0;
    parameter INITVAL_38 = 320'h0;
    parameter INITVAL_39 = 320'h0;
    parameter INITVAL_3A = 320'h0;
    parameter INITVAL_3B = 320'h0;
    parameter INITVAL_3C = 320'h0;
    parameter INITVAL_3D = 320'h0;
    parameter INITVAL_3E = 320'h0;
    parameter INITVAL_3F = 320'h0;

    wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
    wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};

    localparam WA = DATA_WIDTH_A, WB = DATA_WIDTH_B;
    localparam PDP = WA == 36 || WB == 36;
    localparam BITS = 18432;  // 1024 x 18: the ninth bit of each byte included
    localparam [2:0] CS_A = {CSDECODE_A[23:16] == "1", CSDECODE_A[15:8] == "1", CSDECODE_A[7:0] == "1"};
    localparam [2:0] CS_B = {CSDECODE_B[23:16] == "1", CSDECODE_B[15:8] == "1", CSDECODE_B[7:0] == "1"};
    localparam OUT_A = REGMODE_A == "OUTREG", OUT_B = REGMODE_B == "OUTREG";
    localparam [64*320-1:0] INIT_ALL = {INITVAL_3F, INITVAL_3E, INITVAL_3D, INITVAL_3C, INITVAL_3B, INITVAL_3A, INITVAL_39, INITVAL_38, INITVAL_37, INITVAL_36, INITVAL_35, INITVAL_34, INITVAL_33, INITVAL_32, INITVAL_31, INITVAL_30, INITVAL_2F, INITVAL_2E, INITVAL_2D, INITVAL_2C, INITVAL_2B, INITVAL_2A, INITVAL_29, INITVAL_28, INITVAL_27, INITVAL_26, INITVAL_25, INITVAL_24, INITVAL_23, INITVAL_22, INITVAL_21, INITVAL_20, INITVAL_1F, INITVAL_1E, INITVAL_1D, INITVAL_1C, INITVAL_1B, INITVAL_1A, INITVAL_19, INITVAL_18, INITVAL_17, INITVAL_16, INITVAL_15, INITVAL_14, INITVAL_13, INITVAL_12, INITVAL_11, INITVAL_10, INITVAL_0F, INITVAL_0E, INITVAL_0D, INITVAL_0C, INITVAL_0B, INITVAL_0A, INITVAL_09, INITVAL_08, INITVAL_07, INITVAL_06, INITVAL_05, INITVAL_04, INITVAL_03, INITVAL_02, INITVAL_01, INITVAL_00};

    function integer legal(input integer width);
        legal = width == 1 || width == 2 || width == 4 || width == 9 || width == 18 || width == 36;
    endfunction
    function integer writemode_ok(input [8*15:1] mode);
        writemode_ok = mode == "NORMAL" || mode == "WRITETHROUGH" || mode == "READBEFOREWRITE";
    endfunction
    function integer lsb(input integer width);  // a port's lowest word-address bit
        lsb = width == 36 ? 5 : width == 18 ? 4 : width == 9 ? 3 : width == 4 ? 2 : width == 2 ? 1 : 0;
    endfunction
    function integer base(input [13:0] address, input integer width);  // the word's first bit
        base = (address >> lsb(width)) * width;
    endfunction
    // the bits of the word a write enables: its bytes' enables at 18 and 36 bits, else all
    function [35:0] enabled_bits(input [13:0] address, input integer width);
        integer k;
        begin
            enabled_bits = 0;
            for (k = 0; k < width; k = k + 1)
                enabled_bits[k] = width >= 18 ? address[k / 9] : 1'b1;
        end
    endfunction

    reg mem [0:BITS-1];
    integer i;
    initial begin : setup
        if (!legal(WA) || !legal(WB) || ((WA < 9) != (WB < 9))) begin
            $display("DP16KD model: DATA_WIDTH_A %0d beside DATA_WIDTH_B %0d is not modelled", WA, WB);
            $finish;
        end
        if ((REGMODE_A != "NOREG" && !OUT_A) || (REGMODE_B != "NOREG" && !OUT_B)
                || (PDP && REGMODE_A != REGMODE_B)) begin
            $display("DP16KD model: REGMODE_A %0s with REGMODE_B %0s is not modelled", REGMODE_A, REGMODE_B);
            $finish;
        end
        if (CLKAMUX != "CLKA" || CLKBMUX != "CLKB") begin
            $display("DP16KD model: an inverted clock (CLKAMUX %0s, CLKBMUX %0s) is not modelled", CLKAMUX, CLKBMUX);
            $finish;
        end
        if (!writemode_ok(WRITEMODE_A) || !writemode_ok(WRITEMODE_B)) begin
            $display("DP16KD model: WRITEMODE_A %0s, WRITEMODE_B %0s is not modelled", WRITEMODE_A, WRITEMODE_B);
            $finish;
        end
        if (WA < 9 && INIT_ALL != 0) begin
            $display("DP16KD model: an initial value at a width under 9 bits is not modelled");
            $finish;
        end
        for (i = 0; i < BITS; i = i + 1)
            mem[i] = INIT_ALL[(i / 18 / 16) * 320 + (i / 18 % 16) * 20 + i % 18];
    end

    function [35:0] word(input integer first, input integer width);
        integer k;
        begin
            word = 0;
            for (k = 0; k < width; k = k + 1)
                word[k] = mem[first + k];
        end
    endfunction
    // whether a write of `width` bits from `first`, enabled by `bits`, writes bit `b`
    function writes(input integer b, input integer first, input integer width, input [35:0] bits);
        writes = b >= first && b < first + width && bits[b - first];
    endfunction
    // a port's read: on its own write, by its WRITEMODE; X where the other port writes a bit
    function [35:0] read_word(input own_write, input [8*15:1] mode, input [35:0] old_word,
                              input [35:0] new_word, input integer first, input integer width,
                              input integer other_first, input integer other_width,
                              input [35:0] other_bits);
        integer k;
        begin
            read_word = own_write && mode == "WRITETHROUGH" ? new_word : old_word;
            for (k = 0; k < width; k = k + 1)
                if (writes(first + k, other_first, other_width, other_bits))
                    read_word[k] = 1'bx;
        end
    endfunction

    wire en_a = CEA === 1'b1 && {CSA2, CSA1, CSA0} === CS_A;
    wire en_b = CEB === 1'b1 && {CSB2, CSB1, CSB0} === CS_B;
    wire we_a = en_a && WEA !== 1'b0;
    wire we_b = en_b && WEB !== 1'b0 && !PDP;  // the 36-bit form: port B only reads
    wire [35:0] data_a = WA == 36 ? {dib, dia} : {18'b0, dia};
    wire [35:0] data_b = {18'b0, dib};

    reg [35:0] latch_a = 0, latch_b = 0, out_a = 0, out_b = 0;

    always @(posedge CLKA) begin : clock_edge
        reg [35:0] old_a, old_b, new_a, new_b, bits_a, bits_b;
        integer k, first_a, first_b;
        if (CLKB !== 1'b1) begin
            $display("DP16KD model: the two ports on different clocks are not modelled");
            $finish;
        end
        if (RSTA !== 1'b0 || RSTB !== 1'b0) begin
            $display("DP16KD model: a reset (RSTA %b, RSTB %b) is not modelled", RSTA, RSTB);
            $finish;
        end
        if ((we_a && (WEA !== 1'b1 || ^ada === 1'bx)) || (we_b && (WEB !== 1'b1 || ^adb === 1'bx))) begin
            $display("DP16KD model: a write with an unknown enable or address at %0t", $time);
            $finish;
        end
        if (PDP && OUT_A && OCEA !== OCEB) begin
            $display("DP16KD model: the 36-bit form's OCEA and OCEB differ at %0t", $time);
            $finish;
        end
        first_a = base(ada, WA);
        first_b = base(adb, WB);
        bits_a = we_a ? enabled_bits(ada, WA) : 36'b0;
        bits_b = we_b ? enabled_bits(adb, WB) : 36'b0;
        old_a = word(first_a, WA);
        old_b = word(first_b, WB);
        new_a = old_a;
        new_b = old_b;
        for (k = 0; k < 36; k = k + 1) begin
            if (bits_a[k]) new_a[k] = data_a[k];
            if (bits_b[k]) new_b[k] = data_b[k];
        end
        for (k = 0; k < WA; k = k + 1)
            if (bits_a[k]) mem[first_a + k] = new_a[k];
        for (k = 0; k < WB; k = k + 1)
            if (bits_b[k])
                mem[first_b + k] = writes(first_b + k, first_a, WA, bits_a) ? 1'bx : new_b[k];
        // the output registers load the latches as they were before this edge
        if (OUT_A && OCEA === 1'b1) out_a <= latch_a;
        if (OUT_B && OCEB === 1'b1) out_b <= latch_b;
        if (en_a && !PDP && !(we_a && WRITEMODE_A == "NORMAL"))
            latch_a <= read_word(we_a, WRITEMODE_A, old_a, new_a, first_a, WA, first_b, WB, bits_b);
        if (en_b && !(we_b && WRITEMODE_B == "NORMAL"))
            latch_b <= read_word(we_b, WRITEMODE_B, old_b, new_b, first_b, WB, first_a, WA, bits_a);
    end

    // the read data: port B's in the 36-bit form ({DOB, DOA}; DOB alone when it reads fewer
    // bits), else each port's own
    wire [35:0] q_a = OUT_A ? out_a : latch_a;
    wire [35:0] q_b = OUT_B ? out_b : latch_b;
    wire [17:0] doa = !PDP ? q_a[17:0] : WB == 36 ? q_b[17:0] : 18'b0;
    wire [17:0] dob = PDP && WB == 36 ? q_b[35:18] : q_b[17:0];
    assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
endmodule
