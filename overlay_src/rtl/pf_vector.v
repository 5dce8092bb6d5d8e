// plutflow vector lanes: the per-channel kinds of docs/spec.md 9.3, P lanes per cycle.
//
//   DW      acc += a * w                      (w: the lane's int16 depthwise weight)
//   MAXPOOL acc  = max(acc, a)
//   SUMPOOL acc += a - za
//   ADD     v    = (a - za) * mult_a + (b - zb) * mult_b
//   MUL     v    = (a - za) * (b - zb)
//   COPY    v    = a - za
//
// The first step of an output group starts the accumulation, its last step emits it.
// Four stages: operands (DSP input registers), products (M), terms (P), accumulation.
`default_nettype none
`include "pf_contract.vh"

module pf_vector #(
    parameter integer P = 16
) (
    input  wire            clk,
    input  wire            rst,
    input  wire            in_valid,
    input  wire [3:0]      kind,
    input  wire            first,
    input  wire            last,
    input  wire [P*9-1:0]  a,        // signed 9-bit codes
    input  wire [P*9-1:0]  b,
    input  wire [P*16-1:0] w,
    input  wire [8:0]      za,
    input  wire [8:0]      zb,
    input  wire [15:0]     mult_a,
    input  wire [15:0]     mult_b,
    output reg             out_valid,
    output wire [P*32-1:0] acc
);
    reg v1, v2, v3;
    reg f1, f2, f3, l1, l2, l3;
    always @(posedge clk) begin
        if (rst) begin
            {v1, v2, v3, out_valid} <= 4'd0;
        end else begin
            v1 <= in_valid;
            v2 <= v1;
            v3 <= v2;
            out_valid <= v3 && l3;
        end
        if (in_valid) {f1, l1} <= {first, last};
        if (v1) {f2, l2} <= {f1, l1};
        if (v2) {f3, l3} <= {f2, l2};
    end

    // the tile's kind, decoded into registers: the kind is stable while a tile runs and set
    // cycles before its first beat, and the operand registers' resets (272 of them at
    // P = 16) then hang off two registers instead of the descriptor's decode
    reg is_dw, is_add, is_max, mult_op;
    always @(posedge clk) begin
        is_dw <= kind == `PF_K_DW;
        is_add <= kind == `PF_K_ADD;
        is_max <= kind == `PF_K_MAXPOOL;
        mult_op <= kind == `PF_K_DW || kind == `PF_K_ADD || kind == `PF_K_MUL;
    end

    genvar l;
    generate
        for (l = 0; l < P; l = l + 1) begin : lane
            wire signed [8:0] al = a[l*9 +: 9];
            wire signed [8:0] bl = b[l*9 +: 9];
            wire signed [9:0] da = al - $signed(za);
            wire signed [9:0] db = bl - $signed(zb);
            // 1: operands
            reg signed [9:0] x1, x2, d1;
            reg signed [16:0] y1, y2;
            always @(posedge clk) if (in_valid) begin
                x1 <= is_dw ? {al[8], al} : da;
                y1 <= is_dw ? {w[l*16 + 15], w[l*16 +: 16]}
                    : is_add ? $signed({1'b0, mult_a})
                    : {{7{db[9]}}, db};
                x2 <= db;
                y2 <= is_add ? $signed({1'b0, mult_b}) : 17'sd0;
                d1 <= is_max ? {al[8], al} : da;
            end
            // 2: products
            reg signed [26:0] m1, m2;
            reg signed [9:0] d2;
            always @(posedge clk) if (v1) begin
                m1 <= x1 * y1;
                m2 <= x2 * y2;
                d2 <= d1;
            end
            // 3: the term
            reg signed [31:0] t3;
            always @(posedge clk) if (v2) begin
                if (mult_op) t3 <= {{5{m1[26]}}, m1} + {{5{m2[26]}}, m2};
                else t3 <= {{22{d2[9]}}, d2};
            end
            // 4: accumulate over the group's steps
            reg signed [31:0] s4;
            always @(posedge clk) if (v3) begin
                if (f3) s4 <= t3;
                else if (is_max) s4 <= t3 > s4 ? t3 : s4;
                else s4 <= s4 + t3;
            end
            assign acc[l*32 +: 32] = s4;
        end
    endgenerate
endmodule

`default_nettype wire
