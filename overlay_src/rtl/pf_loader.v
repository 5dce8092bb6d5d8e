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
// Three decoupled parts, built for 250 MHz: the run generator turns sections into
// 4 KB-safe bursts for pf_axi_rd; read beats land in a small FIFO; the consumer decides
// what each beat (or padding word) is for in one cycle and moves it in the next. Loop
// limits are registers computed while the descriptor is checked.
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

    // ------------------------------------------------------------------ states
    localparam [3:0] L_IDLE = 4'd0, L_NEXT = 4'd1, L_FETCH = 4'd2, L_DECODE = 4'd3,
                     L_FORMAT = 4'd4, L_MUL = 4'd5, L_CHECK1 = 4'd6, L_CHECK2 = 4'd7,
                     L_CHECK3 = 4'd8, L_CHECK4 = 4'd9, L_WAIT = 4'd10, L_LOAD = 4'd11,
                     L_HAND = 4'd12, L_ERR = 4'd13, L_DRAIN = 4'd14, L_START = 4'd15;
    reg [3:0] state;
    reg [31:0] idx, count_m1;
    reg [40:0] prog_end;
    reg [31:0] desc_addr;         // offset of descriptor idx
    reg [7:0] e_code, e_unit;
    reg [31:0] e_addr;

    // ------------------------------------------------------------------ products
    // one product per cycle through a pipelined multiplier (latency 3)
    reg [4:0] mstep;  // products 0..17
    reg [23:0] ma;
    reg [15:0] mb;
    wire [39:0] mp;
    pf_mul #(.AW(24), .BW(16)) mul (.clk(clk), .a(ma), .b(mb), .p(mp));
    reg [39:0] res [0:17];
    function automatic [23:0] sat24(input [39:0] v);
        sat24 = |v[39:24] ? 24'hFF_FFFF : v[23:0];
    endfunction
    always @(posedge clk) begin
        case (mstep)
            5'd0:  begin ma <= {8'd0, IH};      mb <= IW; end
            5'd1:  begin ma <= {8'd0, IW};      mb <= ICG; end
            5'd2:  begin ma <= {8'd0, OH};      mb <= OW; end
            5'd3:  begin ma <= {8'd0, ntiles};  mb <= {8'd0, tile_beats}; end
            5'd4:  begin ma <= A_RS;            mb <= A_ROWS - 16'd1; end
            5'd5:  begin ma <= A_PS;            mb <= A_COLS - 16'd1; end
            5'd6:  begin ma <= B_RS;            mb <= OH - 16'd1; end
            5'd7:  begin ma <= B_PS;            mb <= OW - 16'd1; end
            5'd8:  begin ma <= O_RS;            mb <= OH - 16'd1; end
            5'd9:  begin ma <= O_PS;            mb <= OW - 16'd1; end
            5'd10: begin ma <= sat24(res[0]);   mb <= ICG; end
            5'd11: begin ma <= sat24(res[2]);   mb <= OMG; end
            5'd12: begin ma <= sat24(res[1]);   mb <= {12'd0, SH}; end
            5'd13: begin ma <= sat24(res[1]);   mb <= {12'd0, DH}; end
            5'd14: begin ma <= {8'd0, ICG};     mb <= {12'd0, SW}; end
            5'd15: begin ma <= {8'd0, ICG};     mb <= {12'd0, DWd}; end
            5'd16: begin ma <= {8'd0, A_COLS};  mb <= ICG; end
            default: begin ma <= {8'd0, OW};    mb <= OMG; end
        endcase
    end
    // (operands registered here, then pf_mul's three stages: result 4 cycles after mstep)
    reg [4:0] mq [0:3];
    reg [3:0] mqv;
    always @(posedge clk) begin
        mqv <= {mqv[2:0], state == L_MUL && mstep < 5'd18};
        mq[0] <= mstep;
        mq[1] <= mq[0];
        mq[2] <= mq[1];
        mq[3] <= mq[2];
        if (mqv[3]) res[mq[3]] <= mp;
    end

    // ------------------------------------------------------------------ checks
    wire [39:0] na = res[10], npg = res[11];
    wire psum = !(f_first && f_last);
    reg [40:0] w_end, a_end, b_end, o_end;
    reg [40:0] a_mid, b_mid, o_mid;
    reg [31:0] w_beats, w_part;
    reg fmt_ok, size_ok, align_ok;
    reg fmt_ok_r, size_ok_r, align_ok_r, w_bad, a_bad, b_bad, o_bad;
    wire [40:0] msize = {9'd0, mem_size};
    /* verilator lint_off UNUSEDSIGNAL */
    function automatic aligned(input [31:0] v);
        aligned = v[LOGP-1:0] == {LOGP{1'b0}};
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */
    always @(*) begin
        fmt_ok = 1'b1;
        case (kind)
            `PF_K_CONV: begin
                if (PE_TYPE == 0 || f_int8)
                    fmt_ok = HAS8 != 0 && f_wsigned && field_w == 4'd8;
                else
                    fmt_ok = !f_wsigned && field_w == WBITS[3:0]
                             && (PE_TYPE != 3 || (abits != 0 && abits <= ABITS[3:0]));
            end
            `PF_K_DW, `PF_K_MAXPOOL, `PF_K_SUMPOOL, `PF_K_ADD, `PF_K_MUL, `PF_K_COPY:
                fmt_ok = f_first && f_last;
            default: fmt_ok = 1'b0;
        endcase
        fmt_ok = fmt_ok && OH != 0 && OW != 0 && OMG != 0 && KH != 0 && KW != 0
                 && SH != 0 && SW != 0 && DH != 0 && DWd != 0 && IH != 0 && IW != 0
                 && ICG != 0 && tile_beats <= MAXTB[7:0] && (!vector || ICG == OMG)
                 && {8'd0, PAD_T} + {1'b0, A_ROWS} <= {1'b0, IH}
                 && {8'd0, PAD_L} + {1'b0, A_COLS} <= {1'b0, IW};
        size_ok = na <= AD40 && {24'd0, ntiles} <= WD40 && {24'd0, rq_groups} <= MD40
                  && {32'd0, tslots} <= TS40 && (!psum || npg <= PD40)
                  && (!binary || f_bcast || npg <= AD40) && (!binary || {24'd0, OMG} <= AD40);
        align_ok = aligned(W_ADDR) && aligned(A_ADDR) && aligned({8'd0, A_RS})
                   && aligned({8'd0, A_PS}) && aligned(B_ADDR) && aligned({8'd0, B_RS})
                   && aligned({8'd0, B_PS}) && aligned(O_ADDR) && aligned({8'd0, O_RS})
                   && aligned({8'd0, O_PS});
    end

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

    // ------------------------------------------------------------------ loop limits
    // (registered in L_CHECK2, used by the generator and the consumer)
    reg [15:0] a_rows_m1, a_cols_m1, oh_m1, ow_m1, icg_m1;
    reg [15:0] c_len [0:2];
    reg [15:0] r_len [0:2];
    reg [23:0] a_row_beats, b_row_beats, b_total, tab_total, pt_total, w_total, a_total;
    reg a_contig, b_contig;
    reg [15:0] rq_m1, nt_m1;
    reg [7:0] tb_m1;

    // ------------------------------------------------------------------ run generator
    reg g_act, g_valid;
    reg [1:0] g_sec;              // 0 parameters, 1 operand A, 2 operand B
    reg [31:0] g_row, g_pix;      // offsets of the current row / pixel
    reg [15:0] g_r, g_c;          // rows / columns left after this one
    reg g_rz, g_cz;
    reg [31:0] g_off;
    reg [23:0] g_beats;

    // ------------------------------------------------------------------ burst splitter
    reg s_busy, s_calc;
    reg [31:0] s_off;
    reg [23:0] s_left;
    reg [8:0] s_len;
    wire [12:0] to_page = 13'h1000 - {1'b0, s_off[11:0]};
    wire [12:0] page_beats = to_page >> LOGP;
    wire g_take = g_valid && !s_busy;

    // ------------------------------------------------------------------ read FIFO
    reg [BEATW-1:0] fq [0:3];
    reg [2:0] fq_wp, fq_rp, fq_n;
    reg rdy, fq_has;  // fq_has: the FIFO holds a beat (registered)
    wire [BEATW-1:0] fq_head = fq[fq_rp[1:0]];
    wire push = rd_valid && rdy;
    wire pop;
    assign rd_ready = rdy;
    always @(posedge clk) begin
        if (push) fq[fq_wp[1:0]] <= rd_data;
    end

    // ------------------------------------------------------------------ consumer: decide
    localparam [2:0] K_FETCH = 3'd0, K_RQ = 3'd1, K_TAB = 3'd2, K_PT = 3'd3, K_TILE = 3'd4,
                     K_A = 3'd5, K_B = 3'd6, K_OFF = 3'd7;
    reg [2:0] k_sec;
    reg [23:0] k_cnt;             // beats / words done in the section
    reg k_lz;                     // this is the section's last beat / word
    reg [7:0] k_beat;             // beat within its block
    reg k_bz;                     // ... the block's last
    reg [15:0] k_blk;             // block (requant group, tile) within the section
    reg [23:0] k_left;            // beats (words) of the section left after this one
    reg [7:0] kb_left;            // beats of the block left after this one
    reg [15:0] k_j;               // operand A: groups of the pixel left after this one
    reg k_jz;
    // operand A's columns and rows pass through phases: 0 padding before, 1 real,
    // 2 padding after; each phase's length is known when the descriptor is checked
    reg [1:0] c_ph, r_ph, c_first, r_first;
    reg [15:0] c_left, r_left;    // columns / rows of the phase left after this one
    reg c_lz, r_lz, c_real, r_real;
    reg [15:0] c_len_m1 [0:3];
    reg [15:0] r_len_m1 [0:3];
    reg [1:0] c_next [0:3];
    reg [1:0] r_next [0:3];
    reg [3:0] c_one, r_one, c_wrap, c_has, r_has;
    wire r_wrap_unused = 1'b0;
    reg pt_busy;
    reg [BEATW-1:0] pt_word;
    reg [7:0] pt_j;
    reg [15:0] pt_e;
    wire a_pad = !(c_real && r_real);
    reg k_take;   // combinational: the consumer moves a beat (or a padding word) now
    always @(*) begin
        case (k_sec)
            K_FETCH, K_RQ, K_TAB, K_TILE, K_B: k_take = fq_has;
            K_PT: k_take = !pt_busy && fq_has;
            K_A: k_take = a_pad || fq_has;
            default: k_take = 1'b0;
        endcase
    end
    assign pop = (k_take && !(k_sec == K_A && a_pad)) || (state == L_DRAIN && fq_has);

    // the move, one cycle later
    reg mv, mv_pad, mv_bz;
    reg [2:0] mv_sec;
    reg [BEATW-1:0] mv_data;
    reg [7:0] mv_beat;
    reg [23:0] mv_cnt;
    reg [15:0] mv_blk;
    reg mv_last;                  // the section's last beat

    // the sections of the current load, in order: their lengths and successors
    // (registered while the descriptor is checked)
    reg [2:0] nxt [0:7];
    reg [23:0] lm1 [0:7];         // beats (words) of the section, minus one
    reg [7:0] lz1;                // ... is zero
    reg [7:0] has;                // the load has the section
    reg [23:0] tile_total;
    wire [TILEW-1:0] tile_x;
    reg [TILEW-1:0] tile;
    reg tile_full;
    reg [15:0] tile_addr;
    reg [64*P-1:0] rq_blk;
    reg [`PF_DESC_BITS-1:0] d_asm;
    reg desc_in;                   // the fetched descriptor is complete in d_asm
    reg [31:0] idle_cnt;
    reg load_done;                 // the consumer finished the current load

    // the expanded wbuf word of a tile (8-bit lanes; low-bit codes zero-extended)
    reg expand;
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

    integer q;
    always @(posedge clk) begin
        if (rst) begin
            state <= L_IDLE;
            done <= 1'b0;
            req_valid <= 1'b0;
            h_valid <= 1'b0;
            g_act <= 1'b0;
            g_valid <= 1'b0;
            s_busy <= 1'b0;
            s_calc <= 1'b0;
            k_sec <= K_OFF;
            pt_busy <= 1'b0;
            a_we <= 1'b0;
            w_we <= 1'b0;
            r_we <= 1'b0;
            t_we <= 1'b0;
            p_we <= 1'b0;
            mv <= 1'b0;
            tile_full <= 1'b0;
            desc_in <= 1'b0;
            err_code <= 8'd0;
            err_unit <= 8'd0;
            err_addr <= 32'd0;
            cur_desc <= 32'd0;
            idle_cnt <= 32'd0;
            mstep <= 5'd0;
            fq_wp <= 3'd0;
            fq_rp <= 3'd0;
            fq_n <= 3'd0;
            fq_has <= 1'b0;
            rdy <= 1'b0;
            load_done <= 1'b0;
        end else begin
            done <= 1'b0;
            a_we <= 1'b0;
            w_we <= 1'b0;
            r_we <= 1'b0;
            t_we <= 1'b0;
            p_we <= 1'b0;
            desc_in <= 1'b0;
            if (req_valid && req_ready) req_valid <= 1'b0;

            // ---------------- read FIFO
            if (push) fq_wp <= fq_wp + 3'd1;
            if (pop) fq_rp <= fq_rp + 3'd1;
            fq_n <= fq_n + {2'd0, push} - {2'd0, pop};
            fq_has <= fq_n + {2'd0, push} - {2'd0, pop} != 3'd0;
            rdy <= fq_n <= 3'd1;  // at most two more beats arrive before it is seen

            // ---------------- memory watchdog: a beat is due and does not come
            if (k_sec != K_OFF && !fq_has && !(k_sec == K_A && a_pad) && state != L_DRAIN)
                idle_cnt <= idle_cnt + 32'd1;
            else idle_cnt <= 32'd0;

            // ---------------- run generator: sections into runs (offset, beats)
            if (g_take) g_valid <= 1'b0;
            if (g_act && (!g_valid || g_take)) begin
                case (g_sec)
                    2'd0: begin  // the parameter block: one run
                        g_off <= W_ADDR;
                        g_beats <= w_total;
                        g_valid <= f_load_w && w_total != 24'd0;
                        g_sec <= 2'd1;
                        g_row <= A_ADDR;
                        g_pix <= A_ADDR;
                        g_r <= a_rows_m1;
                        g_c <= a_cols_m1;
                        g_rz <= a_rows_m1 == 16'd0;
                        g_cz <= a_cols_m1 == 16'd0;
                        if (!f_load_a || A_ROWS == 16'd0) begin
                            g_sec <= 2'd2;
                            g_row <= B_ADDR;
                            g_pix <= B_ADDR;
                            g_r <= oh_m1;
                            g_c <= ow_m1;
                            g_rz <= oh_m1 == 16'd0;
                            g_cz <= ow_m1 == 16'd0;
                        end
                    end
                    2'd1: begin  // operand A: a run per row, or per pixel
                        g_valid <= 1'b1;
                        g_off <= a_contig ? g_row : g_pix;
                        g_beats <= a_contig ? a_row_beats : {8'd0, ICG};
                        if (a_contig || g_cz) begin
                            g_r <= g_r - 16'd1;
                            g_rz <= g_r == 16'd1;
                            g_c <= a_cols_m1;
                            g_cz <= a_cols_m1 == 16'd0;
                            g_row <= g_row + {8'd0, A_RS};
                            g_pix <= g_row + {8'd0, A_RS};
                        end else begin
                            g_c <= g_c - 16'd1;
                            g_cz <= g_c == 16'd1;
                            g_pix <= g_pix + {8'd0, A_PS};
                        end
                        if ((a_contig || g_cz) && g_rz) begin
                            g_sec <= 2'd2;
                            g_row <= B_ADDR;
                            g_pix <= B_ADDR;
                            g_r <= oh_m1;
                            g_c <= ow_m1;
                            g_rz <= oh_m1 == 16'd0;
                            g_cz <= ow_m1 == 16'd0;
                        end
                    end
                    default: begin  // operand B: per row, per pixel, or one run
                        if (!f_load_b) begin
                            g_act <= 1'b0;
                        end else begin
                            g_valid <= 1'b1;
                            g_off <= (f_bcast || b_contig) ? g_row : g_pix;
                            g_beats <= f_bcast ? {8'd0, OMG} : b_contig ? b_row_beats
                                                             : {8'd0, OMG};
                            if (f_bcast) begin
                                g_act <= 1'b0;
                            end else if (b_contig || g_cz) begin
                                g_r <= g_r - 16'd1;
                                g_rz <= g_r == 16'd1;
                                g_c <= ow_m1;
                                g_cz <= ow_m1 == 16'd0;
                                g_row <= g_row + {8'd0, B_RS};
                                g_pix <= g_row + {8'd0, B_RS};
                                if (g_rz) g_act <= 1'b0;
                            end else begin
                                g_c <= g_c - 16'd1;
                                g_cz <= g_c == 16'd1;
                                g_pix <= g_pix + {8'd0, B_PS};
                            end
                        end
                    end
                endcase
            end

            // ---------------- burst splitter: runs into bursts (<= 256 beats, one page)
            if (g_take) begin
                s_busy <= 1'b1;
                s_calc <= 1'b1;
                s_off <= g_off;
                s_left <= g_beats;
            end else if (s_busy && s_calc) begin
                if ({11'd0, page_beats} <= s_left && page_beats <= 13'd256)
                    s_len <= page_beats[8:0];
                else if (s_left <= 24'd256)
                    s_len <= s_left[8:0];
                else
                    s_len <= 9'd256;
                s_calc <= 1'b0;
            end else if (s_busy && !req_valid) begin
                req_valid <= 1'b1;
                req_off <= s_off;
                req_len1 <= s_len[7:0] - 8'd1;
                s_off <= s_off + ({23'd0, s_len} << LOGP);
                s_left <= s_left - {15'd0, s_len};
                s_calc <= 1'b1;
                if (s_left == {15'd0, s_len}) s_busy <= 1'b0;
            end

            // ---------------- consumer, decide: what this beat (or padding word) is for
            mv <= k_take;
            if (k_take) begin
                mv_sec <= k_sec;
                mv_data <= fq_head;
                mv_pad <= k_sec == K_A && a_pad;
                mv_beat <= k_beat;
                mv_bz <= k_bz;
                mv_cnt <= k_cnt;
                mv_blk <= k_blk;
                mv_last <= k_lz;
                k_cnt <= k_cnt + 24'd1;
                // the position within blocks (requant groups, tiles): beats left count down
                if (k_bz) begin
                    k_beat <= 8'd0;
                    kb_left <= k_sec == K_RQ ? RQB_M1 : tb_m1;
                    k_bz <= k_sec == K_RQ ? RQB_M1 == 8'd0 : tb_m1 == 8'd0;
                    k_blk <= k_blk + 16'd1;
                end else begin
                    k_beat <= k_beat + 8'd1;
                    kb_left <= kb_left - 8'd1;
                    k_bz <= kb_left == 8'd1;
                end
                // operand A: group, column phase and row phase (padding or real)
                if (k_sec == K_A) begin
                    if (!k_jz) begin
                        k_j <= k_j - 16'd1;
                        k_jz <= k_j == 16'd1;
                    end else begin
                        k_j <= icg_m1;
                        k_jz <= icg_m1 == 16'd0;
                        if (!c_lz) begin
                            c_left <= c_left - 16'd1;
                            c_lz <= c_left == 16'd1;
                        end else begin
                            c_ph <= c_wrap[c_ph] ? c_first : c_next[c_ph];
                            c_left <= c_wrap[c_ph] ? c_len_m1[c_first] : c_len_m1[c_next[c_ph]];
                            c_lz <= c_wrap[c_ph] ? c_one[c_first] : c_one[c_next[c_ph]];
                            c_real <= (c_wrap[c_ph] ? c_first : c_next[c_ph]) == 2'd1;
                            if (c_wrap[c_ph]) begin  // the row's last column: next row
                                if (!r_lz) begin
                                    r_left <= r_left - 16'd1;
                                    r_lz <= r_left == 16'd1;
                                end else begin
                                    r_ph <= r_next[r_ph];
                                    r_left <= r_len_m1[r_next[r_ph]];
                                    r_lz <= r_one[r_next[r_ph]];
                                    r_real <= r_next[r_ph] == 2'd1;
                                end
                            end
                        end
                    end
                end
                // the section's end: on to the next; else count the beats left down
                if (k_lz) begin
                    k_sec <= nxt[k_sec];
                    k_cnt <= 24'd0;
                    k_beat <= 8'd0;
                    k_blk <= 16'd0;
                    k_left <= lm1[nxt[k_sec]];
                    k_lz <= lz1[nxt[k_sec]];
                    kb_left <= nxt[k_sec] == K_RQ ? RQB_M1 : tb_m1;
                    k_bz <= nxt[k_sec] == K_RQ ? RQB_M1 == 8'd0 : tb_m1 == 8'd0;
                end else begin
                    k_left <= k_left - 24'd1;
                    k_lz <= k_left == 24'd1;
                end
                if (k_sec == K_PT) begin
                    pt_busy <= 1'b1;
                    pt_word <= fq_head;
                    pt_j <= 8'd0;
                end
            end
            // LUT-RAM product table: P/2 entries per beat
            if (pt_busy) begin
                p_we <= 1'b1;
                p_addr <= pt_e;
                p_data <= pt_word[pt_j*16 +: 16];
                pt_e <= pt_e + 16'd1;
                pt_j <= pt_j + 8'd1;
                if ({24'd0, pt_j} == P / 2 - 1) pt_busy <= 1'b0;
            end

            // ---------------- consumer, move: into the registers and buffers
            if (tile_full) begin
                w_we <= 1'b1;
                w_bank <= f_wbank;
                w_addr <= tile_addr;
                w_data <= tile_x;
            end
            tile_full <= 1'b0;
            if (mv) begin
                case (mv_sec)
                    K_FETCH: begin
                        for (q = 0; q < NDB; q = q + 1)
                            if (mv_cnt[7:0] == q[7:0]) d_asm[q*BEATW +: BEATW] <= mv_data;
                        desc_in <= mv_last;
                    end
                    K_RQ: begin
                        for (q = 0; q < RQB; q = q + 1)
                            if (mv_beat == q[7:0]) rq_blk[q*BEATW +: BEATW] <= mv_data;
                        if (mv_bz) begin
                            r_we <= 1'b1;
                            r_bank <= f_wbank;
                            r_addr <= mv_blk;
                            r_data <= {mv_data, rq_blk[0 +: (RQB-1)*BEATW]};
                        end
                    end
                    K_TAB: begin
                        t_we <= 1'b1;
                        t_bank <= f_wbank;
                        t_addr <= mv_cnt[15:0];
                        t_data <= mv_data;
                    end
                    K_TILE: begin
                        for (q = 0; q < MAXTB; q = q + 1)
                            if (mv_beat == q[7:0]) tile[q*BEATW +: BEATW] <= mv_data;
                            else if (mv_beat == 8'd0) tile[q*BEATW +: BEATW] <= {BEATW{1'b0}};
                        if (mv_bz) begin
                            tile_full <= 1'b1;
                            tile_addr <= mv_blk;
                        end
                    end
                    K_A: begin
                        a_we <= 1'b1;
                        a_bank <= f_abank;
                        a_addr <= mv_cnt;
                        a_data <= mv_pad ? {P{padv[7:0]}} : mv_data;
                    end
                    K_B: begin
                        a_we <= 1'b1;
                        a_bank <= !f_abank;
                        a_addr <= mv_cnt;
                        a_data <= mv_data;
                    end
                    default: ;
                endcase
                if (mv_last && mv_sec != K_FETCH && nxt[mv_sec] == K_OFF) load_done <= 1'b1;
            end

            // ---------------- the descriptor sequence
            case (state)
                L_IDLE: if (start) begin
                    idx <= 32'd0;
                    count_m1 <= prog_count - 32'd1;
                    cur_desc <= 32'd0;
                    err_code <= 8'd0;
                    err_unit <= 8'd0;
                    err_addr <= 32'd0;
                    prog_end <= {9'd0, prog_addr} + {2'd0, prog_count, 7'd0};
                    desc_addr <= prog_addr;
                    state <= L_START;
                end
                L_START: begin  // the program itself must lie in the window
                    if (count_m1 == 32'hFFFF_FFFF) begin
                        done <= 1'b1;
                        state <= L_IDLE;
                    end else if (prog_addr[6:0] != 7'd0 || prog_end > msize) begin
                        e_code <= `PF_E_ADDR;
                        e_unit <= `PF_U_FETCH;
                        e_addr <= prog_addr;
                        state <= L_ERR;
                    end else begin
                        state <= L_NEXT;
                    end
                end
                L_NEXT: begin  // fetch descriptor idx: one burst (128 bytes, one page)
                    cur_desc <= idx;
                    req_valid <= 1'b1;
                    req_off <= desc_addr;
                    req_len1 <= NDB[7:0] - 8'd1;
                    k_sec <= K_FETCH;
                    k_cnt <= 24'd0;
                    k_left <= NDB_M1;
                    k_lz <= NDB == 1;
                    nxt[K_FETCH] <= K_OFF;
                    lm1[K_FETCH] <= NDB_M1;
                    lm1[K_OFF] <= 24'd0;
                    nxt[K_OFF] <= K_OFF;
                    state <= L_FETCH;
                end
                L_FETCH: if (desc_in) begin
                    d <= d_asm;
                    state <= L_DECODE;
                end
                L_DECODE: begin
                    fmt_ok_r <= fmt_ok;
                    e_unit <= `PF_U_LOAD;
                    e_addr <= desc_addr;
                    if (`PF_D_MAGIC(d) != `PF_DESC_MAGIC || `PF_D_VERSION(d) != `PF_DESC_VERSION) begin
                        e_code <= `PF_E_MAGIC;
                        state <= L_ERR;
                    end else if (kind == 4'd0 || kind > `PF_K_COPY) begin
                        e_code <= `PF_E_KIND;
                        state <= L_ERR;
                    end else begin
                        state <= L_FORMAT;
                    end
                end
                L_FORMAT: begin
                    if (!fmt_ok_r) begin
                        e_code <= `PF_E_FORMAT;
                        state <= L_ERR;
                    end else begin
                        mstep <= 5'd0;
                        state <= L_MUL;
                    end
                end
                L_MUL: begin
                    mstep <= mstep + 5'd1;
                    if (mstep == 5'd22) state <= L_CHECK1;
                end
                L_CHECK1: begin
                    w_part <= ({16'd0, rq_groups} << 3) + ({24'd0, tslots} << 8);
                    a_mid <= {9'd0, A_ADDR} + {1'b0, res[4]};
                    b_mid <= {9'd0, B_ADDR} + (f_bcast ? 41'd0 : {1'b0, res[6]});
                    o_mid <= {9'd0, O_ADDR} + {1'b0, res[8]};
                    size_ok_r <= size_ok;
                    align_ok_r <= align_ok;
                    a_rows_m1 <= A_ROWS - 16'd1;
                    a_cols_m1 <= A_COLS - 16'd1;
                    oh_m1 <= OH - 16'd1;
                    ow_m1 <= OW - 16'd1;
                    icg_m1 <= ICG - 16'd1;
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
                    rq_m1 <= rq_groups - 16'd1;
                    tile_total <= res[3][23:0];
                    nt_m1 <= ntiles - 16'd1;
                    tb_m1 <= tile_beats - 8'd1;
                    tab_total <= {8'd0, tslots, 8'd0};
                    pt_total <= {8'd0, ptab_beats};
                    a_total <= res[10][23:0];
                    b_total <= f_bcast ? {8'd0, OMG} : res[11][23:0];
                    expand <= field_w == WBITS[3:0] && WBITS != 8;
                    state <= L_CHECK2;
                end
                L_CHECK2: begin
                    for (q = 0; q < 3; q = q + 1) begin
                        c_len_m1[q] <= c_len[q] - 16'd1;
                        r_len_m1[q] <= r_len[q] - 16'd1;
                        c_one[q] <= c_len[q] == 16'd1;
                        r_one[q] <= r_len[q] == 16'd1;
                        c_has[q] <= c_len[q] != 16'd0;
                        r_has[q] <= r_len[q] != 16'd0;
                    end
                    w_beats <= w_part + {16'd0, ptab_beats} + res[3][31:0];
                    a_end <= a_mid + {1'b0, res[5]} + ({25'd0, ICG} << LOGP);
                    b_end <= b_mid + (f_bcast ? 41'd0 : {1'b0, res[7]}) + ({25'd0, OMG} << LOGP);
                    o_end <= o_mid + {1'b0, res[9]} + ({25'd0, OMG} << LOGP);
                    state <= L_CHECK3;
                end
                L_CHECK3: begin
                    w_end <= {9'd0, W_ADDR} + ({9'd0, w_beats} << LOGP);
                    w_total <= w_beats[23:0];
                    has[K_RQ] <= f_load_w && rq_groups != 16'd0;
                    has[K_TAB] <= f_load_w && tslots != 8'd0;
                    has[K_PT] <= f_load_w && ptab_beats != 16'd0;
                    has[K_TILE] <= f_load_w && tile_total != 24'd0;
                    has[K_A] <= f_load_a && a_total != 24'd0;
                    has[K_B] <= f_load_b && b_total != 24'd0;
                    has[K_OFF] <= 1'b1;
                    lm1[K_RQ] <= {5'd0, rq_m1, 3'd7};
                    lm1[K_TAB] <= tab_total - 24'd1;
                    lm1[K_PT] <= pt_total - 24'd1;
                    lm1[K_TILE] <= tile_total - 24'd1;
                    lm1[K_A] <= a_total - 24'd1;
                    lm1[K_B] <= b_total - 24'd1;
                    state <= L_CHECK4;
                end
                L_CHECK4: begin
                    w_bad <= f_load_w && w_end > msize;
                    a_bad <= f_load_a && A_ROWS != 0 && a_end > msize;
                    b_bad <= f_load_b && b_end > msize;
                    o_bad <= f_last && o_end > msize;
                    // each phase's successor within a row (or a row within the rows)
                    c_first <= c_has[0] ? 2'd0 : c_has[1] ? 2'd1 : 2'd2;
                    r_first <= r_has[0] ? 2'd0 : r_has[1] ? 2'd1 : 2'd2;
                    c_next[0] <= c_has[1] ? 2'd1 : 2'd2;
                    c_next[1] <= 2'd2;
                    r_next[0] <= r_has[1] ? 2'd1 : 2'd2;
                    r_next[1] <= 2'd2;
                    c_wrap[0] <= !c_has[1] && !c_has[2];
                    c_wrap[1] <= !c_has[2];
                    c_wrap[2] <= 1'b1;
                    c_wrap[3] <= 1'b1;
                    for (q = 0; q < 8; q = q + 1) lz1[q] <= lm1[q] == 24'd0;
                    // each section's successor: the next one the load has
                    for (q = 0; q < 7; q = q + 1) begin
                        nxt[q] <= K_OFF;
                        if (q < K_B && has[K_B]) nxt[q] <= K_B;
                        if (q < K_A && has[K_A]) nxt[q] <= K_A;
                        if (q < K_TILE && has[K_TILE]) nxt[q] <= K_TILE;
                        if (q < K_PT && has[K_PT]) nxt[q] <= K_PT;
                        if (q < K_TAB && has[K_TAB]) nxt[q] <= K_TAB;
                        if (q < K_RQ && has[K_RQ]) nxt[q] <= K_RQ;
                    end
                    state <= L_WAIT;
                end
                L_WAIT: begin
                    if (!size_ok_r) begin
                        e_code <= `PF_E_SIZE;
                        state <= L_ERR;
                    end else if (!align_ok_r) begin
                        e_code <= `PF_E_ADDR;
                        state <= L_ERR;
                    end else if (w_bad) begin
                        e_code <= `PF_E_ADDR;
                        e_addr <= W_ADDR;
                        state <= L_ERR;
                    end else if (a_bad) begin
                        e_code <= `PF_E_ADDR;
                        e_addr <= A_ADDR;
                        state <= L_ERR;
                    end else if (b_bad) begin
                        e_code <= `PF_E_ADDR;
                        e_addr <= B_ADDR;
                        state <= L_ERR;
                    end else if (o_bad) begin
                        e_code <= `PF_E_ADDR;
                        e_addr <= O_ADDR;
                        state <= L_ERR;
                    end else if (may_load) begin
                        g_act <= f_load_w || f_load_a || f_load_b;
                        g_sec <= 2'd0;
                        k_sec <= nxt[K_FETCH];
                        k_cnt <= 24'd0;
                        k_left <= lm1[nxt[K_FETCH]];
                        k_lz <= lz1[nxt[K_FETCH]];
                        k_beat <= 8'd0;
                        kb_left <= nxt[K_FETCH] == K_RQ ? RQB_M1 : tb_m1;
                        k_bz <= nxt[K_FETCH] == K_RQ ? RQB_M1 == 8'd0 : tb_m1 == 8'd0;
                        k_blk <= 16'd0;
                        k_j <= icg_m1;
                        k_jz <= icg_m1 == 16'd0;
                        c_ph <= c_first;
                        c_left <= c_len_m1[c_first];
                        c_lz <= c_one[c_first];
                        c_real <= c_first == 2'd1;
                        r_ph <= r_first;
                        r_left <= r_len_m1[r_first];
                        r_lz <= r_one[r_first];
                        r_real <= r_first == 2'd1;
                        pt_e <= 16'd0;
                        load_done <= nxt[K_FETCH] == K_OFF;
                        state <= L_LOAD;
                    end
                end
                L_LOAD: if (load_done && !g_act && !g_valid && !s_busy && !tile_full
                            && !pt_busy && !mv) begin
                    state <= L_HAND;
                end
                L_HAND: begin
                    load_done <= 1'b0;
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
                            state <= L_IDLE;
                        end else begin
                            state <= L_NEXT;
                        end
                    end
                end
                L_ERR: begin  // stop issuing; let every outstanding burst drain
                    g_act <= 1'b0;
                    g_valid <= 1'b0;
                    s_busy <= 1'b0;
                    k_sec <= K_OFF;
                    pt_busy <= 1'b0;
                    h_valid <= 1'b0;
                    state <= L_DRAIN;
                    idle_cnt <= 32'd0;
                end
                L_DRAIN: begin
                    idle_cnt <= idle_cnt + 32'd1;
                    if ((!rd_busy && !req_valid && !fq_has) || idle_cnt == timeout) begin
                        err_code <= e_code;
                        err_unit <= e_unit;
                        err_addr <= e_addr;
                        done <= 1'b1;
                        state <= L_IDLE;
                    end
                end
                default: state <= L_IDLE;
            endcase

            // ---------------- errors from the memory or another stage
            if (state != L_IDLE && state != L_START && state != L_ERR && state != L_DRAIN) begin
                if (rd_err) begin
                    e_code <= `PF_E_RRESP;
                    e_unit <= state == L_FETCH ? `PF_U_FETCH : `PF_U_LOAD;
                    e_addr <= req_off;
                    state <= L_ERR;
                end else if (idle_cnt == timeout) begin
                    e_code <= `PF_E_TIMEOUT;
                    e_unit <= state == L_FETCH ? `PF_U_FETCH : `PF_U_LOAD;
                    e_addr <= req_off;
                    state <= L_ERR;
                end else if (stop) begin
                    e_code <= 8'd0;
                    state <= L_ERR;
                end
            end
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, KH, KW, na[39:24], npg[39:24], flags, padv[8],
                       rq_blk[64*P-1 -: BEATW], nt_m1, has[0], expand, c_len_m1[3],
                       r_len_m1[3], c_next[3], r_next[3], c_next[2], r_next[2], c_one[3],
                       r_one[3], c_wrap[3], c_has[3], r_has[3:2], r_wrap_unused};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
