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

module pf_seq #(
    parameter integer AW = 24      // operand-A address bits the buffer uses (log2 ADEPTH)
) (
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
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_hi = &{1'b0, sh_rs, dh_rs, sw_ps, dw_ps};  // (bits above AW wrap away)
    /* verilator lint_on UNUSEDSIGNAL */
    generate
        if (AW < 4 || AW > 24) begin : bad_aw
            $error("pf_seq: AW must be 4..24");
        end
    endgenerate

    // ------------------------------------------------------------------ tile constants
    reg run, vec, bc, setup;
    reg [AW-1:0] st_oy, st_ky, st_ox, st_kx;  // (addresses wrap at the buffer's size)
    reg [16:0] r_cg, r_kx, r_ky, r_g, r_ox, r_oy;  // a level's counter reload: length - 3
    reg [5:0] one;                             // a level has one iteration
    always @(posedge clk) begin
        if (start) begin
            vec <= !conv;
            bc <= bcast;
            st_oy <= sh_rs[AW-1:0];
            st_ky <= dh_rs[AW-1:0];
            st_ox <= sw_ps[AW-1:0];
            st_kx <= dw_ps[AW-1:0];
            r_cg <= conv ? {1'b0, icg} - 17'd3 : 17'h1FFFE;
            r_kx <= {9'd0, kw} - 17'd3;
            r_ky <= {9'd0, kh} - 17'd3;
            r_g <= {1'b0, omg} - 17'd3;
            r_ox <= {1'b0, ow} - 17'd3;
            r_oy <= {1'b0, oh} - 17'd3;
            one <= {oh == 16'd1, ow == 16'd1, omg == 16'd1, kh == 8'd1, kw == 8'd1,
                    !conv || icg == 16'd1};
        end
    end

    // ------------------------------------------------------------------ loop state
    // Level k (0 cg, 1 kx, 2 ky, 3 g, 4 ox, 5 oy) counts c[k] = iterations left after the
    // current one, - 2: when the level advances at least one is left, so a negative c
    // (at_one) means it reaches its last iteration with this step. adv (one-hot; 6 = the
    // tile's last step) is the level the current step advances, abv[k] = a level above k
    // advances. The next step's level is the lowest level not at its last iteration; with
    // the per-tile constants below and up[a] (the lowest level above a not at its last
    // iteration, kept per a) it is an AND-OR of registers, never a priority chain:
    //   next(a) = f < a ? f : !at_one[a] ? a : up[a]
    // (levels below a restart: the lowest of them with more than one iteration is f).
    reg [16:0] c_cg, c_kx, c_ky, c_g, c_ox, c_oy;
    reg [6:0] adv;
    reg [5:0] abv;
    reg [6:0] up [0:5];            // one-hot: the lowest level above a not at its last
    reg [5:0] upt [0:5];           // ... as a mask of the levels below it
    reg [6:0] f, fab [0:5];        // per tile: the lowest level with more than one
                                   // iteration, and the lowest above a
    reg [5:0] ft, fabt [0:5];      // ... as masks
    reg [5:0] flt;                 // f < a
    reg [5:0] fablt [0:5];         // fab[b] < a, at [b][a]
    reg any;                       // the first step's level is known
    reg [AW-1:0] a_row, a_pix, a_grp, a_tapy, a_tap, a_cur;
    reg [23:0] b_cur, grp;
    reg [15:0] w_cur, g_cur;
    reg first;
    wire grp_last = abv[2];        // the step ends an output group (a level >= 3 advances)
    wire new_pix = abv[3];         // ... and an output pixel
    wire issue = run && any && !(hold && grp_last);
    assign busy = run;
    wire [5:0] at_one = {c_oy[16], c_ox[16], c_g[16], c_ky[16], c_kx[16], c_cg[16]};

    // the per-tile constants (from `one`, at setup)
    function automatic [6:0] lowest_from(input [5:0] o, input integer from);
        integer j;
        begin
            lowest_from = 7'b1000000;
            for (j = 5; j >= 0; j = j - 1)
                if (j >= from && !o[j]) lowest_from = 7'd1 << j;
        end
    endfunction
    function automatic [5:0] below(input [6:0] x);  // mask of the levels below one-hot x
        integer j;
        begin
            below = 6'd0;
            for (j = 0; j < 6; j = j + 1) below[j] = |(x >> (j + 1));
        end
    endfunction
    integer k, b2;
    always @(posedge clk) begin
        if (setup) begin
            f <= lowest_from(one, 0);
            ft <= below(lowest_from(one, 0));
            for (k = 0; k < 6; k = k + 1) begin
                fab[k] <= lowest_from(one, k + 1);
                fabt[k] <= below(lowest_from(one, k + 1));
                flt[k] <= |(lowest_from(one, 0) & ((7'd1 << k) - 7'd1));
                for (b2 = 0; b2 < 6; b2 = b2 + 1)
                    fablt[b2][k] <= |(lowest_from(one, b2 + 1) & ((7'd1 << k) - 7'd1));
            end
        end
    end

    // the next step's level, and up[] after this step
    // next(a) for each a, and its mask; the OR over a is in two kept halves (three terms
    // each) so that synthesis does not chain the six
    // (each term kept: one LUT of five registers per bit, which synthesis would otherwise
    // merge with the similar terms of up_next into deeper shared logic)
    wire [6:0] nx [0:5];
    wire [5:0] nxt_m [0:5];
    genvar kk;
    generate
        for (kk = 0; kk < 6; kk = kk + 1) begin : next_of
            (* keep *) wire [6:0] t = {7{adv[kk]}} & (flt[kk] ? f
                                      : !at_one[kk] ? 7'd1 << kk : up[kk]);
            (* keep *) wire [5:0] tm = {6{adv[kk]}} & (flt[kk] ? ft
                                       : !at_one[kk] ? (6'd1 << kk) - 6'd1 : upt[kk]);
            assign nx[kk] = t;
            assign nxt_m[kk] = tm;
        end
    endgenerate
    (* keep *) wire [6:0] adv_lo = nx[0] | nx[1] | nx[2];
    (* keep *) wire [6:0] adv_hi = nx[3] | nx[4] | nx[5];
    (* keep *) wire [5:0] abv_lo = nxt_m[0] | nxt_m[1] | nxt_m[2];
    (* keep *) wire [5:0] abv_hi = nxt_m[3] | nxt_m[4] | nxt_m[5];
    wire [6:0] adv_next = adv_lo | adv_hi;
    wire [5:0] abv_next = abv_lo | abv_hi;
    reg [6:0] up_next [0:5];
    reg [5:0] upt_next [0:5];
    always @(*) begin
        for (b2 = 0; b2 < 6; b2 = b2 + 1) begin
            up_next[b2] = 7'd0;
            upt_next[b2] = 6'd0;
        end
        for (k = 0; k < 6; k = k + 1) begin  // AND-OR over the one-hot adv
            for (b2 = 0; b2 < k; b2 = b2 + 1) begin  // levels below k restart
                up_next[b2] = up_next[b2] | ({7{adv[k]}} & (fablt[b2][k] ? fab[b2]
                              : !at_one[k] ? 7'd1 << k : up[k]));
                upt_next[b2] = upt_next[b2] | ({6{adv[k]}} & (fablt[b2][k] ? fabt[b2]
                               : !at_one[k] ? (6'd1 << k) - 6'd1 : upt[k]));
            end
        end
        for (b2 = 0; b2 < 6; b2 = b2 + 1) begin  // levels at or above the advancing one:
            up_next[b2] = up_next[b2] | ({7{!abv[b2]}} & up[b2]);  // nothing above moved
            upt_next[b2] = upt_next[b2] | ({6{!abv[b2]}} & upt[b2]);
        end
    end

    reg srst;                      // the reset (or a stop), registered here
    reg prime;                     // the cycle the first step's level is set
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
    // ada: a copy of adv for the address selects (its reset keeps synthesis from merging
    // it with adv, so each drives half the loads)
    reg [5:0] ada;
    always @(posedge clk) begin
        if (srst) ada <= 6'd0;
        else if (prime) ada <= f[5:0];
        else if (issue) ada <= adv_next[5:0];
    end
    // adc: a copy of adv for the counters (reset to ones: kept apart from adv and ada), so
    // adv drives only the next-level logic
    reg [5:0] adc;
    always @(posedge clk) begin
        if (srst) adc <= 6'h3f;
        else if (prime) adc <= f[5:0];
        else if (issue) adc <= adv_next[5:0];
    end
    always @(posedge clk) begin
        if (prime) begin  // every level at its first iteration
            adv <= f;
            abv <= ft;
            for (k = 0; k < 6; k = k + 1) begin
                up[k] <= fab[k];
                upt[k] <= fabt[k];
            end
        end else if (issue) begin
            adv <= adv_next;
            abv <= abv_next;
            for (k = 0; k < 6; k = k + 1) begin
                up[k] <= up_next[k];
                upt[k] <= upt_next[k];
            end
        end
    end

    // counters: the advancing level counts down, the levels below reload
    always @(posedge clk) begin
        if (setup) begin
            {c_cg, c_kx, c_ky, c_g, c_ox, c_oy} <= {r_cg, r_kx, r_ky, r_g, r_ox, r_oy};
        end else if (issue) begin
            c_cg <= adc[0] ? c_cg - 17'd1 : r_cg;
            if (abv[0]) c_kx <= adc[1] ? c_kx - 17'd1 : r_kx;
            if (abv[1]) c_ky <= adc[2] ? c_ky - 17'd1 : r_ky;
            if (abv[2]) c_g <= adc[3] ? c_g - 17'd1 : r_g;
            if (abv[3]) c_ox <= adc[4] ? c_ox - 17'd1 : r_ox;
            if (adc[5]) c_oy <= c_oy - 17'd1;
        end
    end

    // addresses: the advancing level's base moves by its stride, and every base below it
    // takes the same value: one adder after two one-hot selects
    // (two halves of three terms, kept apart so synthesis maps each into one LUT level
    // instead of chaining the six terms; the selects use a copy of adv that only they load)
    (* keep *) wire [AW-1:0] base_lo = ({AW{ada[0]}} & a_cur) | ({AW{ada[1]}} & a_tap)
                                     | ({AW{ada[2]}} & a_tapy);
    (* keep *) wire [AW-1:0] base_hi = ({AW{ada[3]}} & a_grp) | ({AW{ada[4]}} & a_pix)
                                     | ({AW{ada[5]}} & a_row);
    (* keep *) wire [AW-1:0] step_lo = ({AW{ada[0]}} & {{(AW-1){1'b0}}, 1'b1})
                                     | ({AW{ada[1]}} & st_kx) | ({AW{ada[2]}} & st_ky);
    (* keep *) wire [AW-1:0] step_hi = ({AW{ada[3]}} & {{(AW-1){1'b0}}, vec})
                                     | ({AW{ada[4]}} & st_ox) | ({AW{ada[5]}} & st_oy);
    wire [AW-1:0] a_next = (base_lo | base_hi) + (step_lo | step_hi);
    always @(posedge clk) begin
        if (start) begin
            {a_row, a_pix, a_grp, a_tapy, a_tap, a_cur} <= {6{{AW{1'b0}}}};
        end else if (issue) begin
            a_cur <= a_next;
            if (abv[0]) a_tap <= a_next;
            if (abv[1]) a_tapy <= a_next;
            if (abv[2]) a_grp <= a_next;
            if (abv[3]) a_pix <= a_next;
            if (ada[5]) a_row <= a_next;
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
            s_a_addr <= {{(24-AW){1'b0}}, a_cur};
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
