// plutflow PE array: P_OUT output channels x P_IN input channels of multiply-accumulate
// per cycle, in one of four PE types (docs/rtl.md), plus (INT8_PATH) int8 multipliers so
// that a low-bit overlay also runs int8 layers:
//
//   PE_TYPE 0 (int8)  : weights are 8-bit two's complement (DSP multipliers)
//   PE_TYPE 1 (shift) : native shift codes sign | i1 | i2 (WBITS bits, B2 bits for i2);
//                       each product is +-((x << e1[i1]) + (x << e2[i2]))
//   PE_TYPE 2 (plut)  : sign | magnitude index into 2^(WBITS-1) levels; each activation's
//                       products with every level are formed once per row and the PEs of
//                       the row only select by their code and add or subtract
//   PE_TYPE 3 (plut-lutram): every PE holds T[magnitude][index] in LUT RAM (written through
//                       tab_*) and reads T[code][act - aqmin]: lookup and add, no multiplier
//
// Weights arrive as 8-bit lanes, w(o, i) at [(o*P_IN + i)*8 +: 8]; native codes sit in the
// low WBITS bits. Stages: input registers, products, the product of the mode (int8 or
// low-bit, its magnitude and sign), the signed product, then the adder trees (two levels
// per stage).
// Registers load only with a valid beat.
`default_nettype none

module pf_pe_array #(
    parameter integer PE_TYPE = 0,
    parameter integer P_IN = 4,
    parameter integer P_OUT = 4,
    parameter integer AW = 9,        // activation width (signed; holds int8 and uint8 codes)
    parameter integer WBITS = 8,     // native code width of the low-bit PEs
    parameter integer B2 = 1,        // shift: index bits of the second term
    parameter integer LW = 8,        // plut: level width (unsigned magnitudes)
    parameter integer ABITS = 4,     // plut-lutram: activation index width
    parameter integer TBW = 16,      // plut-lutram: table entry width (signed)
    parameter integer INT8_PATH = 0, // low-bit types: also int8 multipliers
    parameter integer SUM_W = 32,
    parameter integer TREE_LPS = 2,    // adder-tree levels per pipeline stage (pf_tree.vh)
    parameter integer TREE_SPLIT = 1   // the tree's last level in a stage of its own
) (
    input  wire                          clk,
    input  wire                          rst,
    input  wire                          in_valid,
    input  wire                          int8_mode,  // use the int8 multipliers
    input  wire [P_IN*AW-1:0]            act,
    input  wire [P_OUT*P_IN*8-1:0]       wgt,
    input  wire [AW-1:0]                 aqmin,      // plut-lutram: index = act - aqmin
    input  wire [(1<<(WBITS-1))*3-1:0]   exps,       // shift: e1 list then e2 list (3 bits)
    input  wire [(1<<(WBITS-1))*LW-1:0]  levels,     // plut: level j at [j*LW +: LW]
    input  wire                          tab_we,     // plut-lutram: table write port
    input  wire [WBITS-1+ABITS-1:0]      tab_addr,   // {magnitude, activation index}
    input  wire [TBW-1:0]                tab_data,
    output wire                          out_valid,
    output wire [P_OUT*SUM_W-1:0]        sums
);
    localparam integer MB = WBITS - 1;              // magnitude bits
    localparam integer NLEV = 1 << MB;
    localparam integer B1 = MB - B2;
    localparam integer HAS8 = (PE_TYPE == 0 || INT8_PATH != 0) ? 1 : 0;
    localparam integer LOWBIT = PE_TYPE != 0 ? 1 : 0;
    // widths of the signed products
    localparam integer PW8 = AW + 8;
    localparam integer PWL = (PE_TYPE == 1) ? AW + 9
                           : (PE_TYPE == 2) ? AW + LW + 1
                           : (PE_TYPE == 3) ? TBW + 1 : 1;
    localparam integer PW = (HAS8 != 0 && PW8 > PWL) ? PW8 : PWL;
    localparam integer TW = PW + $clog2(P_IN);

    generate
        if (SUM_W < TW) begin : narrow_sum
            $error("pf_pe_array: SUM_W too narrow for the adder trees");
        end
        if (WBITS < 2 || WBITS > 8) begin : bad_wbits
            $error("pf_pe_array: WBITS must be 2..8");
        end
        if (PE_TYPE == 1 && (B2 < 0 || B2 >= MB)) begin : bad_b2
            $error("pf_pe_array: shift PEs need 0 <= B2 < WBITS - 1");
        end
    endgenerate

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, exps, levels, tab_we, tab_addr, tab_data, aqmin, int8_mode, act,
                       wgt, tree_valid_unused};
    /* verilator lint_on UNUSEDSIGNAL */

    wire tree_valid_unused;
    reg v1, v2, v3, v4;

    // x << e for e in 0..7, as a mux (never a multiplier)
    function automatic [PWL-1:0] shl(input [PWL-1:0] x, input [2:0] e);
        case (e)
            3'd0: shl = x;
            3'd1: shl = x << 1;
            3'd2: shl = x << 2;
            3'd3: shl = x << 3;
            3'd4: shl = x << 4;
            3'd5: shl = x << 5;
            3'd6: shl = x << 6;
            default: shl = x << 7;
        endcase
    endfunction

    always @(posedge clk) begin
        if (rst) {v1, v2, v3, v4} <= 4'b0000;
        else {v1, v2, v3, v4} <= {in_valid, v1, v2, v3};
    end
    // (which of the signals below a configuration uses depends on PE_TYPE and INT8_PATH)
    /* verilator lint_off UNUSEDSIGNAL */
    reg mode1, mode2;
    always @(posedge clk) begin
        if (in_valid) mode1 <= int8_mode;
        if (v1) mode2 <= mode1;
    end

    // stage 3 products (magnitudes with their sign apart for the low-bit PEs), per (o, i) at
    // [(o*P_IN + i)*PW +: PW]; stage 4 applies the sign and registers them in slots of PS
    // bits: whole words, so that a Verilated model stores each in place (the bits above PW
    // are never driven: no registers)
    localparam integer PS = PW <= 32 ? 32 : 64;
    wire [P_OUT*P_IN*PW-1:0] prod;
    wire [P_OUT*P_IN-1:0] neg;
    /* verilator lint_off UNDRIVEN */
    reg [P_OUT*P_IN*PS-1:0] prod4;
    /* verilator lint_on UNDRIVEN */
    genvar n4;
    generate  // (a generate loop: Verilator unrolls it whatever the array size)
        for (n4 = 0; n4 < P_OUT * P_IN; n4 = n4 + 1) begin : sign4
            always @(posedge clk)
                if (v3) prod4[n4*PS +: PW] <= neg[n4] ? -prod[n4*PW +: PW] : prod[n4*PW +: PW];
        end
    endgenerate

    genvar o, i, j;
    generate
        for (i = 0; i < P_IN; i = i + 1) begin : row
            // stage 1: the activation and (plut-lutram) its table index, for the low-bit
            // PEs; the int8 multipliers take their own copy (x8, loaded in int8 mode
            // only), which feeds nothing but their DSP input registers
            reg signed [AW-1:0] x1, x8;
            reg [AW-1:0] idx1;
            always @(posedge clk) begin
                if (in_valid && !(HAS8 != 0 && (LOWBIT == 0 || int8_mode))) begin
                    x1 <= act[i*AW +: AW];
                    idx1 <= act[i*AW +: AW] - aqmin;
                end
                if (in_valid && HAS8 != 0 && (LOWBIT == 0 || int8_mode))
                    x8 <= act[i*AW +: AW];
            end
            // stage 2 (shared by the row): products with every level
            wire [NLEV*PWL-1:0] colv;
            if (PE_TYPE == 2) begin : plut_row
                for (j = 0; j < NLEV; j = j + 1) begin : lev
                    reg signed [PWL-1:0] c;
                    always @(posedge clk)
                        if (v1) c <= x1 * $signed({1'b0, levels[j*LW +: LW]});
                    assign colv[j*PWL +: PWL] = c;
                end
            end else begin : no_row
                assign colv = {NLEV*PWL{1'b0}};
            end
            for (o = 0; o < P_OUT; o = o + 1) begin : pe
                reg [7:0] w1, w8;
                always @(posedge clk) begin
                    if (in_valid && !(HAS8 != 0 && (LOWBIT == 0 || int8_mode)))
                        w1 <= wgt[(o*P_IN + i)*8 +: 8];
                    if (in_valid && HAS8 != 0 && (LOWBIT == 0 || int8_mode))
                        w8 <= wgt[(o*P_IN + i)*8 +: 8];
                end
                wire [MB-1:0] mag1 = w1[MB-1:0];
                wire sgn1 = w1[MB];
                reg sgn2;
                reg [MB-1:0] mag2;
                always @(posedge clk) if (v1) begin
                    sgn2 <= sgn1;
                    mag2 <= mag1;
                end
                // ---- int8 path: DSP multiply (input, M and P registers)
                wire signed [PW-1:0] p8;
                if (HAS8 != 0) begin : m8
                    reg signed [PW8-1:0] m2, m3;
                    always @(posedge clk) begin
                        if (v1) m2 <= x8 * $signed(w8);
                        if (v2) m3 <= m2;
                    end
                    assign p8 = {{(PW-PW8){m3[PW8-1]}}, m3};
                end else begin : no8
                    assign p8 = {PW{1'b0}};
                end
                // ---- low-bit path
                wire signed [PW-1:0] pl;
                if (PE_TYPE == 1) begin : shift_pe
                    // stage 1: each term's exponent, selected by its index (static wiring:
                    // entry 0 is "term off")
                    wire [B1-1:0] i1n = wgt[(o*P_IN + i)*8 + B2 +: B1];
                    wire [(1<<B1)*3-1:0] e1_of;
                    assign e1_of[2:0] = 3'd0;
                    for (j = 1; j < (1 << B1); j = j + 1) begin : e1w
                        assign e1_of[j*3 +: 3] = exps[(j-1)*3 +: 3];
                    end
                    reg [2:0] e1s, e2s;
                    reg on1, on2;
                    always @(posedge clk) if (in_valid) begin
                        e1s <= e1_of[i1n*3 +: 3];
                        on1 <= i1n != 0;
                    end
                    if (B2 > 0) begin : second
                        wire [B2-1:0] i2n = wgt[(o*P_IN + i)*8 +: B2];
                        wire [(1<<B2)*3-1:0] e2_of;
                        assign e2_of[2:0] = 3'd0;
                        for (j = 1; j < (1 << B2); j = j + 1) begin : e2w
                            assign e2_of[j*3 +: 3] = exps[(NLEV/2 + j - 1)*3 +: 3];
                        end
                        always @(posedge clk) if (in_valid) begin
                            e2s <= e2_of[i2n*3 +: 3];
                            on2 <= i2n != 0;
                        end
                    end else begin : single
                        always @(posedge clk) if (in_valid) begin
                            e2s <= 3'd0;
                            on2 <= 1'b0;
                        end
                    end
                    // stage 2: the terms x << e (8-way muxes), stage 3: sum and sign
                    wire signed [PWL-1:0] xe = {{(PWL-AW){x1[AW-1]}}, x1};
                    reg signed [PWL-1:0] t1, t2;
                    always @(posedge clk) if (v1) begin
                        t1 <= on1 ? shl(xe, e1s) : {PWL{1'b0}};
                        t2 <= on2 ? shl(xe, e2s) : {PWL{1'b0}};
                    end
                    reg signed [PWL-1:0] q3;
                    always @(posedge clk) if (v2) q3 <= t1 + t2;
                    assign pl = {{(PW-PWL){q3[PWL-1]}}, q3};
                end else if (PE_TYPE == 2) begin : plut_pe
                    reg signed [PWL-1:0] q3;
                    always @(posedge clk) if (v2) q3 <= colv[mag2*PWL +: PWL];
                    assign pl = {{(PW-PWL){q3[PWL-1]}}, q3};
                end else if (PE_TYPE == 3) begin : lutram_pe
                    reg [TBW-1:0] tab [0:(1<<(MB+ABITS))-1];
                    always @(posedge clk) begin
                        if (tab_we) tab[tab_addr] <= tab_data;
                    end
                    reg signed [TBW-1:0] t2r;
                    always @(posedge clk) if (v1) t2r <= tab[{mag1, idx1[ABITS-1:0]}];
                    reg signed [PWL-1:0] q3;
                    always @(posedge clk) if (v2) q3 <= {t2r[TBW-1], t2r};
                    assign pl = {{(PW-PWL){q3[PWL-1]}}, q3};
                end else begin : none
                    assign pl = {PW{1'b0}};
                end
                // stage 3 output: the product of this PE, and (low-bit PEs) whether stage 4
                // negates it: the weight code's sign
                reg sgn3;
                always @(posedge clk) if (v2) sgn3 <= sgn2;
                if (HAS8 != 0 && LOWBIT != 0) begin : mixed
                    reg mode3;
                    always @(posedge clk) if (v2) mode3 <= mode2;
                    assign prod[(o*P_IN + i)*PW +: PW] = mode3 ? p8 : pl;
                    assign neg[o*P_IN + i] = !mode3 && sgn3;
                end else if (HAS8 != 0) begin : only8
                    assign prod[(o*P_IN + i)*PW +: PW] = p8;
                    assign neg[o*P_IN + i] = 1'b0;
                end else begin : onlylow
                    assign prod[(o*P_IN + i)*PW +: PW] = pl;
                    assign neg[o*P_IN + i] = sgn3;
                end
            end
        end

        /* verilator lint_on UNUSEDSIGNAL */
        // adder trees, one per output channel (all in step: the first one's valid)
        wire [P_OUT-1:0] tv;
        assign out_valid = tv[0];
        assign tree_valid_unused = &tv;
        for (o = 0; o < P_OUT; o = o + 1) begin : tree
            wire [TW-1:0] s;
            pf_addtree #(.N(P_IN), .W(PW), .LEVELS_PER_STAGE(TREE_LPS),
                         .SPLIT_LAST(TREE_SPLIT), .STRIDE(PS)) add (
                .clk(clk), .rst(rst), .in_valid(v4), .in(prod4[o*P_IN*PS +: P_IN*PS]),
                .out_valid(tv[o]), .sum(s)
            );
            assign sums[o*SUM_W +: SUM_W] = {{(SUM_W-TW){s[TW-1]}}, s};
        end
    endgenerate
endmodule

`default_nettype wire
