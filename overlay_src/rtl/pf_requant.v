// plutflow requantization unit (docs/spec.md section 2, "unified scale factor").
//
//   t = (acc << f) + bias                 32-bit, the quantizer guarantees no overflow
//   p = t * M0                            signed x unsigned 16-bit, exact (48 bits)
//   r = (p + (n > 0 ? 2^(n-1) : 0)) >>> n  round half toward +infinity, as
//       ((p << 1) >>> n + 1) >>> 1         (equal for every n, 0 included)
//   y = clamp(r + zp, lo, hi)
//
// Twelve register stages, each one short step for 250 MHz: the bias shift, the bias add,
// the two DSP48E2 products of the 17-bit halves of t (A/B, M and P registers), their sum,
// the rounding shift in two mux levels, a saturation to 21 bits, the rounding add, the
// zero point, the clamp. `en` stalls every stage; data registers load only with a
// valid beat.
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
    output wire                     out_valid,
    output reg  signed [OUT_W-1:0]  y
);
    localparam integer STAGES = 12;

    generate
        if (ACC_W != 32 || MULT_W != 16 || OUT_W < 9 || OUT_W > 20) begin : bad_params
            $error("pf_requant: ACC_W 32, MULT_W 16 and OUT_W 9..20");
        end
    endgenerate

    reg [STAGES-1:0] v;
    assign out_valid = v[STAGES-1];
    always @(posedge clk) begin
        if (rst) v <= {STAGES{1'b0}};
        else if (en) v <= {v[STAGES-2:0], in_valid};
    end

    // the per-beat parameters travel with the data
    reg signed [31:0] bias1;
    reg [15:0] m1, m2, m3;
    reg [5:0] n1, n2, n3, n4, n5, n6, n7;
    reg signed [OUT_W-1:0] zp [1:11];
    reg signed [OUT_W-1:0] lo_q [1:12];
    reg signed [OUT_W-1:0] hi_q [1:12];

    reg signed [31:0] sh1, t2;
    reg [16:0] tlo3;
    reg signed [14:0] thi3;
    reg [32:0] plo4, plo5;
    reg signed [30:0] phi4, phi5;
    reg signed [47:0] p6;
    reg signed [48:0] v7, v8;
    reg signed [20:0] s9, r10;
    reg signed [21:0] s11;

    wire signed [48:0] p6x = {p6, 1'b0};
    wire signed [48:0] v8n = v7 >>> n7[2:0];
    wire over = !v8[48] && |v8[47:20];      // >= 2^20: saturate
    wire under = v8[48] && !(&v8[47:20]);   // < -2^20
    wire signed [20:0] v8s = over ? 21'sh0F_FFFF : under ? -21'sh10_0000 : v8[20:0];
    wire signed [21:0] r10n = {s9[20], s9} + 22'sd1;
    wire signed [21:0] sum11 = {r10[20], r10} + {{(22-OUT_W){zp[10][OUT_W-1]}}, zp[10]};

    integer k;
    always @(posedge clk) begin
        if (en) begin
            // (the delay lines move with their beat, like the data stages)
            for (k = 11; k > 1; k = k - 1) if (v[k-2]) zp[k] <= zp[k-1];
            for (k = 12; k > 1; k = k - 1) begin
                if (v[k-2]) begin
                    lo_q[k] <= lo_q[k-1];
                    hi_q[k] <= hi_q[k-1];
                end
            end
            if (in_valid) begin
                zp[1] <= zero_point;
                lo_q[1] <= lo;
                hi_q[1] <= hi;
            end
            // 1: bias shift
            if (in_valid) begin
                sh1 <= acc <<< bias_shift;
                bias1 <= bias;
                m1 <= mult;
                n1 <= shift;
            end
            // 2: bias
            if (v[0]) begin
                t2 <= sh1 + bias1;
                m2 <= m1;
                n2 <= n1;
            end
            // 3: the halves of t into the DSP input registers
            if (v[1]) begin
                tlo3 <= t2[16:0];
                thi3 <= t2[31:17];
                m3 <= m2;
                n3 <= n2;
            end
            // 4, 5: the two products (DSP M and P registers)
            if (v[2]) begin
                plo4 <= tlo3 * m3;
                phi4 <= thi3 * $signed({1'b0, m3});
                n4 <= n3;
            end
            if (v[3]) begin
                plo5 <= plo4;
                phi5 <= phi4;
                n5 <= n4;
            end
            // 6: p = t * M0
            if (v[4]) begin
                p6 <= ($signed({{17{phi5[30]}}, phi5}) <<< 17) + $signed({15'd0, plo5});
                n6 <= n5;
            end
            // 7, 8: (p << 1) >>> n, by 8s then by the rest
            if (v[5]) begin
                v7 <= p6x >>> {n6[5:3], 3'b000};
                n7 <= n6;
            end
            if (v[6]) v8 <= v8n;
            // 9: saturate (the clamp below keeps the result); 10: round
            if (v[7]) s9 <= v8s;
            if (v[8]) r10 <= r10n[21:1];
            // 11: zero point
            if (v[9]) s11 <= sum11;
            // 12: clamp
            if (v[10]) begin
                if (s11 < $signed({{(22-OUT_W){lo_q[11][OUT_W-1]}}, lo_q[11]})) y <= lo_q[11];
                else if (s11 > $signed({{(22-OUT_W){hi_q[11][OUT_W-1]}}, hi_q[11]})) y <= hi_q[11];
                else y <= s11[OUT_W-1:0];
            end
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, n7[5:3], lo_q[12], hi_q[12], zp[11], v8[48:21], p6x[0], r10n[0]};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
