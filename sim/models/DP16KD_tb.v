// Directed checks of sim/models/DP16KD.v against the behaviour its header states (run by
// tests/test_bram_outreg.py): byte enables, the three write modes, a read meeting the other
// port's write, the 36-bit form, and the output register's latency and enable. Prints one
// "FAIL ..." line a wrong answer, "DONE" at the end.
`timescale 1ns / 1ps
module DP16KD_tb;
    reg clk = 0;
    always #5 clk = ~clk;

    // ports of the 18-bit true dual-port RAM t (A: NORMAL, B: READBEFOREWRITE)
    reg [17:0] t_dia = 0, t_dib = 0;
    reg [13:0] t_ada = 0, t_adb = 0;
    reg t_wea = 0, t_web = 0, t_cea = 0, t_ceb = 0;
    wire [17:0] t_doa, t_dob;
    // the 36-bit RAM p with its output registers (A writes, B reads)
    reg [35:0] p_di = 0;
    reg [13:0] p_ada = 0, p_adb = 0;
    reg p_cea = 0, p_ceb = 0, p_oce = 0;
    wire [35:0] p_do;
    // the 9-bit RAM w (A: WRITETHROUGH)
    reg [17:0] w_dia = 0;
    reg [13:0] w_ada = 0;
    reg w_wea = 0, w_cea = 0;
    wire [17:0] w_doa, w_dob;

    DP16KD #(.DATA_WIDTH_A(18), .DATA_WIDTH_B(18), .WRITEMODE_A("NORMAL"),
             .WRITEMODE_B("READBEFOREWRITE")) t (
        .DIA17(t_dia[17]), .DIA16(t_dia[16]), .DIA15(t_dia[15]), .DIA14(t_dia[14]), .DIA13(t_dia[13]), .DIA12(t_dia[12]), .DIA11(t_dia[11]), .DIA10(t_dia[10]), .DIA9(t_dia[9]), .DIA8(t_dia[8]), .DIA7(t_dia[7]), .DIA6(t_dia[6]), .DIA5(t_dia[5]), .DIA4(t_dia[4]), .DIA3(t_dia[3]), .DIA2(t_dia[2]), .DIA1(t_dia[1]), .DIA0(t_dia[0]),
        .DIB17(t_dib[17]), .DIB16(t_dib[16]), .DIB15(t_dib[15]), .DIB14(t_dib[14]), .DIB13(t_dib[13]), .DIB12(t_dib[12]), .DIB11(t_dib[11]), .DIB10(t_dib[10]), .DIB9(t_dib[9]), .DIB8(t_dib[8]), .DIB7(t_dib[7]), .DIB6(t_dib[6]), .DIB5(t_dib[5]), .DIB4(t_dib[4]), .DIB3(t_dib[3]), .DIB2(t_dib[2]), .DIB1(t_dib[1]), .DIB0(t_dib[0]),
        .ADA13(t_ada[13]), .ADA12(t_ada[12]), .ADA11(t_ada[11]), .ADA10(t_ada[10]), .ADA9(t_ada[9]), .ADA8(t_ada[8]), .ADA7(t_ada[7]), .ADA6(t_ada[6]), .ADA5(t_ada[5]), .ADA4(t_ada[4]), .ADA3(t_ada[3]), .ADA2(t_ada[2]), .ADA1(t_ada[1]), .ADA0(t_ada[0]),
        .ADB13(t_adb[13]), .ADB12(t_adb[12]), .ADB11(t_adb[11]), .ADB10(t_adb[10]), .ADB9(t_adb[9]), .ADB8(t_adb[8]), .ADB7(t_adb[7]), .ADB6(t_adb[6]), .ADB5(t_adb[5]), .ADB4(t_adb[4]), .ADB3(t_adb[3]), .ADB2(t_adb[2]), .ADB1(t_adb[1]), .ADB0(t_adb[0]),
        .CEA(t_cea), .OCEA(1'b1), .CLKA(clk), .WEA(t_wea), .RSTA(1'b0), .CSA2(1'b0), .CSA1(1'b0), .CSA0(1'b0),
        .CEB(t_ceb), .OCEB(1'b1), .CLKB(clk), .WEB(t_web), .RSTB(1'b0), .CSB2(1'b0), .CSB1(1'b0), .CSB0(1'b0),
        .DOA17(t_doa[17]), .DOA16(t_doa[16]), .DOA15(t_doa[15]), .DOA14(t_doa[14]), .DOA13(t_doa[13]), .DOA12(t_doa[12]), .DOA11(t_doa[11]), .DOA10(t_doa[10]), .DOA9(t_doa[9]), .DOA8(t_doa[8]), .DOA7(t_doa[7]), .DOA6(t_doa[6]), .DOA5(t_doa[5]), .DOA4(t_doa[4]), .DOA3(t_doa[3]), .DOA2(t_doa[2]), .DOA1(t_doa[1]), .DOA0(t_doa[0]),
        .DOB17(t_dob[17]), .DOB16(t_dob[16]), .DOB15(t_dob[15]), .DOB14(t_dob[14]), .DOB13(t_dob[13]), .DOB12(t_dob[12]), .DOB11(t_dob[11]), .DOB10(t_dob[10]), .DOB9(t_dob[9]), .DOB8(t_dob[8]), .DOB7(t_dob[7]), .DOB6(t_dob[6]), .DOB5(t_dob[5]), .DOB4(t_dob[4]), .DOB3(t_dob[3]), .DOB2(t_dob[2]), .DOB1(t_dob[1]), .DOB0(t_dob[0]));

    DP16KD #(.DATA_WIDTH_A(36), .DATA_WIDTH_B(36), .REGMODE_A("OUTREG"),
             .REGMODE_B("OUTREG")) p (
        .DIA17(p_di[17]), .DIA16(p_di[16]), .DIA15(p_di[15]), .DIA14(p_di[14]), .DIA13(p_di[13]), .DIA12(p_di[12]), .DIA11(p_di[11]), .DIA10(p_di[10]), .DIA9(p_di[9]), .DIA8(p_di[8]), .DIA7(p_di[7]), .DIA6(p_di[6]), .DIA5(p_di[5]), .DIA4(p_di[4]), .DIA3(p_di[3]), .DIA2(p_di[2]), .DIA1(p_di[1]), .DIA0(p_di[0]),
        .DIB17(p_di[35]), .DIB16(p_di[34]), .DIB15(p_di[33]), .DIB14(p_di[32]), .DIB13(p_di[31]), .DIB12(p_di[30]), .DIB11(p_di[29]), .DIB10(p_di[28]), .DIB9(p_di[27]), .DIB8(p_di[26]), .DIB7(p_di[25]), .DIB6(p_di[24]), .DIB5(p_di[23]), .DIB4(p_di[22]), .DIB3(p_di[21]), .DIB2(p_di[20]), .DIB1(p_di[19]), .DIB0(p_di[18]),
        .ADA13(p_ada[13]), .ADA12(p_ada[12]), .ADA11(p_ada[11]), .ADA10(p_ada[10]), .ADA9(p_ada[9]), .ADA8(p_ada[8]), .ADA7(p_ada[7]), .ADA6(p_ada[6]), .ADA5(p_ada[5]), .ADA4(p_ada[4]), .ADA3(p_ada[3]), .ADA2(p_ada[2]), .ADA1(p_ada[1]), .ADA0(p_ada[0]),
        .ADB13(p_adb[13]), .ADB12(p_adb[12]), .ADB11(p_adb[11]), .ADB10(p_adb[10]), .ADB9(p_adb[9]), .ADB8(p_adb[8]), .ADB7(p_adb[7]), .ADB6(p_adb[6]), .ADB5(p_adb[5]), .ADB4(p_adb[4]), .ADB3(p_adb[3]), .ADB2(p_adb[2]), .ADB1(p_adb[1]), .ADB0(p_adb[0]),
        .CEA(p_cea), .OCEA(p_oce), .CLKA(clk), .WEA(1'b1), .RSTA(1'b0), .CSA2(1'b0), .CSA1(1'b0), .CSA0(1'b0),
        .CEB(p_ceb), .OCEB(p_oce), .CLKB(clk), .WEB(1'b0), .RSTB(1'b0), .CSB2(1'b0), .CSB1(1'b0), .CSB0(1'b0),
        .DOA17(p_do[17]), .DOA16(p_do[16]), .DOA15(p_do[15]), .DOA14(p_do[14]), .DOA13(p_do[13]), .DOA12(p_do[12]), .DOA11(p_do[11]), .DOA10(p_do[10]), .DOA9(p_do[9]), .DOA8(p_do[8]), .DOA7(p_do[7]), .DOA6(p_do[6]), .DOA5(p_do[5]), .DOA4(p_do[4]), .DOA3(p_do[3]), .DOA2(p_do[2]), .DOA1(p_do[1]), .DOA0(p_do[0]),
        .DOB17(p_do[35]), .DOB16(p_do[34]), .DOB15(p_do[33]), .DOB14(p_do[32]), .DOB13(p_do[31]), .DOB12(p_do[30]), .DOB11(p_do[29]), .DOB10(p_do[28]), .DOB9(p_do[27]), .DOB8(p_do[26]), .DOB7(p_do[25]), .DOB6(p_do[24]), .DOB5(p_do[23]), .DOB4(p_do[22]), .DOB3(p_do[21]), .DOB2(p_do[20]), .DOB1(p_do[19]), .DOB0(p_do[18]));

    DP16KD #(.DATA_WIDTH_A(9), .DATA_WIDTH_B(9), .WRITEMODE_A("WRITETHROUGH")) w (
        .DIA17(w_dia[17]), .DIA16(w_dia[16]), .DIA15(w_dia[15]), .DIA14(w_dia[14]), .DIA13(w_dia[13]), .DIA12(w_dia[12]), .DIA11(w_dia[11]), .DIA10(w_dia[10]), .DIA9(w_dia[9]), .DIA8(w_dia[8]), .DIA7(w_dia[7]), .DIA6(w_dia[6]), .DIA5(w_dia[5]), .DIA4(w_dia[4]), .DIA3(w_dia[3]), .DIA2(w_dia[2]), .DIA1(w_dia[1]), .DIA0(w_dia[0]),
        .DIB17(1'b0), .DIB16(1'b0), .DIB15(1'b0), .DIB14(1'b0), .DIB13(1'b0), .DIB12(1'b0), .DIB11(1'b0), .DIB10(1'b0), .DIB9(1'b0), .DIB8(1'b0), .DIB7(1'b0), .DIB6(1'b0), .DIB5(1'b0), .DIB4(1'b0), .DIB3(1'b0), .DIB2(1'b0), .DIB1(1'b0), .DIB0(1'b0),
        .ADA13(w_ada[13]), .ADA12(w_ada[12]), .ADA11(w_ada[11]), .ADA10(w_ada[10]), .ADA9(w_ada[9]), .ADA8(w_ada[8]), .ADA7(w_ada[7]), .ADA6(w_ada[6]), .ADA5(w_ada[5]), .ADA4(w_ada[4]), .ADA3(w_ada[3]), .ADA2(w_ada[2]), .ADA1(w_ada[1]), .ADA0(w_ada[0]),
        .ADB13(1'b0), .ADB12(1'b0), .ADB11(1'b0), .ADB10(1'b0), .ADB9(1'b0), .ADB8(1'b0), .ADB7(1'b0), .ADB6(1'b0), .ADB5(1'b0), .ADB4(1'b0), .ADB3(1'b0), .ADB2(1'b0), .ADB1(1'b0), .ADB0(1'b0),
        .CEA(w_cea), .OCEA(1'b1), .CLKA(clk), .WEA(w_wea), .RSTA(1'b0), .CSA2(1'b0), .CSA1(1'b0), .CSA0(1'b0),
        .CEB(1'b0), .OCEB(1'b1), .CLKB(clk), .WEB(1'b0), .RSTB(1'b0), .CSB2(1'b0), .CSB1(1'b0), .CSB0(1'b0),
        .DOA17(w_doa[17]), .DOA16(w_doa[16]), .DOA15(w_doa[15]), .DOA14(w_doa[14]), .DOA13(w_doa[13]), .DOA12(w_doa[12]), .DOA11(w_doa[11]), .DOA10(w_doa[10]), .DOA9(w_doa[9]), .DOA8(w_doa[8]), .DOA7(w_doa[7]), .DOA6(w_doa[6]), .DOA5(w_doa[5]), .DOA4(w_doa[4]), .DOA3(w_doa[3]), .DOA2(w_doa[2]), .DOA1(w_doa[1]), .DOA0(w_doa[0]),
        .DOB17(w_dob[17]), .DOB16(w_dob[16]), .DOB15(w_dob[15]), .DOB14(w_dob[14]), .DOB13(w_dob[13]), .DOB12(w_dob[12]), .DOB11(w_dob[11]), .DOB10(w_dob[10]), .DOB9(w_dob[9]), .DOB8(w_dob[8]), .DOB7(w_dob[7]), .DOB6(w_dob[6]), .DOB5(w_dob[5]), .DOB4(w_dob[4]), .DOB3(w_dob[3]), .DOB2(w_dob[2]), .DOB1(w_dob[1]), .DOB0(w_dob[0]));

    task tick;  // one clock edge, inputs changed away from it
        begin
            @(posedge clk);
            #1;
        end
    endtask

    task expect18(input [8*32:1] what, input [17:0] got, input [17:0] want);
        if (got !== want) $display("FAIL %0s: %h, expected %h", what, got, want);
    endtask

    task expect36(input [8*32:1] what, input [35:0] got, input [35:0] want);
        if (got !== want) $display("FAIL %0s: %h, expected %h", what, got, want);
    endtask

    // an x18 word address: ADx[13:4], ADx[1:0] the byte enables
    function [13:0] at18(input [9:0] word, input [1:0] bytes);
        at18 = {word, 2'b00, bytes};
    endfunction

    initial begin
        #1;
        // 18 bits: a write through A, a read through B
        t_cea = 1; t_wea = 1; t_ada = at18(5, 2'b11); t_dia = 18'h2abcd; tick;
        t_wea = 0; t_cea = 0; t_ceb = 1; t_adb = at18(5, 0); tick;
        expect18("x18 read", t_dob, 18'h2abcd);
        // the low byte alone
        t_ceb = 0; t_cea = 1; t_wea = 1; t_ada = at18(5, 2'b01); t_dia = 18'h3ffff; tick;
        t_cea = 0; t_wea = 0; t_ceb = 1; tick;
        expect18("x18 byte enable", t_dob, 18'h2abff);
        // NORMAL: port A's latch keeps its read through its own write
        t_ceb = 0; t_cea = 1; t_ada = at18(5, 0); tick;
        expect18("x18 read through A", t_doa, 18'h2abff);
        t_wea = 1; t_ada = at18(9, 2'b11); t_dia = 18'h00001; tick;
        expect18("NORMAL keeps the latch", t_doa, 18'h2abff);
        // READBEFOREWRITE: port B answers the old word of its own write
        t_cea = 0; t_wea = 0; t_ceb = 1; t_web = 1; t_adb = at18(9, 2'b11); t_dib = 18'h00002;
        tick;
        expect18("READBEFOREWRITE", t_dob, 18'h00001);
        t_web = 0; tick;
        expect18("B's write landed", t_dob, 18'h00002);
        // a read of the word the other port writes at the same edge is X
        t_cea = 1; t_wea = 1; t_ada = at18(9, 2'b11); t_dia = 18'h00003; tick;
        if (t_dob !== 18'bx) $display("FAIL a read meeting a write: %h, expected X", t_dob);
        t_cea = 0; t_wea = 0; tick;
        expect18("the write that met a read", t_dob, 18'h00003);

        // 36 bits with output registers: a read shows one edge after its own, where OCE is high
        p_cea = 1; p_ada = {9'd3, 5'b01111}; p_di = 36'h987654321; tick;
        p_ada = {9'd4, 5'b00101}; p_di = 36'hfffffffff; tick;  // bytes 0 and 2 of a zero word
        p_cea = 0; p_ceb = 1; p_adb = {9'd3, 5'b0}; p_oce = 0; tick;
        expect36("OUTREG before OCE", p_do, 36'h0);
        p_ceb = 0; p_oce = 1; tick;
        expect36("OUTREG after OCE", p_do, 36'h987654321);
        p_ceb = 1; p_adb = {9'd4, 5'b0}; p_oce = 0; tick;
        p_ceb = 0; tick;
        expect36("OUTREG holds while OCE is low", p_do, 36'h987654321);
        p_oce = 1; tick;
        expect36("x36 byte enables", p_do, 36'h007fc01ff);

        // 9 bits, WRITETHROUGH: the write's word on its own port
        w_cea = 1; w_wea = 1; w_ada = {11'd7, 3'b0}; w_dia = 18'h001a5; tick;
        expect18("WRITETHROUGH", w_doa, 18'h001a5);
        w_wea = 0; w_ada = {11'd6, 3'b0}; tick;
        expect18("x9 neighbour untouched", w_doa, 18'h0);
        $display("DONE");
        $finish;
    end
endmodule
