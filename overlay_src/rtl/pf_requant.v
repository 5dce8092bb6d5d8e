// plutflow requantization unit (docs/spec.md section 2, "unified scale factor").
//
//   t = (acc << f) + bias                 32-bit, the quantizer guarantees no overflow
//   p = t * M0                            signed x unsigned 16-bit, exact (48 bits)
//   r = (p + (n > 0 ? 2^(n-1) : 0)) >>> n  round half toward +infinity
//   y = clamp(r + zp, lo, hi)
//
// Four pipeline stages; `en` stalls every stage (for backpressure). Parameters set the
// code width of the output (y is sign-extended to OUT_W bits).
`default_nettype none

module pf_requant #(
    parameter integer ACC_W = 32,
    parameter integer MULT_W = 16,
    parameter integer OUT_W = 9
) (
    input  wire                     clk,
    input  wire                     rst,
    input  wire                     en,
    input  wire                     in_valid,
    input  wire signed [ACC_W-1:0]  acc,
    input  wire        [4:0]        bias_shift,
    input  wire signed [31:0]       bias,
    input  wire        [MULT_W-1:0] mult,
    input  wire        [5:0]        shift,
    input  wire signed [OUT_W-1:0]  zero_point,
    input  wire signed [OUT_W-1:0]  lo,
    input  wire signed [OUT_W-1:0]  hi,
    output reg                      out_valid,
    output reg  signed [OUT_W-1:0]  y
);
    localparam integer P_W = 32 + MULT_W + 1;

    // stage 1: bias
    reg signed [31:0] t1;
    reg [MULT_W-1:0] m1;
    reg [5:0] n1;
    reg signed [OUT_W-1:0] zp1, lo1, hi1;
    reg v1;
    // stage 2: multiply
    reg signed [P_W-1:0] p2;
    reg [5:0] n2;
    reg signed [OUT_W-1:0] zp2, lo2, hi2;
    reg v2;
    // stage 3: rounding shift
    reg signed [P_W-1:0] r3;
    reg signed [OUT_W-1:0] zp3, lo3, hi3;
    reg v3;

    wire signed [31:0] acc32 = acc;
    wire signed [P_W-1:0] half2 = (n2 == 6'd0) ? {P_W{1'b0}}
                                               : ({{(P_W-1){1'b0}}, 1'b1} <<< (n2 - 6'd1));
    wire signed [P_W-1:0] sum3 = r3 + {{(P_W-OUT_W){zp3[OUT_W-1]}}, zp3};
    wire signed [P_W-1:0] lo_ext = {{(P_W-OUT_W){lo3[OUT_W-1]}}, lo3};
    wire signed [P_W-1:0] hi_ext = {{(P_W-OUT_W){hi3[OUT_W-1]}}, hi3};

    always @(posedge clk) begin
        if (rst) begin
            v1 <= 1'b0;
            v2 <= 1'b0;
            v3 <= 1'b0;
            out_valid <= 1'b0;
        end else if (en) begin
            t1 <= (acc32 <<< bias_shift) + bias;
            m1 <= mult;
            n1 <= shift;
            zp1 <= zero_point;
            lo1 <= lo;
            hi1 <= hi;
            v1 <= in_valid;

            p2 <= $signed({{(P_W-32){t1[31]}}, t1}) * $signed({1'b0, m1});
            n2 <= n1;
            zp2 <= zp1;
            lo2 <= lo1;
            hi2 <= hi1;
            v2 <= v1;

            r3 <= (p2 + half2) >>> n2;
            zp3 <= zp2;
            lo3 <= lo2;
            hi3 <= hi2;
            v3 <= v2;

            if (sum3 < lo_ext) y <= lo3;
            else if (sum3 > hi_ext) y <= hi3;
            else y <= sum3[OUT_W-1:0];
            out_valid <= v3;
        end
    end
endmodule

`default_nettype wire
