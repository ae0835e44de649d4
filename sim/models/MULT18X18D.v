// Simulation model of the ECP5 MULT18X18D (18 x 18 signed/unsigned multiplier), for the
// subset the engine's ECP5 form instantiates (hw/dsp.py: input registers) and Yosys's own
// mapping writes (dsp_map_18x18.v): A x B with the input registers (REG_INPUTA/B), the
// pipeline register (REG_PIPELINE) and the output register (REG_OUTPUT) each either absent
// ("NONE") or clocked by CLK0 with enable CE0 and reset RST0, RESETMODE "SYNC" (a reset takes
// effect at the clock edge, ahead of the enable); SOURCEA = SOURCEB = 0 (the shift chain is
// not modelled). Yosys ships only a black box of this cell (cells_bb_ecp5.v), so the
// simulations of tests/test_dsp_forms.py need this one; the behaviour follows Lattice's sysDSP
// usage guide (FPGA-TN-02205): the sign inputs are registered with their operand, P is the
// 36-bit product. Any other setting stops the simulation with a message naming it.
// Ports as in Yosys's cells_bb_ecp5.v.
`timescale 1ns / 1ps
module MULT18X18D (
    input  A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input  B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input  C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input  SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input  CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
    input  SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0,
    input  SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0,
    output SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0,
    output SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0,
    output ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0,
    output ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0,
    output ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0,
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
    output SIGNEDP
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    // a stage is registered (by CLK0, CE0, RST0) or passes its input through
    localparam IN_A = REG_INPUTA_CLK == "CLK0", IN_B = REG_INPUTB_CLK == "CLK0";
    localparam PIPE = REG_PIPELINE_CLK == "CLK0", OUT = REG_OUTPUT_CLK == "CLK0";

    initial begin : supported
        if ((REG_INPUTA_CLK != "NONE" && !IN_A) || (REG_INPUTB_CLK != "NONE" && !IN_B)
                || (REG_PIPELINE_CLK != "NONE" && !PIPE) || (REG_OUTPUT_CLK != "NONE" && !OUT)
                || (IN_A && (REG_INPUTA_CE != "CE0" || REG_INPUTA_RST != "RST0"))
                || (IN_B && (REG_INPUTB_CE != "CE0" || REG_INPUTB_RST != "RST0"))
                || (PIPE && (REG_PIPELINE_CE != "CE0" || REG_PIPELINE_RST != "RST0"))
                || (OUT && (REG_OUTPUT_CE != "CE0" || REG_OUTPUT_RST != "RST0"))
                || ((IN_A || IN_B || PIPE || OUT) && RESETMODE != "SYNC")
                || MULT_BYPASS != "DISABLED") begin
            $display("MULT18X18D model: a register other than NONE or CLK0/CE0/RST0 (SYNC), or MULT_BYPASS, is not modelled");
            $finish;
        end
    end

    reg [17:0] a_r = 0, b_r = 0;
    reg sa_r = 0, sb_r = 0;
    reg [35:0] pipe_r = 0, out_r = 0;
    wire [17:0] a_q = IN_A ? a_r : a, b_q = IN_B ? b_r : b;
    wire sa_q = IN_A ? sa_r : SIGNEDA, sb_q = IN_B ? sb_r : SIGNEDB;
    wire [35:0] a_ext = {{18{sa_q & a_q[17]}}, a_q};
    wire [35:0] b_ext = {{18{sb_q & b_q[17]}}, b_q};
    wire [35:0] product = a_ext * b_ext;  // the low 36 bits of the extended product
    wire [35:0] pipe_q = PIPE ? pipe_r : product;
    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = OUT ? out_r : pipe_q;

    // RESETMODE SYNC: the reset is sampled at the clock edge, ahead of the enable
    always @(posedge CLK0) begin
        if (RST0) begin
            a_r <= 0; b_r <= 0; sa_r <= 0; sb_r <= 0; pipe_r <= 0; out_r <= 0;
        end else if (CE0) begin
            a_r <= a; b_r <= b; sa_r <= SIGNEDA; sb_r <= SIGNEDB;
            pipe_r <= product; out_r <= pipe_q;
        end
    end

    assign SIGNEDP = 1'b0;
    assign {SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0, SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0} = 0;
    assign {ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0, ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0, ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0} = 0;
endmodule
