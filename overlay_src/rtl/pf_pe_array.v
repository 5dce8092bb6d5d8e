// plutflow PE array: P_OUT output channels x P_IN input channels of multiply-accumulate
// per cycle, in one of three PE types (docs/rtl.md):
//
//   PE_TYPE 0 (int8)  : DSP/LUT multipliers, weights are WBITS-bit two's complement values
//   PE_TYPE 1 (shift) : weights are sign-magnitude shift codes (spec 6.2): sign | i1 | i2;
//                       each product is +-((x << e1[i1]) + (x << e2[i2]))
//   PE_TYPE 2 (plut)  : weights are sign-magnitude codes into LEVELS magnitudes (spec 6.1/6.3);
//                       each activation's products with every level are formed once per
//                       row (the row's product table) and every PE only selects by its code
//                       and adds or subtracts: lookup and addition, no per-PE multiplier.
//   PE_TYPE 3 (plut-lutram): every PE holds the layer's product table
//                       T[magnitude][activation index] in LUT RAM (written through the
//                       tab_* port) and reads T[w & mag_mask][act]; act carries the ABITS-bit
//                       activation index (code - qmin). One LUT RAM bit per table bit column.
//
// out[o] = sum_i act[i] * w(o, i), registered after an adder tree (latency 2 cycles).
`default_nettype none

module pf_pe_array #(
    parameter integer PE_TYPE = 0,
    parameter integer P_IN = 4,
    parameter integer P_OUT = 4,
    parameter integer AW = 9,        // activation width (signed; holds int8 and uint8 codes)
    parameter integer WBITS = 8,     // weight value / code width
    parameter integer B2 = 1,        // shift: magnitude bits of the second term
    parameter integer LW = 8,        // plut: level width (unsigned magnitudes)
    parameter integer ABITS = 4,     // plut-lutram: activation index width
    parameter integer TBW = 14,      // plut-lutram: table entry width (signed)
    parameter integer SUM_W = 24
) (
    input  wire                          clk,
    input  wire                          rst,
    input  wire                          en,
    input  wire                          in_valid,
    input  wire [P_IN*AW-1:0]            act,
    input  wire [P_OUT*P_IN*WBITS-1:0]   wgt,       // w(o, i) at [(o*P_IN + i)*WBITS +: WBITS]
    input  wire [(1<<(WBITS-1))*3-1:0]   exps,      // shift: e1 list then e2 list (3 bits each)
    input  wire [(1<<(WBITS-1))*LW-1:0]  levels,    // plut: level j at [j*LW +: LW]
    input  wire                          tab_we,    // plut-lutram: table write port
    input  wire [WBITS-1+ABITS-1:0]      tab_addr,  // {magnitude, activation index}
    input  wire [TBW-1:0]                tab_data,
    output reg                           out_valid,
    output reg  [P_OUT*SUM_W-1:0]        sums
);
    localparam integer MB = WBITS - 1;          // magnitude bits
    localparam integer NLEV = 1 << MB;          // magnitude codes
    localparam integer B1 = MB - B2;
    // natural product widths: x * w, x << 7 + x << 7, x * level (plus a sign bit)
    localparam integer PW = (PE_TYPE == 0) ? AW + WBITS
                          : (PE_TYPE == 1) ? AW + 9
                          : (PE_TYPE == 2) ? AW + LW + 1
                          : TBW + 1;
    localparam integer TW = PW + $clog2(P_IN) + 1;   // adder tree width

    // configuration inputs of the other PE types are unused
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, exps, levels, tab_we, tab_addr, tab_data, act};
    /* verilator lint_on UNUSEDSIGNAL */

    // ---------------------------------------------------------------- products
    wire signed [PW-1:0] prod [0:P_OUT*P_IN-1];

    genvar o, i, j;
    generate
        for (i = 0; i < P_IN; i = i + 1) begin : row
            /* verilator lint_off UNUSEDSIGNAL */  // plut-lutram reads only the index bits
            wire signed [AW-1:0] x = act[i*AW +: AW];
            /* verilator lint_on UNUSEDSIGNAL */
            if (PE_TYPE == 2) begin : plut_row
                // this activation's products with every level, shared by the P_OUT PEs
                wire signed [PW-1:0] table_col [0:NLEV-1];
                for (j = 0; j < NLEV; j = j + 1) begin : lev
                    assign table_col[j] = x * $signed({1'b0, levels[j*LW +: LW]});
                end
            end
            for (o = 0; o < P_OUT; o = o + 1) begin : pe
                wire [WBITS-1:0] w = wgt[(o*P_IN + i)*WBITS +: WBITS];
                if (PE_TYPE == 0) begin : int8_pe
                    assign prod[o*P_IN + i] = x * $signed(w);
                end else if (PE_TYPE == 1) begin : shift_pe
                    wire [MB-1:0] mag = w[MB-1:0];
                    wire [B1-1:0] i1 = mag[MB-1 -: B1];
                    wire [2:0] e1 = (i1 == 0) ? 3'd0 : exps[(i1-1)*3 +: 3];
                    wire signed [PW-1:0] xe = {{(PW-AW){x[AW-1]}}, x};
                    wire signed [PW-1:0] t1 = (i1 == 0) ? {PW{1'b0}} : (xe <<< e1);
                    wire signed [PW-1:0] t2;
                    if (B2 > 0) begin : second
                        wire [B2-1:0] i2 = mag[B2-1:0];
                        wire [2:0] e2 = (i2 == 0) ? 3'd0
                                                  : exps[(NLEV/2 + {{(32-B2){1'b0}}, i2} - 1)*3 +: 3];
                        assign t2 = (i2 == 0) ? {PW{1'b0}} : (xe <<< e2);
                    end else begin : single
                        assign t2 = {PW{1'b0}};
                    end
                    wire signed [PW-1:0] m = t1 + t2;
                    assign prod[o*P_IN + i] = w[MB] ? -m : m;
                end else if (PE_TYPE == 2) begin : plut_pe
                    wire signed [PW-1:0] sel = plut_row.table_col[w[MB-1:0]];
                    assign prod[o*P_IN + i] = w[MB] ? -sel : sel;
                end else begin : lutram_pe
                    reg [TBW-1:0] tab [0:(1<<(MB+ABITS))-1];
                    always @(posedge clk) begin
                        if (tab_we) tab[tab_addr] <= tab_data;
                    end
                    wire [ABITS-1:0] a_idx = x[ABITS-1:0];
                    wire signed [TBW-1:0] t = tab[{w[MB-1:0], a_idx}];
                    wire signed [PW-1:0] te = {t[TBW-1], t};
                    assign prod[o*P_IN + i] = w[MB] ? -te : te;
                end
            end
        end
    endgenerate

    // ---------------------------------------------------------------- adder trees
    reg signed [PW-1:0] stage [0:P_OUT*P_IN-1];
    reg v1;
    integer k;
    always @(posedge clk) begin
        if (rst) begin
            v1 <= 1'b0;
            out_valid <= 1'b0;
        end else if (en) begin
            for (k = 0; k < P_OUT*P_IN; k = k + 1)
                stage[k] <= prod[k];
            v1 <= in_valid;
            out_valid <= v1;
        end
    end

    generate
        for (o = 0; o < P_OUT; o = o + 1) begin : tree
            reg signed [TW-1:0] acc;
            integer n;
            always @(*) begin
                acc = {TW{1'b0}};
                for (n = 0; n < P_IN; n = n + 1)
                    acc = acc + {{(TW-PW){stage[o*P_IN + n][PW-1]}}, stage[o*P_IN + n]};
            end
            always @(posedge clk) begin
                if (en) sums[o*SUM_W +: SUM_W] <= {{(SUM_W-TW){acc[TW-1]}}, acc};
            end
        end
    endgenerate
endmodule

`default_nettype wire
