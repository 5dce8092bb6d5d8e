// plutflow datapath: the buffers and everything from a sequencer step to an output group
// (docs/spec.md 9.3-9.4).
//
//   step -> buffer reads (operand A, operand B, weight tile; 2 cycles)
//        -> CONV: PE array (pf_pe_array) and the accumulation over the group's steps
//           other kinds: vector lanes (pf_vector)
//        -> group result -> + partial sum (unless PSUM_FIRST) -> partial-sum buffer
//           (unless PSUM_LAST) or requantization (pf_requant, P lanes) -> activation
//           table -> P output codes
//
// The loader fills the buffers through the write ports: two activation banks, two weight
// banks (tiles, requant records, tables), the partial sums, and the LUT-RAM P-LUT tables.
// Every stage's registers load only with a valid beat.
`default_nettype none
`include "pf_contract.vh"

module pf_datapath #(
    parameter integer PE_TYPE = 0,
    parameter integer P = 16,
    parameter integer WBITS = 8,
    parameter integer B2 = 3,
    parameter integer ABITS = 4,
    parameter integer INT8_PATH = 1,
    parameter integer ADEPTH = 8192,
    parameter integer WDEPTH = 2048,
    parameter integer MDEPTH = 256,
    parameter integer PDEPTH = 2048,
    parameter integer TSLOTS = 8
) (
    input  wire              clk,
    input  wire              rst,
    // the tile (stable while it runs)
    input  wire [3:0]        kind,
    input  wire [15:0]       flags,
    input  wire [4:0]        fshift,
    input  wire [8:0]        zp,
    input  wire [8:0]        lo,
    input  wire [8:0]        hi,
    input  wire [8:0]        aqmin,
    input  wire [8:0]        za,
    input  wire [8:0]        zb,
    input  wire [5:0]        shift,
    input  wire [15:0]       mult_a,
    input  wire [15:0]       mult_b,
    input  wire [27:0]       exp1,
    input  wire [27:0]       exp2,
    input  wire [127:0]      lev,
    // steps (address widths cover every buffer depth; the upper bits may be unused)
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire              s_valid,
    input  wire [23:0]       s_a_addr,
    input  wire [23:0]       s_b_addr,
    input  wire [15:0]       s_w_addr,
    input  wire [15:0]       s_g,
    input  wire [23:0]       s_grp,
    input  wire              s_first,
    input  wire              s_last,
    input  wire              s_end,
    // buffer writes
    input  wire              a_we,
    input  wire              a_bank,
    input  wire [23:0]       a_addr,
    input  wire [8*P-1:0]    a_data,
    input  wire              w_we,
    input  wire              w_bank,
    input  wire [15:0]       w_addr,
    input  wire [8*P*P-1:0]  w_data,
    input  wire              r_we,
    input  wire              r_bank,
    input  wire [15:0]       r_addr,
    input  wire [64*P-1:0]   r_data,
    input  wire              t_we,
    input  wire              t_bank,
    input  wire [15:0]       t_addr,
    input  wire [8*P-1:0]    t_data,
    input  wire              p_we,
    input  wire [15:0]       p_addr,
    input  wire [15:0]       p_data,
    /* verilator lint_on UNUSEDSIGNAL */
    // output groups
    output reg               o_valid,
    output reg  [8*P-1:0]    o_data,
    output reg               o_end,      // the tile's last group
    output reg               tile_done   // the tile's last step has left the datapath
);
    localparam integer LA = $clog2(ADEPTH), LW = $clog2(WDEPTH), LM = $clog2(MDEPTH);
    localparam integer LP = $clog2(PDEPTH), LT = $clog2(TSLOTS * 256);
`include "pf_tree.vh"
    localparam integer TREE_LPS = 2, TREE_SPLIT = 1;  // the PE array's adder trees
    localparam integer TREE = pf_tree_stages($clog2(P), $clog2(P), TREE_LPS, TREE_SPLIT);
    localparam integer LARR = 4 + TREE + 1;   // PE array and accumulation
    localparam integer LVEC = 4;              // vector lanes
    localparam integer LRES = LARR;           // read data to group result
    localparam integer LRQ = 12;              // pf_requant

    generate
        if (TSLOTS < 2 || (TSLOTS & (TSLOTS - 1)) != 0) begin : bad_tslots
            $error("pf_datapath: TSLOTS must be a power of two, at least 2");
        end
    endgenerate

    wire f_wbank = flags[`PF_F_WBANK], f_abank = flags[`PF_F_ABANK];
    wire f_first = flags[`PF_F_PSUM_FIRST], f_last = flags[`PF_F_PSUM_LAST];
    wire f_table = flags[`PF_F_TABLE], f_tpc = flags[`PF_F_TABLE_PER_CH];
    wire f_asigned = flags[`PF_F_A_SIGNED], f_bsigned = flags[`PF_F_B_SIGNED];
    wire f_int8 = flags[`PF_F_INT8_PATH] || PE_TYPE == 0;
    wire f_rqch = flags[`PF_F_RQ_PER_CH];
    wire conv = kind == `PF_K_CONV;
    // the same, registered for the array's and the vector lanes' operand enables and resets
    // (thousands of loads): the kind and flags are stable while a tile runs and set cycles
    // before its first beat
    reg conv_r, int8_r;
    always @(posedge clk) begin
        conv_r <= conv;
        int8_r <= f_int8;
    end

    // ------------------------------------------------------------------ buffers
    reg [8*P-1:0]   abuf [0:2*ADEPTH-1];
    reg [8*P*P-1:0] wbuf [0:2*WDEPTH-1];
    reg [64*P-1:0]  rqbuf [0:2*MDEPTH-1];
    reg [32*P-1:0]  psum [0:PDEPTH-1];
    always @(posedge clk) begin
        if (a_we) abuf[{a_bank, a_addr[LA-1:0]}] <= a_data;
        if (w_we) wbuf[{w_bank, w_addr[LW-1:0]}] <= w_data;
        if (r_we) rqbuf[{r_bank, r_addr[LM-1:0]}] <= r_data;
    end

    // ------------------------------------------------------------------ reads (2 cycles)
    reg [8*P-1:0] a_rd1, a_rd2, b_rd1, b_rd2;
    reg [8*P*P-1:0] w_rd1, w_rd2;
    reg v1, v2, first1, first2, last1, last2;
    always @(posedge clk) begin
        if (rst) {v1, v2} <= 2'b00;
        else {v1, v2} <= {s_valid, v1};
        if (s_valid) begin
            a_rd1 <= abuf[{f_abank, s_a_addr[LA-1:0]}];
            b_rd1 <= abuf[{!f_abank, s_b_addr[LA-1:0]}];
            w_rd1 <= wbuf[{f_wbank, s_w_addr[LW-1:0]}];
            {first1, last1} <= {s_first, s_last};
        end
        if (v1) begin
            a_rd2 <= a_rd1;
            b_rd2 <= b_rd1;
            w_rd2 <= w_rd1;
            {first2, last2} <= {first1, last1};
        end
    end

    // the group's identity travels beside the data: {end, g, grp} of each step
    localparam integer MW = 1 + 16 + 24;
    reg [MW-1:0] meta [0:LRES+1];
    reg [LRES+1:0] mv;   // step valid
    reg [LRES+1:0] ml;   // ... and the group's last step
    integer k;
    always @(posedge clk) begin
        if (rst) begin
            mv <= {(LRES+2){1'b0}};
            ml <= {(LRES+2){1'b0}};
        end else begin
            mv <= {mv[LRES:0], s_valid};
            ml <= {ml[LRES:0], s_valid && s_last};
        end
        meta[0] <= {s_end, s_g, s_grp};
        for (k = 1; k <= LRES + 1; k = k + 1) meta[k] <= meta[k-1];
    end

    // operands as signed 9-bit codes
    wire [P*9-1:0] act9, b9;
    genvar l;
    generate
        for (l = 0; l < P; l = l + 1) begin : ext
            assign act9[l*9 +: 9] = {f_asigned & a_rd2[l*8 + 7], a_rd2[l*8 +: 8]};
            assign b9[l*9 +: 9] = {f_bsigned & b_rd2[l*8 + 7], b_rd2[l*8 +: 8]};
        end
    endgenerate

    // ------------------------------------------------------------------ PE array
    localparam integer NLEV = 1 << (WBITS - 1);
    localparam integer B1 = WBITS - 1 - B2;
    reg [NLEV*3-1:0] exps;
    reg [NLEV*8-1:0] levels;
    integer q;
    always @(*) begin
        exps = {NLEV*3{1'b0}};
        levels = {NLEV*8{1'b0}};
        for (q = 0; q < 7; q = q + 1) begin
            if (q < (1 << B1) - 1 && q < NLEV) exps[q*3 +: 3] = exp1[q*4 +: 3];
            if (q < (1 << B2) - 1 && NLEV / 2 + q < NLEV) exps[(NLEV/2 + q)*3 +: 3] = exp2[q*4 +: 3];
        end
        for (q = 0; q < 16; q = q + 1)
            if (q < NLEV) levels[q*8 +: 8] = lev[q*8 +: 8];
    end
    wire arr_v;
    wire [P*32-1:0] sums;
    pf_pe_array #(
        .PE_TYPE(PE_TYPE), .P_IN(P), .P_OUT(P), .AW(9), .WBITS(WBITS), .B2(B2), .LW(8),
        .TREE_LPS(TREE_LPS), .TREE_SPLIT(TREE_SPLIT),
        .ABITS(ABITS), .TBW(16), .INT8_PATH(INT8_PATH), .SUM_W(32)
    ) pe (
        .clk(clk), .rst(rst), .in_valid(v2 && conv_r), .int8_mode(int8_r), .act(act9),
        .wgt(w_rd2), .aqmin(aqmin), .exps(exps), .levels(levels), .tab_we(p_we),
        .tab_addr(p_addr[WBITS-1+ABITS-1:0]), .tab_data(p_data), .out_valid(arr_v),
        .sums(sums)
    );
    // the flags of the step beside the array (latency LARR - 1)
    reg [LARR-2:0] af, al;
    always @(posedge clk) begin
        if (v2) begin
            af[0] <= first2;
            al[0] <= last2;
        end
        for (k = 1; k < LARR - 1; k = k + 1) begin
            af[k] <= af[k-1];
            al[k] <= al[k-1];
        end
    end
    reg [P*32-1:0] arr_acc;
    reg arr_res;
    always @(posedge clk) begin
        if (rst) arr_res <= 1'b0;
        else arr_res <= arr_v && al[LARR-2];
    end
    generate
        for (l = 0; l < P; l = l + 1) begin : accum
            always @(posedge clk) if (arr_v) begin
                if (af[LARR-2]) arr_acc[l*32 +: 32] <= sums[l*32 +: 32];
                else arr_acc[l*32 +: 32] <= arr_acc[l*32 +: 32] + sums[l*32 +: 32];
            end
        end
    endgenerate

    // ------------------------------------------------------------------ vector lanes
    wire vec_v;
    wire [P*32-1:0] vec_acc;
    reg [16*P-1:0] w16;
    always @(*) w16 = w_rd2[16*P-1:0];
    pf_vector #(.P(P)) vec (
        .clk(clk), .rst(rst), .in_valid(v2 && !conv_r), .kind(kind), .first(first2),
        .last(last2), .a(act9), .b(b9), .w(w16), .za(za), .zb(zb), .mult_a(mult_a),
        .mult_b(mult_b), .out_valid(vec_v), .acc(vec_acc)
    );
    // delay the vector result to the array's latency
    reg [P*32-1:0] vd [0:LARR-LVEC];
    reg [LARR-LVEC:0] vdv;
    always @(posedge clk) begin
        if (rst) vdv <= {(LARR-LVEC+1){1'b0}};
        else vdv <= {vdv[LARR-LVEC-1:0], vec_v};
        if (vec_v) vd[0] <= vec_acc;
        for (k = 1; k <= LARR - LVEC; k = k + 1) if (vdv[k-1]) vd[k] <= vd[k-1];
    end

    // ------------------------------------------------------------------ group result
    // (the read of its partial sum and requant record is issued two cycles before)
    wire res_v = arr_res || vdv[LARR-LVEC-1];
    wire [P*32-1:0] res_acc = arr_res ? arr_acc : vd[LARR-LVEC-1];
    wire [MW-1:0] res_meta = meta[LRES+1];
    wire [MW-1:0] pre_meta = meta[LRES-1];
    wire pre_v = ml[LRES-1];
    reg [32*P-1:0] ps_rd1, ps_rd2;
    reg [64*P-1:0] rq_rd1, rq_rd2;
    always @(posedge clk) begin
        if (pre_v) begin
            ps_rd1 <= psum[pre_meta[LP-1:0]];
            rq_rd1 <= rqbuf[{f_wbank, pre_meta[24 +: LM]}];
        end
        if (ml[LRES]) begin
            ps_rd2 <= f_first ? {32*P{1'b0}} : ps_rd1;
            rq_rd2 <= rq_rd1;
        end
    end

    // + partial sum
    reg [32*P-1:0] tot;
    reg tot_v, tot_end;
    reg [23:0] tot_grp;
    reg [15:0] tot_g;
    reg [64*P-1:0] tot_rq;
    always @(posedge clk) begin
        if (rst) tot_v <= 1'b0;
        else tot_v <= res_v;
        if (res_v) begin
            tot_end <= res_meta[40];
            tot_g <= res_meta[39:24];
            tot_grp <= res_meta[23:0];
            tot_rq <= rq_rd2;
        end
    end
    generate
        for (l = 0; l < P; l = l + 1) begin : psum_add
            always @(posedge clk) if (res_v) begin
                tot[l*32 +: 32] <= res_acc[l*32 +: 32] + ps_rd2[l*32 +: 32];
            end
        end
    endgenerate
    always @(posedge clk) begin
        if (tot_v && !f_last) psum[tot_grp[LP-1:0]] <= tot;
    end

    // ------------------------------------------------------------------ requantization
    wire y_v;
    wire [P*9-1:0] y;
    reg [4:0] bs_t;               // the tile's bias shift (registered: constant in a tile)
    always @(posedge clk) bs_t <= f_rqch ? fshift : 5'd0;
    wire rq_in = tot_v && f_last;
    wire [P*32-1:0] rq_bias;
    wire [P*16-1:0] rq_mult;
    wire [P*6-1:0] rq_shift;
    generate
        for (l = 0; l < P; l = l + 1) begin : rq_rec
            wire [53:0] rec = tot_rq[l*64 +: 54];
            assign rq_bias[l*32 +: 32] = f_rqch ? rec[31:0] : 32'd0;
            assign rq_mult[l*16 +: 16] = f_rqch ? rec[47:32]
                                       : (kind == `PF_K_ADD ? 16'd1 : mult_a);
            assign rq_shift[l*6 +: 6] = f_rqch ? rec[53:48] : shift;
        end
    endgenerate
    pf_requant #(.ACC_W(32), .MULT_W(16), .OUT_W(9), .LANES(P)) rq (
        .clk(clk), .rst(rst), .en(1'b1), .in_valid(rq_in), .acc(tot), .bias_shift(bs_t),
        .bias(rq_bias), .mult(rq_mult), .shift(rq_shift), .zero_point(zp), .lo(lo), .hi(hi),
        .out_valid(y_v), .y(y)
    );
    // the group's slot and end flag beside the requantization
    reg [15:0] rg [0:LRQ-1];
    reg [LRQ-1:0] re;
    always @(posedge clk) begin
        rg[0] <= tot_g;
        re[0] <= tot_end;
        for (k = 1; k < LRQ; k = k + 1) begin
            rg[k] <= rg[k-1];
            re[k] <= re[k-1];
        end
    end

    // ------------------------------------------------------------------ tables (2 cycles)
    reg tv1, tv2, te1, te2;
    reg [8*P-1:0] yb1, yb2;
    always @(posedge clk) begin
        if (rst) {tv1, tv2} <= 2'b00;
        else {tv1, tv2} <= {y_v, tv1};
        if (y_v) te1 <= re[LRQ-1];
        if (tv1) te2 <= te1;
    end
    wire [LT-1:0] slot_base = f_tpc ? {rg[LRQ-1][LT-9:0], 8'd0} : {LT{1'b0}};
    generate
        for (l = 0; l < P; l = l + 1) begin : tab
            reg [7:0] tmem [0:2*TSLOTS*256-1];
            always @(posedge clk) begin
                if (t_we) tmem[{t_bank, t_addr[LT-1:0]}] <= t_data[l*8 +: 8];
            end
            wire [7:0] idx = y[l*9 +: 8] ^ 8'h80;  // y + 128 for y in -128..127
            reg [7:0] t1;
            always @(posedge clk) begin
                if (y_v) begin
                    t1 <= tmem[{f_wbank, slot_base | {{(LT-8){1'b0}}, idx}}];
                    yb1[l*8 +: 8] <= y[l*9 +: 8];
                end
                if (tv1) yb2[l*8 +: 8] <= f_table ? t1 : yb1[l*8 +: 8];
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (rst) begin
            o_valid <= 1'b0;
            tile_done <= 1'b0;
        end else begin
            o_valid <= tv2;
            tile_done <= (tv2 && te2) || (tot_v && !f_last && tot_end);
        end
        if (tv2) begin
            o_data <= yb2;
            o_end <= te2;
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, y[P*9-1:0], s_grp[23:LP], s_g, res_meta,
                       pre_meta, meta[LRES], mv, ml[LRES+1], vd[LARR-LVEC], vdv[LARR-LVEC],
                       af, al, tot_grp, flags, tot_rq};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
