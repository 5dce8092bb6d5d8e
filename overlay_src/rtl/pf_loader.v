// plutflow fetch/load stage (docs/spec.md 9.3-9.5).
//
// For each of PROG_COUNT descriptors: fetch it from memory, check it (magic, kind,
// format, buffer sizes, every address against the memory window), derive the
// sequencer's strides, wait for hazards (a BARRIER waits until every earlier output is
// in memory; a bank the compute stage still reads is not overwritten), load its sections
// into the buffers, and hand it to the compute stage. Loads of descriptor j overlap the
// compute of descriptor j-1.
//
// Sections: the parameter block (requant records, activation tables, LUT-RAM P-LUT
// product table, weight tiles) into weight bank WBANK; operand A (rows with their
// padding, written by this stage) into activation bank ABANK; operand B into the other.
//
// Built for 250 MHz as separate parts, each in its own always block and started by a
// registered pulse: the descriptor sequence (fetch, checks, hand-over); the run
// generator (sections into runs); the burst splitter (runs into 4 KB-safe bursts for
// pf_axi_rd); a read FIFO; the consumer, which decides what each beat (or padding word)
// is for, and the mover, which puts it there one cycle later. Every loop limit, and the
// value each counter takes next, is a register prepared ahead.
`default_nettype none
`include "pf_contract.vh"

module pf_loader #(
    parameter integer PE_TYPE = 0,
    parameter integer P = 16,
    parameter integer WBITS = 8,
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
    // run control
    input  wire              start,
    input  wire [31:0]       prog_addr,
    input  wire [31:0]       prog_count,
    input  wire [31:0]       mem_size,
    input  wire [31:0]       timeout,
    output reg               done,        // pulse: every descriptor handed over, or an error
    output reg  [7:0]        err_code,
    output reg               err,         // err_code != 0 (with done)
    output reg  [7:0]        err_unit,
    output reg  [31:0]       err_addr,
    output reg  [31:0]       cur_desc,
    input  wire              stop,        // another stage failed: stop at once
    // burst requests and read data (pf_axi_rd)
    output reg               req_valid,
    input  wire              req_ready,
    output reg  [31:0]       req_off,
    output reg  [7:0]        req_len1,
    input  wire              rd_valid,
    input  wire [8*P-1:0]    rd_data,
    output wire              rd_ready,
    input  wire              rd_busy,
    input  wire              rd_err,
    // the compute stage and the store path
    input  wire              c_busy,      // compute holds a descriptor
    input  wire              c_abank,
    input  wire              c_binary,    // it reads both activation banks
    input  wire              c_wbank,
    input  wire              c_uses_w,    // it reads its weight bank
    input  wire              c_ptab,      // it reads the LUT-RAM product tables
    input  wire              store_idle,  // every output so far is in memory
    output reg               h_valid,
    input  wire              h_ready,
    output reg  [`PF_DESC_BITS-1:0] h_desc,
    output reg  [119:0]      h_consts,    // {DW*ICG, SW*ICG, DH*RS, SH*RS, RS}, 24 bits each
    // buffer write ports
    output reg               a_we,
    output reg               a_bank,
    output reg  [23:0]       a_addr,
    output reg  [8*P-1:0]    a_data,
    output reg               w_we,
    output reg               w_bank,
    output reg  [15:0]       w_addr,
    output reg  [8*P*P-1:0]  w_data,
    output reg               r_we,
    output reg               r_bank,
    output reg  [15:0]       r_addr,
    output reg  [64*P-1:0]   r_data,
    output reg               t_we,
    output reg               t_bank,
    output reg  [15:0]       t_addr,
    output reg  [8*P-1:0]    t_data,
    output reg               p_we,
    output reg  [15:0]       p_addr,
    output reg  [15:0]       p_data
);
    localparam integer LOGP = $clog2(P);
    localparam integer BEATW = 8 * P;
    localparam integer NDB = `PF_DESC_BITS / BEATW;   // beats per descriptor
    localparam integer RQB = 64 * P / BEATW;          // beats per requant group (8)
    localparam integer TILEW = 8 * P * P;
    localparam integer MAXTB = TILEW / BEATW;         // beats of a full tile (P)
    localparam integer MAXB = MAXTB > 8 ? MAXTB : 8;  // beats of a block (tile, requant)
    localparam integer HAS8 = (PE_TYPE == 0 || INT8_PATH != 0) ? 1 : 0;
    localparam integer NDBI = NDB - 1;
    localparam integer RQBI = RQB - 1;
    localparam [7:0] RQB_M1 = RQBI[7:0];
    localparam [23:0] NDB_M1 = NDBI[23:0];
    localparam [39:0] AD40 = {8'd0, ADEPTH[31:0]}, WD40 = {8'd0, WDEPTH[31:0]};
    localparam [39:0] MD40 = {8'd0, MDEPTH[31:0]}, PD40 = {8'd0, PDEPTH[31:0]};
    localparam [39:0] TS40 = {8'd0, TSLOTS[31:0]};

    generate
        if (P < 4 || P > 32 || (P & (P - 1)) != 0) begin : bad_p
            $error("pf_loader: P must be 4, 8, 16 or 32");
        end
    endgenerate

    // ------------------------------------------------------------------ descriptor
    reg [`PF_DESC_BITS-1:0] d;
    reg d_magic_ok, d_kind_ok;    // magic, version and kind of d, checked as it is taken
    wire [3:0]  kind = `PF_D_KIND(d);
    wire [15:0] flags = `PF_D_FLAGS(d);
    wire f_barrier = flags[`PF_F_BARRIER], f_load_w = flags[`PF_F_LOAD_W];
    wire f_load_a = flags[`PF_F_LOAD_A], f_load_b = flags[`PF_F_LOAD_B];
    wire f_wbank = flags[`PF_F_WBANK], f_abank = flags[`PF_F_ABANK];
    wire f_first = flags[`PF_F_PSUM_FIRST], f_last = flags[`PF_F_PSUM_LAST];
    wire f_wsigned = flags[`PF_F_W_SIGNED], f_int8 = flags[`PF_F_INT8_PATH];
    wire f_bcast = flags[`PF_F_B_BCAST];
    wire [15:0] IH = `PF_D_IH(d), IW = `PF_D_IW(d), ICG = `PF_D_ICG(d), OMG = `PF_D_OMG(d);
    wire [15:0] OH = `PF_D_OH(d), OW = `PF_D_OW(d);
    wire [7:0]  KH = `PF_D_KH(d), KW = `PF_D_KW(d);
    wire [3:0]  SH = `PF_D_SH(d), SW = `PF_D_SW(d), DH = `PF_D_DH(d), DWd = `PF_D_DW(d);
    wire [3:0]  field_w = `PF_D_FIELD_W(d), abits = `PF_D_ABITS(d);
    wire [15:0] rq_groups = `PF_D_RQ_GROUPS(d), ntiles = `PF_D_NTILES(d);
    wire [7:0]  tslots = `PF_D_TSLOTS(d), tile_beats = `PF_D_TILE_BEATS(d);
    wire [15:0] ptab_beats = `PF_D_PTAB_BEATS(d);
    wire [31:0] W_ADDR = `PF_D_W_ADDR(d), A_ADDR = `PF_D_A_ADDR(d);
    wire [31:0] B_ADDR = `PF_D_B_ADDR(d), O_ADDR = `PF_D_O_ADDR(d);
    wire [23:0] A_RS = `PF_D_A_RS(d), A_PS = `PF_D_A_PS(d), B_RS = `PF_D_B_RS(d);
    wire [23:0] B_PS = `PF_D_B_PS(d), O_RS = `PF_D_O_RS(d), O_PS = `PF_D_O_PS(d);
    wire [7:0]  PAD_T = `PF_D_PAD_T(d), PAD_L = `PF_D_PAD_L(d);
    wire [15:0] A_ROWS = `PF_D_A_ROWS(d), A_COLS = `PF_D_A_COLS(d);
    wire [8:0]  padv = `PF_D_PADV(d);
    wire binary = kind == `PF_K_ADD || kind == `PF_K_MUL;
    wire vector = kind != `PF_K_CONV;

    localparam [2:0] K_FETCH = 3'd0, K_RQ = 3'd1, K_TAB = 3'd2, K_PT = 3'd3, K_TILE = 3'd4,
                     K_A = 3'd5, K_B = 3'd6, K_OFF = 3'd7;

    // the n-th section present after K_FETCH (K_OFF, always present, ends the list)
    function automatic [2:0] nth_section(input [7:0] present, input [1:0] n);
        integer i;
        reg [1:0] seen;
        begin
            nth_section = K_OFF;
            seen = 2'd0;
            for (i = 1; i < 7; i = i + 1) begin
                if (present[i] && nth_section == K_OFF) begin
                    if (seen == n) nth_section = i[2:0];
                    seen = seen + 2'd1;
                end
            end
        end
    endfunction
    // a section's one-hot class: {plain, operand A, LUT-RAM table, requant}
    function automatic [3:0] onehot(input [2:0] sec);
        onehot = {sec == K_FETCH || sec == K_RQ || sec == K_TAB || sec == K_TILE || sec == K_B,
                  sec == K_A, sec == K_PT, sec == K_RQ};
    endfunction

    // ------------------------------------------------------------------ states
    localparam [3:0] L_IDLE = 4'd0, L_NEXT = 4'd1, L_FETCH = 4'd2, L_DECODE = 4'd3,
                     L_FORMAT = 4'd4, L_MUL = 4'd5, L_CHECK1 = 4'd6, L_CHECK2 = 4'd7,
                     L_CHECK3 = 4'd8, L_CHECK4 = 4'd9, L_WAIT = 4'd10, L_LOAD = 4'd11,
                     L_HAND = 4'd12, L_ERR = 4'd13, L_DRAIN = 4'd14, L_START = 4'd15;
    reg [15:0] st;                // the state, one-hot: st[L_X] is state L_X
    reg [31:0] idx, count_m1, desc_addr, drain_cnt;
    reg prog_none, prog_bad;      // the program is empty / not aligned or not in the window
    reg prog_misal, start_chk;
    reg [40:0] prog_end;
    reg [7:0] e_code, e_unit;
    reg [31:0] e_addr;
    // which check failed (set with the move to L_ERR); its code, unit and address follow
    // a cycle later, while the reads drain
    localparam [3:0] EV_START = 4'd1, EV_MAGIC = 4'd2, EV_KIND = 4'd3, EV_FORMAT = 4'd4,
                     EV_CHECK = 4'd5, EV_RRESP = 4'd6, EV_TIMEOUT = 4'd7, EV_STOP = 4'd8;
    reg [3:0] e_ev;               // a check of the sequence
    reg [3:0] x_ev;               // the memory or another stage (takes precedence)
    reg in_load;                  // past the fetch of the current descriptor
    reg f_req;                    // pulse: request the descriptor's burst
    reg k_start, k_go, g_go;      // pulses: start the consumer (a fetch or a load), start a
                                  // load (the consumer's positions), start the generator
                                  // (a cycle after k_go: its own register, so that the
                                  // consumer's wide start net does not also drive the
                                  // generator)
    reg k_fetch;                  // the consumer's start is a descriptor fetch
    reg desc_in, load_done;       // from the mover
    reg [`PF_DESC_BITS-1:0] d_asm;  // the descriptor being fetched (the mover fills it)
    reg starved;                  // the consumer waits for a beat longer than TIMEOUT
    wire drained;                 // nothing outstanding on the read side
    reg halt;                     // an error: the load parts stop, the FIFO drains
    reg drain_to;                 // the drain has lasted TIMEOUT cycles (registered)
    always @(posedge clk) drain_to <= st[L_DRAIN] && drain_cnt == timeout;
    always @(posedge clk) g_go <= k_go && !rst;

    // ------------------------------------------------------------------ products
    // one product per cycle through a pipelined multiplier (4 cycles to the result)
    reg [4:0] mstep;              // L_MUL's cycle
    reg [17:0] moh;               // one-hot: the product issued this cycle
    reg [23:0] ma;
    reg [15:0] mb;
    wire [39:0] mp;
    pf_mul #(.AW(24), .BW(16)) mul (.clk(clk), .rst(rst), .a(ma), .b(mb), .p(mp));
    reg [39:0] res [0:17];
    reg [23:0] r24 [0:2];         // products 0..2, saturated to 24 bits (fed back)
    reg [15:0] rows_m1, cols_m1, oh_m1d, ow_m1d;  // operands prepared in DECODE
    function automatic [23:0] sat24(input [39:0] v);
        sat24 = |v[39:24] ? 24'hFF_FFFF : v[23:0];
    endfunction
    // the operands of the 18 products, queued at FORMAT and shifted out one per cycle;
    // products 10-13 take a saturated earlier product (r24) as their first operand
    wire [24*18-1:0] op_a = {
        {8'd0, OW}, {8'd0, A_COLS}, {8'd0, ICG}, {8'd0, ICG}, 24'd0, 24'd0, 24'd0, 24'd0,
        O_PS, O_RS, B_PS, B_RS, A_PS, A_RS, {8'd0, ntiles}, {8'd0, OH}, {8'd0, IW},
        {8'd0, IH}};
    wire [16*18-1:0] op_b = {
        OMG, ICG, {12'd0, DWd}, {12'd0, SW}, {12'd0, DH}, {12'd0, SH}, OMG, ICG,
        ow_m1d, oh_m1d, ow_m1d, oh_m1d, cols_m1, rows_m1, {8'd0, tile_beats}, OW, ICG, IW};
    // the first operand's source: 0 the queue, 1..3 r24[0..2]
    localparam [2*18-1:0] OP_SRC = {8'b00_00_00_00, 8'b10_10_11_01, 20'd0};
    reg [24*18-1:0] qa;
    reg [16*18-1:0] qb;
    reg [2*18-1:0] qs;
    always @(posedge clk) begin
        if (st[L_FORMAT]) begin
            qa <= op_a;
            qb <= op_b;
            qs <= OP_SRC;
        end else if (st[L_MUL]) begin
            qa <= qa >> 24;
            qb <= qb >> 16;
            qs <= qs >> 2;
        end
        ma <= qs[1:0] == 2'd0 ? qa[23:0] : r24[qs[1:0] - 2'd1];
        mb <= qb[15:0];
    end
    reg [4:0] mq [0:3];
    reg [3:0] mqv;
    always @(posedge clk) begin
        mqv <= {mqv[2:0], |moh};
        mq[0] <= mstep;
        mq[1] <= mq[0];
        mq[2] <= mq[1];
        mq[3] <= mq[2];
        if (mqv[3]) begin
            res[mq[3]] <= mp;
            if (mq[3] <= 5'd2) r24[mq[3][1:0]] <= sat24(mp);
        end
    end

    // ------------------------------------------------------------------ checks
    wire [39:0] na = res[10], npg = res[11];
    wire psum = !(f_first && f_last);
    reg [40:0] w_end, a_end, b_end, o_end, a_mid, b_mid, o_mid;
    reg [31:0] w_beats, w_part;
    // each check in registered parts (DECODE: the format; CHECK1: sizes and alignment;
    // CHECK4: the memory window), combined a cycle later
    reg fmt_kind, fmt_geo, fmt_geo2, fmt_pad, size_a, size_b, align_ok;
    reg size_ok_r, align_ok_r;
    reg bad_w, bad_a, bad_b, bad_o, chk_ready;
    reg [7:0] chk_code;           // the first failed check, 0: none
    reg [31:0] chk_addr;
    wire [40:0] msize = {9'd0, mem_size};
    /* verilator lint_off UNUSEDSIGNAL */
    function automatic aligned(input [31:0] v);
        aligned = v[LOGP-1:0] == {LOGP{1'b0}};
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */
    always @(*) begin
        fmt_kind = 1'b1;
        case (kind)
            `PF_K_CONV: begin
                if (PE_TYPE == 0 || f_int8)
                    fmt_kind = HAS8 != 0 && f_wsigned && field_w == 4'd8;
                else
                    fmt_kind = !f_wsigned && field_w == WBITS[3:0]
                               && (PE_TYPE != 3 || (abits != 0 && abits <= ABITS[3:0]));
            end
            `PF_K_DW, `PF_K_MAXPOOL, `PF_K_SUMPOOL, `PF_K_ADD, `PF_K_MUL, `PF_K_COPY:
                fmt_kind = f_first && f_last;
            default: fmt_kind = 1'b0;
        endcase
        fmt_geo = OH != 0 && OW != 0 && OMG != 0 && KH != 0 && KW != 0 && SH != 0;
        fmt_geo2 = SW != 0 && DH != 0 && DWd != 0 && IH != 0 && IW != 0 && ICG != 0;
        fmt_pad = tile_beats <= MAXTB[7:0] && (!vector || ICG == OMG)
                  && {8'd0, PAD_T} + {1'b0, A_ROWS} <= {1'b0, IH}
                  && {8'd0, PAD_L} + {1'b0, A_COLS} <= {1'b0, IW};
        size_a = na <= AD40 && {24'd0, ntiles} <= WD40 && {24'd0, rq_groups} <= MD40
                 && {32'd0, tslots} <= TS40;
        size_b = (!psum || npg <= PD40) && (!binary || f_bcast || npg <= AD40)
                 && (!binary || {24'd0, OMG} <= AD40);
        align_ok = aligned(W_ADDR) && aligned(A_ADDR) && aligned({8'd0, A_RS})
                   && aligned({8'd0, A_PS}) && aligned(B_ADDR) && aligned({8'd0, B_RS})
                   && aligned({8'd0, B_PS}) && aligned(O_ADDR) && aligned({8'd0, O_RS})
                   && aligned({8'd0, O_PS});
    end
    reg fmt_kind_r, fmt_geo_r, fmt_geo2_r, fmt_pad_r, size_a_r, size_b_r;

    // ------------------------------------------------------------------ hazards
    reg may_load;
    always @(posedge clk) begin
        may_load <= !(c_busy && (
            (f_load_a && (c_abank == f_abank || c_binary))
            || (f_load_b && (c_abank == !f_abank || c_binary))
            || (f_load_w && c_uses_w && c_wbank == f_wbank)
            || (f_load_w && ptab_beats != 0 && c_ptab)))
            && (!f_barrier || (!c_busy && store_idle));
    end

    // ------------------------------------------------------------------ load geometry
    // (registered while the descriptor is checked)
    reg [15:0] a_rows_m1, a_cols_m1, oh_m1, ow_m1, icg_m1, rq_m1;
    reg [7:0] tb_m1;
    reg tb_z;
    reg [23:0] a_row_beats, b_row_beats, b_total, tab_total, pt_total, a_total, tile_total;
    reg [23:0] w_total;
    reg [31:0] a_rs32, a_ps32, b_rs32, b_ps32, w_addr_r, a_addr_r, b_addr_r;
    reg a_contig, b_contig, bcast_r, lw_r, la_r, lb_r, expand, wbank_r, abank_r;
    reg [15:0] omg_r, icg_r;
    reg [7:0] padb;
    // sections: present, length - 1, and which comes next
    reg [7:0] has;
    reg [2:0] nxt [0:7];
    reg [23:0] lm1 [0:7];
    reg [7:0] lz1;
    // the run generator's regions (0 parameters, 1 operand A, 2 operand B)
    reg [31:0] rg_addr [0:2];
    reg [31:0] rg_rs [0:2];
    reg [31:0] rg_ps [0:2];
    reg [16:0] rg_r [0:2];        // rows - 1, and rows - 2 (its sign: one row)
    reg [16:0] rg_r1 [0:2];
    reg [16:0] rg_c [0:2];        // runs per row - 1, and - 2
    reg [16:0] rg_c1 [0:2];
    reg [23:0] rg_beats [0:2];    // beats per run
    reg [2:0] rg_has;
    reg [1:0] rg_first;
    reg [1:0] rg_next [0:2];
    reg [2:0] sec0, sec1, sec2;   // the first three sections present (K_OFF: none)
    // what the consumer starts with (prepared for a fetch, then for a load)
    reg [2:0] k0_sec, k0_nsec, k0_nnsec;
    reg [3:0] k0_cls;
    reg [4:0] k0_ncls;
    reg [23:0] k0_left, k0_nleft;
    reg k0_lz, k0_nlz;
    reg [7:0] k0_bm1;             // beats per block - 1 of the first
    // operand A's columns and rows pass through phases: 0 padding before, 1 real,
    // 2 padding after; lengths, and each phase's successor
    reg [15:0] c_len [0:2];
    reg [15:0] r_len [0:2];
    reg [15:0] c_lm1 [0:3];
    reg [15:0] r_lm1 [0:3];
    reg [3:0] c_one, r_one, c_wrap, c_has, r_has;
    reg [1:0] c_first, r_first;
    reg [1:0] c_nx [0:3];         // the phase after each (wrapping to the row's first)
    reg [1:0] r_nx [0:3];

    // ------------------------------------------------------------------ the sequence
    integer q;
    always @(posedge clk) begin
        f_req <= 1'b0;
        k_start <= 1'b0;
        k_go <= 1'b0;
        done <= 1'b0;
        if (rst) begin
            st <= 16'd1 << L_IDLE;
            h_valid <= 1'b0;
            err_code <= 8'd0;
            err <= 1'b0;
            err_unit <= 8'd0;
            err_addr <= 32'd0;
            cur_desc <= 32'd0;
            mstep <= 5'd0;
            moh <= 18'd0;
        end else begin
            (* parallel_case *)
            case (1'b1)
                st[L_IDLE]: if (start) begin
                    idx <= 32'd0;
                    count_m1 <= prog_count - 32'd1;
                    cur_desc <= 32'd0;
                    err_code <= 8'd0;
                    err <= 1'b0;
                    err_unit <= 8'd0;
                    err_addr <= 32'd0;
                    prog_none <= prog_count == 32'd0;
                    prog_misal <= prog_addr[6:0] != 7'd0;
                    prog_end <= {9'd0, prog_addr} + {2'd0, prog_count, 7'd0};
                    start_chk <= 1'b0;
                    desc_addr <= prog_addr;
                    e_ev <= 4'd0;
                    x_ev <= 4'd0;
                    st <= 16'd1 << L_START;
                end
                st[L_START]: if (!start_chk) begin  // the program must lie in the window
                    prog_bad <= prog_misal || prog_end > msize;
                    start_chk <= 1'b1;
                end else begin
                    in_load <= 1'b0;
                    if (prog_none) begin
                        done <= 1'b1;
                        st <= 16'd1 << L_IDLE;
                    end else if (prog_bad) begin
                        e_ev <= EV_START;
                        st <= 16'd1 << L_ERR;
                    end else begin
                        st <= 16'd1 << L_NEXT;
                    end
                end
                st[L_NEXT]: begin  // fetch descriptor idx: one burst (128 bytes, one page)
                    cur_desc <= idx;
                    f_req <= 1'b1;
                    k_start <= 1'b1;
                    k_fetch <= 1'b1;
                    in_load <= 1'b0;
                    st <= 16'd1 << L_FETCH;
                end
                st[L_FETCH]: if (desc_in) begin
                    st <= 16'd1 << L_DECODE;
                end
                st[L_DECODE]: begin
                    rows_m1 <= A_ROWS - 16'd1;
                    cols_m1 <= A_COLS - 16'd1;
                    oh_m1d <= OH - 16'd1;
                    ow_m1d <= OW - 16'd1;
                    fmt_kind_r <= fmt_kind;
                    fmt_geo_r <= fmt_geo;
                    fmt_geo2_r <= fmt_geo2;
                    fmt_pad_r <= fmt_pad;
                    in_load <= 1'b1;
                    if (!d_magic_ok) begin
                        e_ev <= EV_MAGIC;
                        st <= 16'd1 << L_ERR;
                    end else if (!d_kind_ok) begin
                        e_ev <= EV_KIND;
                        st <= 16'd1 << L_ERR;
                    end else begin
                        st <= 16'd1 << L_FORMAT;
                    end
                end
                st[L_FORMAT]: begin
                    mstep <= 5'd0;
                    moh <= 18'd1;
                    e_ev <= EV_FORMAT;  // (read only if the next state is ERR)
                    st <= fmt_kind_r && fmt_geo_r && fmt_geo2_r && fmt_pad_r ? 16'd1 << L_MUL
                                                                      : 16'd1 << L_ERR;
                end
                st[L_MUL]: begin
                    mstep <= mstep + 5'd1;
                    moh <= {moh[16:0], 1'b0};
                    if (mstep == 5'd22) st <= 16'd1 << L_CHECK1;
                end
                st[L_CHECK1]: begin
                    w_part <= ({16'd0, rq_groups} << 3) + ({24'd0, tslots} << 8);
                    a_mid <= {9'd0, A_ADDR} + {1'b0, res[4]};
                    b_mid <= {9'd0, B_ADDR} + (f_bcast ? 41'd0 : {1'b0, res[6]});
                    o_mid <= {9'd0, O_ADDR} + {1'b0, res[8]};
                    size_a_r <= size_a;
                    size_b_r <= size_b;
                    align_ok_r <= align_ok;
                    a_rows_m1 <= A_ROWS - 16'd1;
                    a_cols_m1 <= A_COLS - 16'd1;
                    oh_m1 <= OH - 16'd1;
                    ow_m1 <= OW - 16'd1;
                    icg_m1 <= ICG - 16'd1;
                    icg_r <= ICG;
                    omg_r <= OMG;
                    c_len[0] <= {8'd0, PAD_L};
                    c_len[1] <= A_COLS;
                    c_len[2] <= IW - {8'd0, PAD_L} - A_COLS;
                    r_len[0] <= {8'd0, PAD_T};
                    r_len[1] <= A_ROWS;
                    r_len[2] <= IH - {8'd0, PAD_T} - A_ROWS;
                    a_row_beats <= res[16][23:0];
                    b_row_beats <= res[17][23:0];
                    a_contig <= A_PS == ({8'd0, ICG} << LOGP);
                    b_contig <= B_PS == ({8'd0, OMG} << LOGP);
                    a_rs32 <= {8'd0, A_RS};
                    a_ps32 <= {8'd0, A_PS};
                    b_rs32 <= {8'd0, B_RS};
                    b_ps32 <= {8'd0, B_PS};
                    w_addr_r <= W_ADDR;
                    a_addr_r <= A_ADDR;
                    b_addr_r <= B_ADDR;
                    bcast_r <= f_bcast;
                    lw_r <= f_load_w;
                    la_r <= f_load_a && A_ROWS != 16'd0;
                    lb_r <= f_load_b;
                    wbank_r <= f_wbank;
                    abank_r <= f_abank;
                    padb <= padv[7:0];
                    rq_m1 <= rq_groups - 16'd1;
                    tile_total <= res[3][23:0];
                    tb_m1 <= tile_beats - 8'd1;
                    tb_z <= tile_beats == 8'd1;
                    tab_total <= {8'd0, tslots, 8'd0};
                    pt_total <= {8'd0, ptab_beats};
                    a_total <= res[10][23:0];
                    b_total <= f_bcast ? {8'd0, OMG} : res[11][23:0];
                    expand <= field_w == WBITS[3:0] && WBITS != 8;
                    st <= 16'd1 << L_CHECK2;
                end
                st[L_CHECK2]: begin
                    for (q = 0; q < 3; q = q + 1) begin
                        c_lm1[q] <= c_len[q] - 16'd1;
                        r_lm1[q] <= r_len[q] - 16'd1;
                        c_one[q] <= c_len[q] == 16'd1;
                        r_one[q] <= r_len[q] == 16'd1;
                        c_has[q] <= c_len[q] != 16'd0;
                        r_has[q] <= r_len[q] != 16'd0;
                    end
                    w_beats <= w_part + {16'd0, ptab_beats} + res[3][31:0];
                    a_end <= a_mid + {1'b0, res[5]} + ({25'd0, ICG} << LOGP);
                    b_end <= b_mid + (bcast_r ? 41'd0 : {1'b0, res[7]}) + ({25'd0, OMG} << LOGP);
                    o_end <= o_mid + {1'b0, res[9]} + ({25'd0, OMG} << LOGP);
                    st <= 16'd1 << L_CHECK3;
                end
                st[L_CHECK3]: begin
                    w_end <= {9'd0, W_ADDR} + ({9'd0, w_beats} << LOGP);
                    w_total <= w_beats[23:0];
                    has[K_FETCH] <= 1'b0;
                    has[K_RQ] <= lw_r && rq_groups != 16'd0;
                    has[K_TAB] <= lw_r && tslots != 8'd0;
                    has[K_PT] <= lw_r && ptab_beats != 16'd0;
                    has[K_TILE] <= lw_r && tile_total != 24'd0;
                    has[K_A] <= f_load_a && a_total != 24'd0;
                    has[K_B] <= lb_r && b_total != 24'd0;
                    has[K_OFF] <= 1'b1;
                    lm1[K_FETCH] <= NDB_M1;
                    lm1[K_RQ] <= {5'd0, rq_m1, 3'd7};
                    lm1[K_TAB] <= tab_total - 24'd1;
                    lm1[K_PT] <= pt_total - 24'd1;
                    lm1[K_TILE] <= tile_total - 24'd1;
                    lm1[K_A] <= a_total - 24'd1;
                    lm1[K_B] <= b_total - 24'd1;
                    lm1[K_OFF] <= 24'd0;
                    c_first <= c_has[0] ? 2'd0 : c_has[1] ? 2'd1 : 2'd2;
                    r_first <= r_has[0] ? 2'd0 : r_has[1] ? 2'd1 : 2'd2;
                    c_wrap[0] <= !c_has[1] && !c_has[2];
                    c_wrap[1] <= !c_has[2];
                    c_wrap[2] <= 1'b1;
                    c_wrap[3] <= 1'b1;
                    st <= 16'd1 << L_CHECK4;
                end
                st[L_CHECK4]: begin
                    for (q = 0; q < 8; q = q + 1) lz1[q] <= lm1[q] == 24'd0;
                    // regions: the parameter block is one run; a contiguous row is one run
                    rg_has <= {lb_r, la_r, lw_r && w_total != 24'd0};
                    rg_addr[0] <= w_addr_r;
                    rg_rs[0] <= 32'd0;
                    rg_ps[0] <= 32'd0;
                    rg_r[0] <= 17'd0;
                    rg_r1[0] <= 17'h1FFFF;
                    rg_c[0] <= 17'd0;
                    rg_c1[0] <= 17'h1FFFF;
                    rg_beats[0] <= w_total;
                    rg_addr[1] <= a_addr_r;
                    rg_rs[1] <= a_rs32;
                    rg_ps[1] <= a_ps32;
                    rg_r[1] <= {1'b0, a_rows_m1};
                    rg_r1[1] <= {1'b0, a_rows_m1} - 17'd1;
                    rg_c[1] <= a_contig ? 17'd0 : {1'b0, a_cols_m1};
                    rg_c1[1] <= a_contig ? 17'h1FFFF : {1'b0, a_cols_m1} - 17'd1;
                    rg_beats[1] <= a_contig ? a_row_beats : {8'd0, icg_r};
                    rg_addr[2] <= b_addr_r;
                    rg_rs[2] <= b_rs32;
                    rg_ps[2] <= b_ps32;
                    rg_r[2] <= bcast_r ? 17'd0 : {1'b0, oh_m1};
                    rg_r1[2] <= bcast_r ? 17'h1FFFF : {1'b0, oh_m1} - 17'd1;
                    rg_c[2] <= bcast_r || b_contig ? 17'd0 : {1'b0, ow_m1};
                    rg_c1[2] <= bcast_r || b_contig ? 17'h1FFFF : {1'b0, ow_m1} - 17'd1;
                    rg_beats[2] <= bcast_r ? {8'd0, omg_r} : b_contig ? b_row_beats
                                                           : {8'd0, omg_r};
                    sec0 <= nth_section(has, 2'd0);
                    sec1 <= nth_section(has, 2'd1);
                    sec2 <= nth_section(has, 2'd2);
                    for (q = 0; q < 8; q = q + 1) begin
                        nxt[q] <= K_OFF;
                        if (q < K_B && has[K_B]) nxt[q] <= K_B;
                        if (q < K_A && has[K_A]) nxt[q] <= K_A;
                        if (q < K_TILE && has[K_TILE]) nxt[q] <= K_TILE;
                        if (q < K_PT && has[K_PT]) nxt[q] <= K_PT;
                        if (q < K_TAB && has[K_TAB]) nxt[q] <= K_TAB;
                        if (q < K_RQ && has[K_RQ]) nxt[q] <= K_RQ;
                    end
                    c_nx[0] <= c_wrap[0] ? c_first : c_has[1] ? 2'd1 : 2'd2;
                    c_nx[1] <= c_wrap[1] ? c_first : 2'd2;
                    c_nx[2] <= c_first;
                    c_nx[3] <= c_first;
                    r_nx[0] <= r_has[1] ? 2'd1 : 2'd2;
                    r_nx[1] <= 2'd2;
                    r_nx[2] <= 2'd2;
                    r_nx[3] <= 2'd2;
                    c_lm1[3] <= 16'd0;
                    r_lm1[3] <= 16'd0;
                    c_one[3] <= 1'b0;
                    r_one[3] <= 1'b0;
                    // the window checks; the first failure is picked in WAIT
                    size_ok_r <= size_a_r && size_b_r;
                    bad_w <= lw_r && w_end > msize;
                    bad_a <= la_r && a_end > msize;
                    bad_b <= lb_r && b_end > msize;
                    bad_o <= f_last && o_end > msize;
                    chk_ready <= 1'b0;
                    st <= 16'd1 << L_WAIT;
                end
                st[L_WAIT]: begin
                    // the first failed check, in the order the spec lists them
                    chk_code <= !size_ok_r ? `PF_E_SIZE : !align_ok_r ? `PF_E_ADDR
                              : bad_w || bad_a || bad_b || bad_o ? `PF_E_ADDR : 8'd0;
                    chk_addr <= bad_w ? W_ADDR : bad_a ? A_ADDR : bad_b ? B_ADDR
                              : bad_o ? O_ADDR : desc_addr;
                    chk_ready <= 1'b1;
                    e_ev <= EV_CHECK;
                    if (!chk_ready) begin
                        // the check's verdict is ready next cycle
                    end else if (chk_code != 8'd0) begin
                        st <= 16'd1 << L_ERR;
                    end else if (may_load) begin
                        k_start <= 1'b1;
                        k_fetch <= 1'b0;
                        k_go <= 1'b1;
                        st <= 16'd1 << L_LOAD;
                    end
                end
                st[L_LOAD]: if (load_done && !k_go) st <= 16'd1 << L_HAND;
                st[L_HAND]: begin
                    if (!h_valid && !c_busy) begin
                        h_valid <= 1'b1;
                        h_desc <= d;
                        h_consts <= {res[15][23:0], res[14][23:0], res[13][23:0],
                                     res[12][23:0], res[1][23:0]};
                    end
                    if (h_valid && h_ready) begin
                        h_valid <= 1'b0;
                        idx <= idx + 32'd1;
                        desc_addr <= desc_addr + 32'd128;
                        if (idx == count_m1) begin
                            done <= 1'b1;
                            st <= 16'd1 << L_IDLE;
                        end else begin
                            st <= 16'd1 << L_NEXT;
                        end
                    end
                end
                st[L_ERR]: begin  // stop issuing; let every outstanding burst drain
                    h_valid <= 1'b0;
                    moh <= 18'd0;
                    drain_cnt <= 32'd0;
                    st <= 16'd1 << L_DRAIN;
                end
                st[L_DRAIN]: if (drained || drain_to) begin
                    err_code <= e_code;
                    err <= e_code != 8'd0;
                    err_unit <= e_unit;
                    err_addr <= e_addr;
                    done <= 1'b1;
                    st <= 16'd1 << L_IDLE;
                end
                default: st <= 16'd1 << L_IDLE;
            endcase
            if (st[L_DRAIN]) drain_cnt <= drain_cnt + 32'd1;
            // errors from the memory or another stage
            if (!st[L_IDLE] && !st[L_START] && !st[L_ERR] && !st[L_DRAIN]
                && (rd_err || starved || stop)) begin
                x_ev <= rd_err ? EV_RRESP : starved ? EV_TIMEOUT : EV_STOP;
                st <= 16'd1 << L_ERR;
            end
            if (desc_in) begin
                d <= d_asm;
                d_magic_ok <= `PF_D_MAGIC(d_asm) == `PF_DESC_MAGIC
                              && `PF_D_VERSION(d_asm) == `PF_DESC_VERSION;
                d_kind_ok <= `PF_D_KIND(d_asm) != 4'd0 && `PF_D_KIND(d_asm) <= `PF_K_COPY;
            end
        end
    end
    // what the consumer and the generator start a load with: derived every cycle from the
    // section and region tables (settled from CHECK4 on; read in WAIT's second cycle)
    always @(posedge clk) begin
        rg_first <= rg_has[0] ? 2'd0 : rg_has[1] ? 2'd1 : rg_has[2] ? 2'd2 : 2'd3;
        rg_next[0] <= rg_has[1] ? 2'd1 : rg_has[2] ? 2'd2 : 2'd3;
        rg_next[1] <= rg_has[2] ? 2'd2 : 2'd3;
        rg_next[2] <= 2'd3;
        k0_sec <= sec0;
        k0_cls <= onehot(sec0);
        k0_nsec <= sec1;
        k0_ncls <= {onehot(sec1), sec1 == K_OFF};
        k0_nnsec <= sec2;
        k0_left <= lm1[sec0];
        k0_lz <= lz1[sec0];
        k0_nleft <= lm1[sec1];
        k0_nlz <= lz1[sec1];
        k0_bm1 <= sec0 == K_RQ ? RQB_M1 : tb_m1;
    end

    always @(posedge clk) begin
        e_unit <= in_load ? `PF_U_LOAD : `PF_U_FETCH;
        e_addr <= x_ev == 4'd0 && e_ev == EV_CHECK ? chk_addr : desc_addr;
        case (x_ev != 4'd0 ? x_ev : e_ev)
            EV_START: begin
                e_code <= `PF_E_ADDR;
                e_unit <= `PF_U_FETCH;
            end
            EV_MAGIC: e_code <= `PF_E_MAGIC;
            EV_KIND: e_code <= `PF_E_KIND;
            EV_FORMAT: e_code <= `PF_E_FORMAT;
            EV_CHECK: e_code <= chk_code;
            EV_RRESP: e_code <= `PF_E_RRESP;
            EV_TIMEOUT: e_code <= `PF_E_TIMEOUT;
            default: e_code <= 8'd0;
        endcase
    end

    // stop the load parts: registered (one cycle after the error; a beat moved meanwhile
    // is harmless, the run has failed)
    always @(posedge clk) halt <= rst || st[L_ERR] || st[L_DRAIN];

    // ------------------------------------------------------------------ run generator
    // Regions, in order: 0 the parameter block (one run), 1 operand A, 2 operand B; each
    // is rows x columns of runs (a contiguous row is one run; a broadcast operand B is
    // one run). Two cycles per run: EMIT hands a run to the splitter and registers where
    // the loops stand; ADV moves them. Loop ends come from the sign of a second counter
    // one below the first, so no step compares a wide value.
    localparam [1:0] G_IDLE = 2'd0, G_ENTER = 2'd1, G_EMIT = 2'd2, G_ADV = 2'd3;
    reg [1:0] g_st;
    reg g_valid;
    reg [1:0] g_nrg;              // the region to enter next (3: none)
    reg [31:0] g_row, g_pix;      // offsets of the current row / run
    reg [16:0] g_r, g_r1, g_c, g_c1;  // rows / columns left after this one, and that - 1
    reg g_rowend, g_regend;       // registered at EMIT: this run ends its row / region
    reg [31:0] g_off;
    reg [23:0] g_beats;
    reg [31:0] cur_rs, cur_ps;
    reg [23:0] cur_beats;
    reg [16:0] cur_c, cur_c1;
    wire g_take;
    always @(posedge clk) begin
        if (halt) begin
            g_st <= G_IDLE;
            g_valid <= 1'b0;
        end else begin
            if (g_take) g_valid <= 1'b0;
            case (g_st)
                G_IDLE: if (g_go) begin
                    g_nrg <= rg_first;
                    g_st <= G_ENTER;
                end
                G_ENTER: begin
                    if (g_nrg == 2'd3) begin
                        g_st <= G_IDLE;
                    end else begin
                        g_row <= rg_addr[g_nrg];
                        g_pix <= rg_addr[g_nrg];
                        g_r <= rg_r[g_nrg];
                        g_r1 <= rg_r1[g_nrg];
                        g_c <= rg_c[g_nrg];
                        g_c1 <= rg_c1[g_nrg];
                        cur_c <= rg_c[g_nrg];
                        cur_c1 <= rg_c1[g_nrg];
                        cur_rs <= rg_rs[g_nrg];
                        cur_ps <= rg_ps[g_nrg];
                        cur_beats <= rg_beats[g_nrg];
                        g_nrg <= rg_next[g_nrg];
                        g_st <= G_EMIT;
                    end
                end
                G_EMIT: if (!g_valid) begin
                    g_valid <= 1'b1;
                    g_off <= g_pix;
                    g_beats <= cur_beats;
                    g_rowend <= g_c1[16];
                    g_regend <= g_c1[16] && g_r1[16];
                    g_st <= G_ADV;
                end
                default: begin  // G_ADV
                    if (g_regend) begin
                        g_st <= G_ENTER;
                    end else if (g_rowend) begin
                        g_row <= g_row + cur_rs;
                        g_pix <= g_row + cur_rs;
                        g_r <= g_r - 17'd1;
                        g_r1 <= g_r1 - 17'd1;
                        g_c <= cur_c;
                        g_c1 <= cur_c1;
                        g_st <= G_EMIT;
                    end else begin
                        g_pix <= g_pix + cur_ps;
                        g_c <= g_c - 17'd1;
                        g_c1 <= g_c1 - 17'd1;
                        g_st <= G_EMIT;
                    end
                end
            endcase
        end
    end

    // ------------------------------------------------------------------ burst splitter
    // runs (and the descriptor's own burst) into bursts that stay inside a 4 KB page and
    // PF_MAX_BURST beats: one cycle measures the page, the next picks the length
    localparam [1:0] S_IDLE = 2'd0, S_PAGE = 2'd1, S_LEN = 2'd2, S_ISSUE = 2'd3;
    reg [1:0] s_st;
    reg [31:0] s_off;
    reg [23:0] s_left;
    reg [8:0] s_len;
    reg [12:0] s_page;            // beats to the end of the page
    reg s_small;                  // s_left <= PF_MAX_BURST
    reg s_last;                   // this burst ends the run
    wire s_in_page = s_left <= {11'd0, s_page};
    wire s_page_small = s_page <= 13'd256;
    assign g_take = g_valid && s_st == S_IDLE && !f_req;
    always @(posedge clk) begin
        if (rst) begin
            s_st <= S_IDLE;
            req_valid <= 1'b0;
        end else begin
            if (req_valid && req_ready) req_valid <= 1'b0;
            if (halt) begin
                s_st <= S_IDLE;
            end else begin
                case (s_st)
                    S_IDLE: begin
                        if (f_req) begin  // the descriptor: one burst (128 bytes, one page)
                            req_valid <= 1'b1;
                            req_off <= desc_addr;
                            req_len1 <= NDB_M1[7:0];
                        end else if (g_take) begin
                            s_off <= g_off;
                            s_left <= g_beats;
                            s_st <= S_PAGE;
                        end
                    end
                    S_PAGE: begin
                        s_page <= (13'h1000 - {1'b0, s_off[11:0]}) >> LOGP;
                        s_small <= s_left <= 24'd256;
                        s_st <= S_LEN;
                    end
                    S_LEN: begin  // min(s_left, s_page, 256)
                        s_len <= s_in_page && s_small ? s_left[8:0]
                               : !s_in_page && s_page_small ? s_page[8:0] : 9'd256;
                        s_last <= s_in_page && s_small;
                        s_st <= S_ISSUE;
                    end
                    default: if (!req_valid) begin  // S_ISSUE
                        req_valid <= 1'b1;
                        req_off <= s_off;
                        req_len1 <= s_len[7:0] - 8'd1;
                        s_off <= s_off + ({23'd0, s_len} << LOGP);
                        s_left <= s_left - {15'd0, s_len};
                        s_st <= s_last ? S_IDLE : S_PAGE;
                    end
                endcase
            end
        end
    end

    // ------------------------------------------------------------------ read FIFO
    // four beats; its fill is one-hot (fq_occ[n]: n beats), so "has a beat" and "has
    // room" are single bits and each update is one LUT level
    reg [BEATW-1:0] fq [0:3];
    reg [1:0] fq_wp, fq_rp;
    reg [4:0] fq_occ;
    reg rdy;
    wire fq_has = !fq_occ[0];     // the FIFO holds a beat
    wire [BEATW-1:0] fq_head = fq[fq_rp];
    wire push = rd_valid && rdy;
    wire pop;
    assign rd_ready = rdy;
    always @(posedge clk) begin
        if (push) fq[fq_wp] <= rd_data;
    end
    reg [4:0] occ_next;
    always @(*) begin
        case ({push, pop})
            2'b10: occ_next = {fq_occ[3:0], 1'b0};
            2'b01: occ_next = {1'b0, fq_occ[4:1]};
            default: occ_next = fq_occ;
        endcase
    end
    always @(posedge clk) begin
        if (rst) begin
            fq_wp <= 2'd0;
            fq_rp <= 2'd0;
            fq_occ <= 5'b00001;
            rdy <= 1'b0;
        end else begin
            if (push) fq_wp <= fq_wp + 2'd1;
            if (pop) fq_rp <= fq_rp + 2'd1;
            fq_occ <= occ_next;
            rdy <= fq_occ[0] || fq_occ[1];  // at most two more beats arrive unseen
        end
    end

    // ------------------------------------------------------------------ consumer: decide
    // The section being loaded, and the two after it, are registers (k_sec, k_nsec,
    // k_nnsec), so that a section's end only reads prepared values. One-hot flags of
    // k_sec keep the take decision to one LUT.
    reg [2:0] k_sec, k_nsec, k_nnsec;
    reg kN, kA, kPT, kRQ;         // k_sec: a plain section / operand A / LUT-RAM table / requant
    reg nN, nA, nPT, nRQ, nOFF;   // the same for k_nsec
    reg [23:0] k_cnt;             // beats / words done in the section
    reg [23:0] k_left;            // ... left after this one
    reg k_lz;                     // this is the section's last
    reg [23:0] k_nleft;           // the next section's length - 1
    reg k_nlz;
    reg [7:0] k_beat, kb_left;    // beat within its block, beats of the block left
    reg [MAXB-1:0] k_boh;         // k_beat, one-hot
    reg k_bz;                     // ... the block's last
    reg [15:0] k_blk;             // block (requant group, tile) within the section
    reg [15:0] k_j;               // operand A: groups of the pixel left after this one
    reg k_jz;
    reg [1:0] c_nph, r_nph;       // operand A: the next column / row phase
    reg [15:0] c_left, r_left;    // columns / rows of the phase left after this one
    reg c_lz, r_lz, r_real, c_wr; // c_wr: the column phase ends the row
    reg a_pad;                    // the current operand-A word is padding
    reg pt_busy;
    reg [BEATW-1:0] pt_word;
    reg [7:0] pt_j;
    reg [15:0] pt_e;
    reg [31:0] idle_cnt;
    wire k_take = (kN && fq_has) || (kPT && !pt_busy && fq_has) || (kA && (a_pad || fq_has));
    assign drained = !rd_busy && !req_valid && !fq_has;
    assign pop = (fq_has && ((kN || kA && !a_pad) || (kPT && !pt_busy))) || (halt && fq_has);

    // the move, one cycle later
    reg mv, mv_pad, mv_bz, mv_last, mv_end;
    reg [7:0] mv_is;              // mv_sec, one-hot (0 without a move)
    reg [MAXB-1:0] mv_boh;        // mv_beat, one-hot
    reg [BEATW-1:0] mv_data;
    reg [23:0] mv_cnt;
    reg [15:0] mv_blk;

    // the section sequence
    always @(posedge clk) begin
        if (rst || halt) begin
            k_sec <= K_OFF;
            {kN, kA, kPT, kRQ} <= 4'd0;
        end else if (k_start) begin  // a fetch: one section of NDB beats; a load: sec0...
            k_sec <= k_fetch ? K_FETCH : k0_sec;
            {kN, kA, kPT, kRQ} <= k_fetch ? 4'b1000 : k0_cls;
            k_cnt <= 24'd0;
            k_left <= k_fetch ? NDB_M1 : k0_left;
            k_lz <= k_fetch ? NDB == 1 : k0_lz;
            k_nsec <= k_fetch ? K_OFF : k0_nsec;
            {nN, nA, nPT, nRQ, nOFF} <= k_fetch ? 5'b00001 : k0_ncls;
            k_nnsec <= k_fetch ? K_OFF : k0_nnsec;
            k_nleft <= k_fetch ? 24'd0 : k0_nleft;
            k_nlz <= k_fetch ? 1'b0 : k0_nlz;
        end else if (k_take) begin
            k_cnt <= k_cnt + 24'd1;
            if (k_lz) begin  // the section's end: on to the next
                k_sec <= k_nsec;
                {kN, kA, kPT, kRQ} <= {nN, nA, nPT, nRQ};
                k_cnt <= 24'd0;
                k_left <= k_nleft;
                k_lz <= k_nlz;
                k_nsec <= k_nnsec;
                {nN, nA, nPT, nRQ, nOFF} <= {onehot(k_nnsec), k_nnsec == K_OFF};
                k_nnsec <= nxt[k_nnsec];
                k_nleft <= lm1[k_nnsec];
                k_nlz <= lz1[k_nnsec];
            end else begin
                k_left <= k_left - 24'd1;
                k_lz <= k_left == 24'd1;
            end
        end
    end

    // the position within blocks (requant groups, tiles): beats left count down
    always @(posedge clk) begin
        if (k_go) begin
            k_beat <= 8'd0;
            k_boh <= {{(MAXB-1){1'b0}}, 1'b1};
            kb_left <= k0_bm1;
            k_bz <= k0_bm1 == 8'd0;
            k_blk <= 16'd0;
        end else if (k_take) begin
            if (k_bz || k_lz) begin
                k_beat <= 8'd0;
                k_boh <= {{(MAXB-1){1'b0}}, 1'b1};
                kb_left <= (k_lz ? nRQ : kRQ) ? RQB_M1 : tb_m1;
                k_bz <= (k_lz ? nRQ : kRQ) ? RQB_M1 == 8'd0 : tb_z;
                k_blk <= k_lz ? 16'd0 : k_blk + 16'd1;
            end else begin
                k_beat <= k_beat + 8'd1;
                k_boh <= {k_boh[MAXB-2:0], 1'b0};
                kb_left <= kb_left - 8'd1;
                k_bz <= kb_left == 8'd1;
            end
        end
    end

    // operand A: group within the pixel, column phase, row phase. a_rowend = k_jz && c_lz
    // && c_wr (the step ends the row), kept as a register beside them so that the row
    // registers' enable is one LUT of registers (the wide k_go net feeds no LUT chain)
    reg a_rowend;
    wire a_step = kA && (a_pad || fq_has);
    always @(posedge clk) begin
        if (k_go) begin
            k_j <= icg_m1;
            k_jz <= icg_m1 == 16'd0;
            c_nph <= c_nx[c_first];
            c_wr <= c_wrap[c_first];
            c_left <= c_lm1[c_first];
            c_lz <= c_one[c_first];
            a_rowend <= icg_m1 == 16'd0 && c_one[c_first] && c_wrap[c_first];
            a_pad <= !(c_first == 2'd1 && r_first == 2'd1);
        end else if (a_step) begin
            if (!k_jz) begin
                k_j <= k_j - 16'd1;
                k_jz <= k_j == 16'd1;
                a_rowend <= k_j == 16'd1 && c_lz && c_wr;
            end else begin
                k_j <= icg_m1;
                k_jz <= icg_m1 == 16'd0;
                if (!c_lz) begin
                    c_left <= c_left - 16'd1;
                    c_lz <= c_left == 16'd1;
                    a_rowend <= icg_m1 == 16'd0 && c_left == 16'd1 && c_wr;
                end else begin
                    c_nph <= c_nx[c_nph];
                    c_wr <= c_wrap[c_nph];
                    c_left <= c_lm1[c_nph];
                    c_lz <= c_one[c_nph];
                    a_rowend <= icg_m1 == 16'd0 && c_one[c_nph] && c_wrap[c_nph];
                    a_pad <= !(c_nph == 2'd1 && (c_wr ? r_lz ? r_nph == 2'd1 : r_real
                                                       : r_real));
                end
            end
        end
    end
    // the row phase: the next row after the row's last column
    always @(posedge clk) begin
        if (k_go) begin
            r_nph <= r_nx[r_first];
            r_left <= r_lm1[r_first];
            r_lz <= r_one[r_first];
            r_real <= r_first == 2'd1;
        end else if (a_step && a_rowend) begin
            if (!r_lz) begin
                r_left <= r_left - 16'd1;
                r_lz <= r_left == 16'd1;
            end else begin
                r_nph <= r_nx[r_nph];
                r_left <= r_lm1[r_nph];
                r_lz <= r_one[r_nph];
                r_real <= r_nph == 2'd1;
            end
        end
    end

    // the memory watchdog: a beat is due and does not come
    always @(posedge clk) begin
        if (rst || halt || !(kN || kPT || kA && !a_pad) || fq_has) begin
            idle_cnt <= 32'd0;
            starved <= 1'b0;
        end else begin
            idle_cnt <= idle_cnt + 32'd1;
            starved <= idle_cnt == timeout;
        end
    end

    // what moves where, one cycle later
    always @(posedge clk) begin
        mv <= !rst && !halt && k_take;  // (no take while a start is pending)
        mv_data <= fq_head;
        mv_pad <= kA && a_pad;
        mv_boh <= k_boh;
        mv_is <= (!rst && !halt && k_take) ? 8'd1 << k_sec : 8'd0;
        mv_bz <= k_bz;
        mv_cnt <= k_cnt;
        mv_blk <= k_blk;
        mv_last <= k_lz;
        mv_end <= k_lz && nOFF;
    end

    // LUT-RAM product table: P/2 entries per beat
    always @(posedge clk) begin
        if (rst || halt) begin
            pt_busy <= 1'b0;
        end else if (k_go) begin
            pt_e <= 16'd0;
        end else begin
            if (kPT && k_take) begin
                pt_busy <= 1'b1;
                pt_word <= fq_head;
            end
            if (pt_busy) begin
                pt_e <= pt_e + 16'd1;
                if ({24'd0, pt_j} == P / 2 - 1) pt_busy <= 1'b0;
            end
        end
    end
    // the entry within the beat: counts while busy, 0 otherwise (so 0 when a beat starts)
    always @(posedge clk) pt_j <= pt_busy ? pt_j + 8'd1 : 8'd0;

    // ------------------------------------------------------------------ the mover
    wire [TILEW-1:0] tile_x;
    reg [TILEW-1:0] tile;
    reg tile_full;
    reg [15:0] tile_addr;
    reg [64*P-1:0] rq_blk;
    genvar gf;
    generate
        for (gf = 0; gf < P * P; gf = gf + 1) begin : expand_lane
            if (WBITS < 8) begin : narrow
                assign tile_x[gf*8 +: 8] = expand ? {{(8-WBITS){1'b0}}, tile[gf*WBITS +: WBITS]}
                                                  : tile[gf*8 +: 8];
            end else begin : full
                assign tile_x[gf*8 +: 8] = tile[gf*8 +: 8];
            end
        end
    endgenerate
    // the descriptor's beat position (one-hot) while it is fetched
    reg [NDB-1:0] f_pos;
    always @(posedge clk) begin
        if (k_start) f_pos <= {{(NDB-1){1'b0}}, 1'b1};
        else if (mv_is[K_FETCH]) f_pos <= {f_pos[NDB-2:0], 1'b0};
    end
    integer qm;
    always @(posedge clk) begin
        for (qm = 0; qm < NDB; qm = qm + 1)
            if (mv_is[K_FETCH] && f_pos[qm]) d_asm[qm*BEATW +: BEATW] <= mv_data;
        for (qm = 0; qm < RQB; qm = qm + 1)
            if (mv_is[K_RQ] && mv_boh[qm]) rq_blk[qm*BEATW +: BEATW] <= mv_data;
        for (qm = 0; qm < MAXTB; qm = qm + 1) begin
            if (mv_is[K_TILE] && mv_boh[qm]) tile[qm*BEATW +: BEATW] <= mv_data;
            else if (mv_is[K_TILE] && mv_boh[0]) tile[qm*BEATW +: BEATW] <= {BEATW{1'b0}};
        end
    end
    always @(posedge clk) begin
        desc_in <= mv_is[K_FETCH] && mv_last;
        // (wide data registers load only with their write: a single registered enable)
        // requant records: a group's eight beats, written with its last
        r_we <= mv_is[K_RQ] && mv_bz;
        if (mv_is[K_RQ] && mv_bz) begin
            r_bank <= wbank_r;
            r_addr <= mv_blk;
            r_data <= {mv_data, rq_blk[0 +: (RQB-1)*BEATW]};
        end
        // activation tables: a beat per 16 entries
        t_we <= mv_is[K_TAB];
        if (mv_is[K_TAB]) begin
            t_bank <= wbank_r;
            t_addr <= mv_cnt[15:0];
            t_data <= mv_data;
        end
        // weight tiles: written when complete
        tile_full <= mv_is[K_TILE] && mv_bz;
        if (mv_is[K_TILE] && mv_bz) tile_addr <= mv_blk;
        w_we <= tile_full;
        if (tile_full) begin
            w_bank <= wbank_r;
            w_addr <= tile_addr;
            w_data <= tile_x;
        end
        // operands A (with padding words) and B
        a_we <= mv_is[K_A] || mv_is[K_B];
        if (mv_is[K_A] || mv_is[K_B]) begin
            a_bank <= mv_is[K_A] ? abank_r : !abank_r;
            a_addr <= mv_cnt;
            a_data <= mv_is[K_A] && mv_pad ? {P{padb}} : mv_data;
        end
        // LUT-RAM product table: P/2 entries per beat
        p_we <= !rst && pt_busy;
        if (pt_busy) begin
            p_addr <= pt_e;
            p_data <= pt_word[pt_j*16 +: 16];
        end
        if (rst || halt) load_done <= 1'b0;
        else if (k_go) load_done <= sec0 == K_OFF;  // nothing to load
        else if (mv && mv_end && !mv_is[K_FETCH]) load_done <= 1'b1;
    end

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, KH, KW, na[39:24], npg[39:24], flags, padv[8],
                       rq_blk[64*P-1 -: BEATW], has[0], expand, c_lm1[3], r_lm1[3],
                       c_one[3], r_one[3], c_has[3], r_has[3:2], r_len[2],
                       c_len[2]};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
