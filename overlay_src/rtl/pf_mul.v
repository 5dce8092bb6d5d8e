// plutflow pipelined unsigned multiplier: p = a * b, three register stages (inputs,
// product, output) so that synthesis maps it onto one DSP48E2 with its A/B, M and P
// registers. Used by the loader for the per-tile sizes, extents and sequencer strides.
// The input registers have a synchronous reset, so that synthesis keeps them as
// registers (the DSP's A/B registers) rather than folding them into a shift register.
`default_nettype none

module pf_mul #(
    parameter integer AW = 24,
    parameter integer BW = 16
) (
    input  wire             clk,
    input  wire             rst,
    input  wire [AW-1:0]    a,
    input  wire [BW-1:0]    b,
    output reg  [AW+BW-1:0] p
);
    generate
        if (AW > 26 || BW > 17) begin : too_wide
            $error("pf_mul: at most 26 x 17 bits (one DSP48E2)");
        end
    endgenerate

    reg [AW-1:0] a_r;
    reg [BW-1:0] b_r;
    reg [AW+BW-1:0] m_r;
    always @(posedge clk) begin
        if (rst) begin
            a_r <= {AW{1'b0}};
            b_r <= {BW{1'b0}};
        end else begin
            a_r <= a;
            b_r <= b;
        end
        m_r <= a_r * b_r;
        p <= m_r;
    end
endmodule

`default_nettype wire
