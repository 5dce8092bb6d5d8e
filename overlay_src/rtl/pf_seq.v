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
// below (a one-hot AND-OR select, not a priority chain). Each loop counter is kept as
// "iterations left - 2", so its sign says, without a compare, that the level reaches its
// last iteration with this step. Which level the next step advances (one-hot) and which
// levels lie above it (thermometer) are registers computed one step ahead. `hold`
// (registered by the caller) stops the issue of a group's last step (the output credit);
// other steps always issue.
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
    reg run, vec, bc, setup;
    reg [15:0] n_cg, n_g, n_ox, n_oy;          // loop lengths - 1
    reg [7:0] n_kx, n_ky;
    reg [23:0] st_oy, st_ky, st_ox, st_kx;
    reg [16:0] r_cg, r_kx, r_ky, r_g, r_ox, r_oy;  // a level's counter reload: length - 3
    reg [5:0] one;                             // a level has one iteration
    always @(posedge clk) begin
        if (start) begin
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
            r_cg <= conv ? {1'b0, icg} - 17'd3 : 17'h1FFFE;
            r_kx <= {9'd0, kw} - 17'd3;
            r_ky <= {9'd0, kh} - 17'd3;
            r_g <= {1'b0, omg} - 17'd3;
            r_ox <= {1'b0, ow} - 17'd3;
            r_oy <= {1'b0, oh} - 17'd3;
        end
        if (setup) begin
            one <= {n_oy == 16'd0, n_ox == 16'd0, n_g == 16'd0, n_ky == 8'd0, n_kx == 8'd0,
                    n_cg == 16'd0};
        end
    end

    // ------------------------------------------------------------------ loop state
    // level k (0 cg, 1 kx, 2 ky, 3 g, 4 ox, 5 oy): c[k] = iterations left after the
    // current one, - 2 (when the level advances, at least one is left, so a negative c
    // means it reaches its last iteration now); z[k]: the level is at its last iteration;
    // adv (one-hot, 6 = the tile's last step): the level the current step advances;
    // abv[k]: a level above k advances
    reg [16:0] c_cg, c_kx, c_ky, c_g, c_ox, c_oy;
    reg [5:0] z;
    reg [6:0] adv;
    reg [5:0] abv;
    reg any;                       // the first step's level is known
    reg [23:0] a_row, a_pix, a_grp, a_tapy, a_tap, a_cur;
    reg [23:0] b_cur, grp;
    reg [15:0] w_cur, g_cur;
    reg first;
    wire grp_last = abv[2];        // the step ends an output group (a level >= 3 advances)
    wire new_pix = abv[3];         // ... and an output pixel
    wire issue = run && any && !(hold && grp_last);
    assign busy = run;

    // after this step: which levels are at their last iteration, which level advances
    // next. The tile's first step is found the same way: at setup the state says "the
    // tile's last step advanced" (adv[6], every level above), so each level restarts.
    wire [5:0] at_one = {c_oy[16], c_ox[16], c_g[16], c_ky[16], c_kx[16], c_cg[16]};
    reg [5:0] z_next, abv_next;
    reg [6:0] adv_next;
    integer k;
    always @(*) begin
        for (k = 0; k < 6; k = k + 1)
            z_next[k] = adv[k] ? at_one[k] : abv[k] ? one[k] : z[k];
        abv_next[0] = z_next[0];
        abv_next[1] = &z_next[1:0];
        abv_next[2] = &z_next[2:0];
        abv_next[3] = &z_next[3:0];
        abv_next[4] = &z_next[4:0];
        abv_next[5] = &z_next[5:0];
        adv_next = {abv_next[5], abv_next[4:0] & ~z_next[5:1], ~z_next[0]};
    end

    reg srst;                      // the reset (or a stop), registered here
    reg prime;                     // the cycle the first step's level is found
    always @(posedge clk) srst <= rst;
    always @(posedge clk) begin
        if (srst) begin
            run <= 1'b0;
            any <= 1'b0;
            setup <= 1'b0;
            prime <= 1'b0;
            s_valid <= 1'b0;
        end else begin
            setup <= start;
            prime <= setup;
            s_valid <= issue;
            if (start) begin
                run <= 1'b1;
                any <= 1'b0;
            end else if (prime) begin
                any <= 1'b1;
            end else if (issue && adv[6]) begin
                run <= 1'b0;
            end
        end
    end
    always @(posedge clk) begin
        if (setup) begin
            adv <= 7'b1000000;
            abv <= 6'h3F;
        end else if (prime || issue) begin
            z <= z_next;
            adv <= adv_next;
            abv <= abv_next;
        end
    end

    // counters: the advancing level counts down, the levels below reload
    always @(posedge clk) begin
        if (setup) begin
            {c_cg, c_kx, c_ky, c_g, c_ox, c_oy} <= {r_cg, r_kx, r_ky, r_g, r_ox, r_oy};
        end else if (issue) begin
            c_cg <= adv[0] ? c_cg - 17'd1 : r_cg;
            if (!adv[0]) c_kx <= adv[1] ? c_kx - 17'd1 : r_kx;
            if (abv[1]) c_ky <= adv[2] ? c_ky - 17'd1 : r_ky;
            if (abv[2]) c_g <= adv[3] ? c_g - 17'd1 : r_g;
            if (abv[3]) c_ox <= adv[4] ? c_ox - 17'd1 : r_ox;
            if (adv[5]) c_oy <= c_oy - 17'd1;
        end
    end

    // addresses: the advancing level's base moves by its stride, the bases below follow
    wire [23:0] n_kx_a = a_tap + st_kx;
    wire [23:0] n_ky_a = a_tapy + st_ky;
    wire [23:0] n_g_a = a_grp + {23'd0, vec};
    wire [23:0] n_ox_a = a_pix + st_ox;
    wire [23:0] n_oy_a = a_row + st_oy;
    wire [23:0] t1 = {24{adv[1]}} & n_kx_a, t2 = {24{adv[2]}} & n_ky_a;
    wire [23:0] t3 = {24{adv[3]}} & n_g_a, t4 = {24{adv[4]}} & n_ox_a;
    wire [23:0] t5 = {24{adv[5]}} & n_oy_a;
    always @(posedge clk) begin
        if (start) begin
            {a_row, a_pix, a_grp, a_tapy, a_tap, a_cur} <= {6{24'd0}};
        end else if (issue) begin
            a_cur <= ({24{adv[0]}} & (a_cur + 24'd1)) | t1 | t2 | t3 | t4 | t5;
            if (!adv[0]) a_tap <= t1 | t2 | t3 | t4 | t5;
            if (abv[1]) a_tapy <= t2 | t3 | t4 | t5;
            if (abv[2]) a_grp <= t3 | t4 | t5;
            if (abv[3]) a_pix <= t4 | t5;
            if (adv[5]) a_row <= t5;
        end
    end

    // weights (per output pixel), output group, operand B; what the step outputs
    always @(posedge clk) begin
        if (start) begin
            b_cur <= 24'd0;
            w_cur <= 16'd0;
            g_cur <= 16'd0;
            grp <= 24'd0;
            first <= 1'b1;
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
            w_cur <= new_pix ? 16'd0 : w_cur + 16'd1;
            if (grp_last) begin
                grp <= grp + 24'd1;
                g_cur <= new_pix ? 16'd0 : g_cur + 16'd1;
                b_cur <= (bc && new_pix) ? 24'd0 : b_cur + 24'd1;
            end
        end
    end
endmodule

`default_nettype wire
