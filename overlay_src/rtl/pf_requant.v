// plutflow requantization unit (docs/spec.md section 2, "unified scale factor"), LANES
// lanes in step:
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
// valid beat. Each lane has its own accumulator, bias, multiplier and shift (lane l at
// [l*width +: width]); the valid pipeline, the bias shift, the zero point and the clamp
// bounds are the lanes' common control (their delay lines held once).
`default_nettype none

module pf_requant #(
    parameter integer ACC_W = 32,
    parameter integer MULT_W = 16,
    parameter integer OUT_W = 9,
    parameter integer LANES = 1
) (
    input  wire                         clk,
    input  wire                         rst,
    input  wire                         en,
    input  wire                         in_valid,
    input  wire [LANES*ACC_W-1:0]       acc,
    input  wire [4:0]                   bias_shift,
    input  wire [LANES*32-1:0]          bias,
    input  wire [LANES*MULT_W-1:0]      mult,
    input  wire [LANES*6-1:0]           shift,
    input  wire signed [OUT_W-1:0]      zero_point,
    input  wire signed [OUT_W-1:0]      lo,
    input  wire signed [OUT_W-1:0]      hi,
    output wire                         out_valid,
    output wire [LANES*OUT_W-1:0]       y
);
    localparam integer STAGES = 12;

    generate
        if (ACC_W != 32 || MULT_W != 16 || OUT_W < 9 || OUT_W > 20 || LANES < 1)
        begin : bad_params
            $error("pf_requant: ACC_W 32, MULT_W 16, OUT_W 9..20 and LANES >= 1");
        end
    endgenerate

    // ---- the common control
    reg [STAGES-1:0] v;
    assign out_valid = v[STAGES-1];
    always @(posedge clk) begin
        if (rst) v <= {STAGES{1'b0}};
        else if (en) v <= {v[STAGES-2:0], in_valid};
    end

    // zero point and clamp bounds: delay lines, stage k at [(k-1)*width +: width], that
    // shift with `en` (every stage advances together, so a beat's values stay beside it;
    // no valid gating: no wide enable net)
    reg [9*OUT_W-1:0] zpd;
    reg [10*OUT_W-1:0] lod, hid;
    always @(posedge clk) begin
        if (en) begin
            zpd <= {zpd[8*OUT_W-1:0], zero_point};
            lod <= {lod[9*OUT_W-1:0], lo};
            hid <= {hid[9*OUT_W-1:0], hi};
        end
    end

    // ---- the lanes
    genvar l;
    generate
        for (l = 0; l < LANES; l = l + 1) begin : lane
            // the per-beat parameters travel with the data
            reg signed [31:0] sh1, bias1;
            reg [15:0] m1, m2, m3;
            reg [5:0] n1, n2, n3, n4, n5, n6, n7;

            reg signed [31:0] t2;
            reg [16:0] tlo3;
            reg signed [14:0] thi3;
            reg [32:0] plo4, plo5;
            reg signed [30:0] phi4, phi5;
            reg signed [47:0] p6;
            reg signed [48:0] v7, v8;
            reg signed [20:0] s9, r10;
            reg signed [21:0] s11;
            reg signed [OUT_W-1:0] y12;
            // the last stage of the zero point (10) and bounds (11) in flip-flops (the
            // reset keeps them out of a shift-register LUT, whose clock-to-out is slow)
            reg signed [OUT_W-1:0] zp10, lo11, hi11;
            always @(posedge clk) begin
                if (rst) begin
                    zp10 <= {OUT_W{1'b0}};
                    lo11 <= {OUT_W{1'b0}};
                    hi11 <= {OUT_W{1'b0}};
                end else if (en) begin
                    zp10 <= zpd[8*OUT_W +: OUT_W];
                    lo11 <= lod[9*OUT_W +: OUT_W];
                    hi11 <= hid[9*OUT_W +: OUT_W];
                end
            end
            wire signed [21:0] lo11x = {{(22-OUT_W){lo11[OUT_W-1]}}, lo11};
            wire signed [21:0] hi11x = {{(22-OUT_W){hi11[OUT_W-1]}}, hi11};
            assign y[l*OUT_W +: OUT_W] = y12;

            wire signed [48:0] p6x = {p6, 1'b0};
            wire signed [48:0] v8n = v7 >>> n7[2:0];
            wire over = !v8[48] && |v8[47:20];      // >= 2^20: saturate
            wire under = v8[48] && !(&v8[47:20]);   // < -2^20
            wire signed [20:0] v8s = over ? 21'sh0F_FFFF : under ? -21'sh10_0000 : v8[20:0];
            wire signed [21:0] r10n = {s9[20], s9} + 22'sd1;
            wire signed [21:0] sum11 = {r10[20], r10} + {{(22-OUT_W){zp10[OUT_W-1]}}, zp10};

            always @(posedge clk) begin
                if (en) begin
                    // 1: bias shift
                    if (in_valid) begin
                        sh1 <= acc[l*ACC_W +: ACC_W] << bias_shift;
                        bias1 <= bias[l*32 +: 32];
                        m1 <= mult[l*MULT_W +: MULT_W];
                        n1 <= shift[l*6 +: 6];
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
                        if (s11 < lo11x) y12 <= lo11;
                        else if (s11 > hi11x) y12 <= hi11;
                        else y12 <= s11[OUT_W-1:0];
                    end
                end
            end

            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_ok = &{1'b0, n7[5:3], v8[48:21], p6x[0], r10n[0]};
            /* verilator lint_on UNUSEDSIGNAL */
        end
    endgenerate
endmodule

`default_nettype wire
