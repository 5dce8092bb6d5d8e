// plutflow sequencer: the loop nest of one tile (docs/spec.md 9.3), one step per cycle.
//
//   for oy < OH, ox < OW, g < OMG, ky < KH, kx < KW, cg < CGN:   (CGN = ICG for CONV, else 1)
//     a_addr = (oy*SH + ky*DH)*RS + (ox*SW + kx*DW)*ICG + (CONV ? cg : g)
//     w_addr = the step's index within the output pixel (tiles are stored in this order)
//     b_addr = the group's index in the tile (or g for a broadcast operand B)
//
// Addresses are kept as running sums (no multiplier on the path): each loop level owns a
// base register; a step adds one precomputed stride (RS*SH, ICG*SW, RS*DH, ICG*DW from the
// loader) to the base of the level that advances and resets the levels below it. `hold`
// stops the issue of a group's last step (the output credit); other steps always issue.
`default_nettype none

module pf_seq (
    input  wire        clk,
    input  wire        rst,
    input  wire        start,      // pulse: a tile with the fields below begins
    input  wire        conv,       // CONV: the innermost loop runs over ICG input groups
    input  wire        bcast,      // operand B is per channel group
    input  wire [15:0] icg,
    input  wire [15:0] omg,
    input  wire [15:0] oh,
    input  wire [15:0] ow,
    input  wire [7:0]  kh,
    input  wire [7:0]  kw,
    input  wire [23:0] sh_rs,      // SH * RS
    input  wire [23:0] dh_rs,      // DH * RS
    input  wire [23:0] sw_ps,      // SW * ICG
    input  wire [23:0] dw_ps,      // DW * ICG
    input  wire        hold,
    output wire        busy,
    output reg         s_valid,
    output reg  [23:0] s_a_addr,
    output reg  [23:0] s_b_addr,
    output reg  [15:0] s_w_addr,
    output reg  [15:0] s_g,
    output reg  [23:0] s_grp,      // index of the step's output group in the tile
    output reg         s_first,    // first step of an output group
    output reg         s_last,     // last step of an output group
    output reg         s_end       // last step of the tile
);
    reg run;
    reg [15:0] oy, ox, g, cg, cgn;
    reg [7:0] ky, kx;
    reg [23:0] a_row, a_pix, a_grp, a_tapy, a_tap, a_cur;
    reg [23:0] b_cur, grp;
    reg [15:0] w_cur;
    reg vec;

    wire l_cg = cg == cgn - 16'd1;
    wire l_kx = kx == kw - 8'd1;
    wire l_ky = ky == kh - 8'd1;
    wire l_g = g == omg - 16'd1;
    wire l_ox = ox == ow - 16'd1;
    wire l_oy = oy == oh - 16'd1;
    wire grp_last = l_cg && l_kx && l_ky;
    wire issue = run && !(hold && grp_last);
    assign busy = run;

    // the new base of each level (one adder each) and the level that advances
    wire [23:0] n_kx = a_tap + dw_ps;
    wire [23:0] n_ky = a_tapy + dh_rs;
    wire [23:0] n_g = a_grp + {23'd0, vec};
    wire [23:0] n_ox = a_pix + sw_ps;
    wire [23:0] n_oy = a_row + sh_rs;

    always @(posedge clk) begin
        if (rst) begin
            run <= 1'b0;
            s_valid <= 1'b0;
        end else begin
            s_valid <= issue;
            if (start) begin
                run <= 1'b1;
                vec <= !conv;
                cgn <= conv ? icg : 16'd1;
                oy <= 16'd0;
                ox <= 16'd0;
                g <= 16'd0;
                ky <= 8'd0;
                kx <= 8'd0;
                cg <= 16'd0;
                a_row <= 24'd0;
                a_pix <= 24'd0;
                a_grp <= 24'd0;
                a_tapy <= 24'd0;
                a_tap <= 24'd0;
                a_cur <= 24'd0;
                b_cur <= 24'd0;
                w_cur <= 16'd0;
                grp <= 24'd0;
            end else if (issue) begin
                s_a_addr <= a_cur;
                s_b_addr <= b_cur;
                s_w_addr <= w_cur;
                s_g <= g;
                s_grp <= grp;
                s_first <= cg == 16'd0 && kx == 8'd0 && ky == 8'd0;
                s_last <= grp_last;
                s_end <= grp_last && l_g && l_ox && l_oy;
                w_cur <= w_cur + 16'd1;
                if (grp_last) grp <= grp + 24'd1;
                if (!l_cg) begin
                    cg <= cg + 16'd1;
                    a_cur <= a_cur + 24'd1;
                end else begin
                    cg <= 16'd0;
                    if (!l_kx) begin
                        kx <= kx + 8'd1;
                        a_tap <= n_kx;
                        a_cur <= n_kx;
                    end else begin
                        kx <= 8'd0;
                        if (!l_ky) begin
                            ky <= ky + 8'd1;
                            a_tapy <= n_ky;
                            a_tap <= n_ky;
                            a_cur <= n_ky;
                        end else begin
                            ky <= 8'd0;
                            b_cur <= b_cur + 24'd1;
                            if (!l_g) begin
                                g <= g + 16'd1;
                                a_grp <= n_g;
                                a_tapy <= n_g;
                                a_tap <= n_g;
                                a_cur <= n_g;
                            end else begin
                                g <= 16'd0;
                                w_cur <= 16'd0;
                                if (bcast) b_cur <= 24'd0;
                                if (!l_ox) begin
                                    ox <= ox + 16'd1;
                                    a_pix <= n_ox;
                                    a_grp <= n_ox;
                                    a_tapy <= n_ox;
                                    a_tap <= n_ox;
                                    a_cur <= n_ox;
                                end else begin
                                    ox <= 16'd0;
                                    if (!l_oy) begin
                                        oy <= oy + 16'd1;
                                        a_row <= n_oy;
                                        a_pix <= n_oy;
                                        a_grp <= n_oy;
                                        a_tapy <= n_oy;
                                        a_tap <= n_oy;
                                        a_cur <= n_oy;
                                    end else begin
                                        run <= 1'b0;
                                    end
                                end
                            end
                        end
                    end
                end
            end
        end
    end
endmodule

`default_nettype wire
