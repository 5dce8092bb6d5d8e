// plutflow sequencer: the loop nest of one tile (docs/spec.md 9.3), one step per cycle.
//
//   for oy < OH, ox < OW, g < OMG, ky < KH, kx < KW, cg < CGN:   (CGN = ICG for CONV, else 1)
//     a_addr = (oy*SH + ky*DH)*RS + (ox*SW + kx*DW)*ICG + (CONV ? cg : g)
//     w_addr = the step's index within the output pixel (tiles are stored in this order)
//     b_addr = the group's index in the tile (or g for a broadcast operand B)
//
// Built for 250 MHz: no multiplier and no wide compare on the step path. Each loop level
// owns a base address register; a step adds one precomputed stride (RS*SH, ICG*SW, RS*DH,
// ICG*DW from the loader) to the base of the level that advances and resets the levels
// below. Each loop counter counts down, and whether it is at its last value is a register
// computed one step ahead. `hold` (registered by the caller) stops the issue of a group's
// last step (the output credit); other steps always issue.
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
    // ------------------------------------------------------------------ tile constants
    reg run, vec, bc;
    reg [15:0] n_cg, n_g, n_ox, n_oy;         // loop lengths minus one
    reg [7:0] n_kx, n_ky;
    reg [23:0] st_oy, st_ky, st_ox, st_kx;
    reg setup;                                 // the cycle after start: constants settle


    // ------------------------------------------------------------------ loop state
    // level k (0 cg, 1 kx, 2 ky, 3 g, 4 ox, 5 oy) counts down c[k]; z[k]: it is at its last
    // iteration; adv (one-hot, 6 = the tile's last step): the level the current step
    // advances, computed one step ahead so every update below is a one-hot select
    reg [15:0] c_cg, c_g, c_ox, c_oy;
    reg [7:0] c_kx, c_ky;
    reg [5:0] z;
    reg [6:0] adv;
    reg ge3, ge4, any;             // adv >= group end, >= new pixel, adv != 0 (registered)
    reg [5:0] one;
    reg [23:0] a_row, a_pix, a_grp, a_tapy, a_tap, a_cur;
    reg [23:0] b_cur, grp;
    reg [15:0] w_cur, g_cur;
    reg first;

    wire grp_last = ge3;
    wire issue = run && any && !(hold && grp_last);
    assign busy = run;

    // the next base of each level: one adder each, from registers
    wire [23:0] n_kx_a = a_tap + st_kx;
    wire [23:0] n_ky_a = a_tapy + st_ky;
    wire [23:0] n_g_a = a_grp + {23'd0, vec};
    wire [23:0] n_ox_a = a_pix + st_ox;
    wire [23:0] n_oy_a = a_row + st_oy;

    // the last-iteration flags after this step, and the level the next step advances
    wire [5:0] at_one = {c_oy == 16'd1, c_ox == 16'd1, c_g == 16'd1, c_ky == 8'd1,
                         c_kx == 8'd1, c_cg == 16'd1};
    wire [6:0] above = {adv[6], |adv[6:6], |adv[6:5], |adv[6:4], |adv[6:3], |adv[6:2],
                        |adv[6:1]};  // above[k]: a level above k advances
    reg [5:0] z_next;
    reg [6:0] adv_next;
    integer k;
    always @(*) begin
        for (k = 0; k < 6; k = k + 1)
            z_next[k] = adv[k] ? at_one[k] : above[k] ? one[k] : z[k];
        adv_next = 7'b1000000;
        for (k = 5; k >= 0; k = k - 1)
            if (!z_next[k]) adv_next = 7'd1 << k;
    end
    reg [6:0] adv_first;
    always @(*) begin
        adv_first = 7'b1000000;
        for (k = 5; k >= 0; k = k - 1)
            if (!one[k]) adv_first = 7'd1 << k;
    end

    always @(posedge clk) begin
        if (rst) begin
            run <= 1'b0;
            s_valid <= 1'b0;
            setup <= 1'b0;
        end else begin
            s_valid <= issue;
            setup <= start;
            if (start) begin
                run <= 1'b1;
                vec <= !conv;
                bc <= bcast;
                n_cg <= conv ? icg - 16'd1 : 16'd0;
                n_kx <= kw - 8'd1;
                n_ky <= kh - 8'd1;
                n_g <= omg - 16'd1;
                n_ox <= ow - 16'd1;
                n_oy <= oh - 16'd1;
                st_oy <= sh_rs;
                st_ky <= dh_rs;
                st_ox <= sw_ps;
                st_kx <= dw_ps;
                a_row <= 24'd0;
                a_pix <= 24'd0;
                a_grp <= 24'd0;
                a_tapy <= 24'd0;
                a_tap <= 24'd0;
                a_cur <= 24'd0;
                b_cur <= 24'd0;
                w_cur <= 16'd0;
                g_cur <= 16'd0;
                grp <= 24'd0;
                first <= 1'b1;
                adv <= 7'd0;
                {ge3, ge4, any} <= 3'b000;
            end else if (setup) begin
                one <= {n_oy == 16'd0, n_ox == 16'd0, n_g == 16'd0, n_ky == 8'd0,
                        n_kx == 8'd0, n_cg == 16'd0};
                {c_cg, c_kx, c_ky, c_g, c_ox, c_oy} <= {n_cg, n_kx, n_ky, n_g, n_ox, n_oy};
            end else if (issue) begin
                s_a_addr <= a_cur;
                s_b_addr <= b_cur;
                s_w_addr <= w_cur;
                s_g <= g_cur;
                s_grp <= grp;
                s_first <= first;
                s_last <= grp_last;
                s_end <= adv[6];
                first <= grp_last;
                z <= z_next;
                adv <= adv_next;
                ge3 <= |adv_next[6:3];
                ge4 <= |adv_next[6:4];
                any <= 1'b1;
                if (adv[6]) run <= 1'b0;
                // counters: the advancing level counts down, the ones below reload
                c_cg <= adv[0] ? c_cg - 16'd1 : n_cg;
                if (|adv[6:1]) c_kx <= adv[1] ? c_kx - 8'd1 : n_kx;
                if (|adv[6:2]) c_ky <= adv[2] ? c_ky - 8'd1 : n_ky;
                if (|adv[6:3]) c_g <= adv[3] ? c_g - 16'd1 : n_g;
                if (|adv[6:4]) c_ox <= adv[4] ? c_ox - 16'd1 : n_ox;
                if (adv[5]) c_oy <= c_oy - 16'd1;
                // addresses: the advancing level's base moves, the bases below follow
                a_cur <= adv[0] ? a_cur + 24'd1 : adv[1] ? n_kx_a : adv[2] ? n_ky_a
                       : adv[3] ? n_g_a : adv[4] ? n_ox_a : n_oy_a;
                if (|adv[5:1]) a_tap <= adv[1] ? n_kx_a : adv[2] ? n_ky_a : adv[3] ? n_g_a
                                      : adv[4] ? n_ox_a : n_oy_a;
                if (|adv[5:2]) a_tapy <= adv[2] ? n_ky_a : adv[3] ? n_g_a : adv[4] ? n_ox_a
                                       : n_oy_a;
                if (|adv[5:3]) a_grp <= adv[3] ? n_g_a : adv[4] ? n_ox_a : n_oy_a;
                if (|adv[5:4]) a_pix <= adv[4] ? n_ox_a : n_oy_a;
                if (adv[5]) a_row <= n_oy_a;
                // weights: per output pixel; group index; operand B
                w_cur <= ge4 ? 16'd0 : w_cur + 16'd1;
                if (grp_last) begin
                    grp <= grp + 24'd1;
                    g_cur <= ge4 ? 16'd0 : g_cur + 16'd1;
                    b_cur <= (bc && ge4) ? 24'd0 : b_cur + 24'd1;
                end
            end else if (run && !any) begin  // after setup: the first step's level
                z <= one;
                adv <= adv_first;
                ge3 <= |adv_first[6:3];
                ge4 <= |adv_first[6:4];
                any <= 1'b1;
            end
        end
    end
endmodule

`default_nettype wire
