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
// Memory reads go through pf_axi_rd as 4 KB-safe bursts; the consumer writes one buffer
// word per cycle.
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
    localparam [3:0] L_IDLE = 4'd0, L_FETCH = 4'd1, L_DECODE = 4'd2, L_MUL = 4'd3,
                     L_CHECK1 = 4'd4, L_CHECK2 = 4'd5, L_WAIT = 4'd6, L_LOAD = 4'd7,
                     L_HAND = 4'd8, L_ERR = 4'd9, L_DRAIN = 4'd10, L_NEXT = 4'd11;
    reg [3:0] state;
    reg [31:0] idx;
    reg [7:0] e_code, e_unit;
    reg [31:0] e_addr;

    // ------------------------------------------------------------------ products
    // one product per cycle through a pipelined multiplier (latency 3)
    reg [4:0] mstep;  // products 0..17, one per cycle
    reg [23:0] ma;
    reg [15:0] mb;
    wire [39:0] mp;
    pf_mul #(.AW(24), .BW(16)) mul (.clk(clk), .a(ma), .b(mb), .p(mp));
    reg [39:0] res [0:17];
    function automatic [23:0] sat24(input [39:0] v);
        sat24 = |v[39:24] ? 24'hFF_FFFF : v[23:0];
    endfunction
    always @(*) begin
        case (mstep)
            5'd0:  begin ma = {8'd0, IH};      mb = IW; end
            5'd1:  begin ma = {8'd0, IW};      mb = ICG; end
            5'd2:  begin ma = {8'd0, OH};      mb = OW; end
            5'd3:  begin ma = {8'd0, ntiles};  mb = {8'd0, tile_beats}; end
            5'd4:  begin ma = A_RS;            mb = A_ROWS - 16'd1; end
            5'd5:  begin ma = A_PS;            mb = A_COLS - 16'd1; end
            5'd6:  begin ma = B_RS;            mb = OH - 16'd1; end
            5'd7:  begin ma = B_PS;            mb = OW - 16'd1; end
            5'd8:  begin ma = O_RS;            mb = OH - 16'd1; end
            5'd9:  begin ma = O_PS;            mb = OW - 16'd1; end
            5'd10: begin ma = sat24(res[0]);   mb = ICG; end
            5'd11: begin ma = sat24(res[2]);   mb = OMG; end
            5'd12: begin ma = sat24(res[1]);   mb = {12'd0, SH}; end
            5'd13: begin ma = sat24(res[1]);   mb = {12'd0, DH}; end
            5'd14: begin ma = {8'd0, ICG};     mb = {12'd0, SW}; end
            5'd15: begin ma = {8'd0, ICG};     mb = {12'd0, DWd}; end
            5'd16: begin ma = {8'd0, A_COLS};  mb = ICG; end
            default: begin ma = {8'd0, OW};    mb = OMG; end
        endcase
    end
    reg [4:0] mres, mres1, mres2;  // the step whose product arrives (latency 3)
    reg mres_v, mres_v1, mres_v2;
    always @(posedge clk) begin
        mres_v1 <= state == L_MUL && mstep < 5'd18;
        mres1 <= mstep;
        mres_v2 <= mres_v1;
        mres2 <= mres1;
        mres_v <= mres_v2;
        mres <= mres2;
        if (mres_v) res[mres] <= mp;
    end

    // ------------------------------------------------------------------ checks
    wire [39:0] na = res[10], npg = res[11];
    wire psum = !(f_first && f_last);
    reg [40:0] w_end, a_end, b_end, o_end;
    reg [40:0] a_mid, b_mid, o_mid;
    reg [31:0] w_beats;
    reg fmt_ok, size_ok, align_ok;
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
            `PF_K_DW: fmt_ok = f_first && f_last;
            `PF_K_MAXPOOL, `PF_K_SUMPOOL, `PF_K_ADD, `PF_K_MUL, `PF_K_COPY:
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
    wire conflict = c_busy && (
        (f_load_a && (c_abank == f_abank || c_binary))
        || (f_load_b && (c_abank == !f_abank || c_binary))
        || (f_load_w && c_uses_w && c_wbank == f_wbank)
        || (f_load_w && ptab_beats != 0 && c_ptab));
    wire may_load = !conflict && (!f_barrier || (!c_busy && store_idle));

    // ------------------------------------------------------------------ run generator
    // sections of the current load: 0 parameters, 1 operand A, 2 operand B
    reg g_act;                 // generating runs
    reg [1:0] g_sec;
    reg [31:0] g_row, g_pix;   // offsets of the current row / pixel
    reg [15:0] g_r, g_c;
    reg g_valid;
    reg [31:0] g_off;
    reg [23:0] g_beats;
    wire g_take;
    wire [23:0] icg_bytes = {8'd0, ICG} << LOGP;
    wire [23:0] omg_bytes = {8'd0, OMG} << LOGP;
    wire a_contig = A_PS == icg_bytes;   // a row of operand A is one run
    wire b_contig = B_PS == omg_bytes;
    wire [23:0] a_row_beats = res[16][23:0], b_row_beats = res[17][23:0];

    // ------------------------------------------------------------------ burst splitter
    reg s_busy, s_calc;
    reg [31:0] s_off;
    reg [23:0] s_left;
    reg [8:0] s_len;
    wire [12:0] to_page = 13'h1000 - {1'b0, s_off[11:0]};
    wire [12:0] page_beats = to_page >> LOGP;
    assign g_take = g_valid && !s_busy;

    // ------------------------------------------------------------------ consumer
    reg k_act;
    reg [2:0] k_sec;           // 0 rq, 1 tables, 2 ptab, 3 tiles, 4 operand A, 5 operand B
    reg [23:0] k_cnt;          // word / block within the section
    reg [7:0] k_beat;          // beat within the block
    reg [23:0] k_addr;
    reg [15:0] k_r, k_c, k_j;
    reg [64*P-1:0] rq_blk;
    reg [TILEW-1:0] tile;
    reg [7:0] t_e;
    reg [7:0] t_s;
    reg pt_busy;
    reg [BEATW-1:0] pt_word;
    reg [7:0] pt_j;
    reg [15:0] pt_e;
    reg [`PF_DESC_BITS-1:0] d_asm;
    reg [7:0] f_beat;
    wire a_row_pad = k_r < {8'd0, PAD_T} || k_r >= {8'd0, PAD_T} + A_ROWS;
    wire a_col_pad = k_c < {8'd0, PAD_L} || k_c >= {8'd0, PAD_L} + A_COLS;
    wire a_pad = a_row_pad || a_col_pad;
    // the consumer takes a beat this cycle only where its section uses one
    wire [23:0] b_words = f_bcast ? {8'd0, OMG} : npg[23:0];
    reg k_want;
    always @(*) begin
        case (k_sec)
            3'd0: k_want = k_cnt != {8'd0, rq_groups};
            3'd1: k_want = t_s != tslots;
            3'd2: k_want = !pt_busy && k_cnt != {8'd0, ptab_beats};
            3'd3: k_want = k_cnt != {8'd0, ntiles} && k_beat != tile_beats;
            3'd4: k_want = f_load_a && k_r != IH && !a_pad;
            3'd5: k_want = f_load_b && k_cnt != b_words;
            default: k_want = 1'b0;
        endcase
    end
    wire want_beat = (state == L_FETCH && f_beat != NDB[7:0]) || (k_act && k_want)
                     || state == L_DRAIN;
    assign rd_ready = want_beat;
    wire beat = rd_valid && rd_ready;
    reg [31:0] idle_cnt;

    // the expanded wbuf word of a tile (8-bit lanes; low-bit codes zero-extended)
    wire [TILEW-1:0] tile_x;
    genvar gf;
    generate
        for (gf = 0; gf < P * P; gf = gf + 1) begin : expand
            if (WBITS < 8) begin : narrow
                assign tile_x[gf*8 +: 8] = field_w == WBITS[3:0]
                                           ? {{(8-WBITS){1'b0}}, tile[gf*WBITS +: WBITS]}
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
            k_act <= 1'b0;
            pt_busy <= 1'b0;
            a_we <= 1'b0;
            w_we <= 1'b0;
            r_we <= 1'b0;
            t_we <= 1'b0;
            p_we <= 1'b0;
            err_code <= 8'd0;
            err_unit <= 8'd0;
            err_addr <= 32'd0;
            cur_desc <= 32'd0;
            idle_cnt <= 32'd0;
            mstep <= 5'd0;
        end else begin
            done <= 1'b0;
            a_we <= 1'b0;
            w_we <= 1'b0;
            r_we <= 1'b0;
            t_we <= 1'b0;
            p_we <= 1'b0;
            if (req_valid && req_ready) req_valid <= 1'b0;

            // ---------------- memory watchdog: waiting for a beat that does not come
            if (want_beat && !rd_valid && state != L_DRAIN) idle_cnt <= idle_cnt + 32'd1;
            else idle_cnt <= 32'd0;

            // ---------------- run generator: sections into runs (offset, beats)
            if (g_take) g_valid <= 1'b0;
            if (g_act && (!g_valid || g_take)) begin
                case (g_sec)
                    2'd0: begin  // the parameter block: one run
                        g_off <= W_ADDR;
                        g_beats <= w_beats[23:0];
                        g_valid <= w_beats != 32'd0;
                        g_sec <= 2'd1;
                        g_row <= A_ADDR;
                        g_pix <= A_ADDR;
                        g_r <= 16'd0;
                        g_c <= 16'd0;
                        if (!f_load_w) g_valid <= 1'b0;
                    end
                    2'd1: begin  // operand A: a run per row, or per pixel
                        if (!f_load_a || A_ROWS == 16'd0) begin
                            g_sec <= 2'd2;
                            g_row <= B_ADDR;
                            g_pix <= B_ADDR;
                            g_r <= 16'd0;
                            g_c <= 16'd0;
                        end else begin
                            g_valid <= 1'b1;
                            if (a_contig) begin
                                g_off <= g_row;
                                g_beats <= a_row_beats;
                                g_row <= g_row + {8'd0, A_RS};
                                g_r <= g_r + 16'd1;
                            end else begin
                                g_off <= g_pix;
                                g_beats <= {8'd0, ICG};
                                if (g_c == A_COLS - 16'd1) begin
                                    g_c <= 16'd0;
                                    g_r <= g_r + 16'd1;
                                    g_row <= g_row + {8'd0, A_RS};
                                    g_pix <= g_row + {8'd0, A_RS};
                                end else begin
                                    g_c <= g_c + 16'd1;
                                    g_pix <= g_pix + {8'd0, A_PS};
                                end
                            end
                            if ((a_contig || g_c == A_COLS - 16'd1) && g_r == A_ROWS - 16'd1) begin
                                g_sec <= 2'd2;
                                g_row <= B_ADDR;
                                g_pix <= B_ADDR;
                                g_r <= 16'd0;
                                g_c <= 16'd0;
                            end
                        end
                    end
                    2'd2: begin  // operand B: per row, per pixel, or one run (broadcast)
                        if (!f_load_b) begin
                            g_act <= 1'b0;
                        end else begin
                            g_valid <= 1'b1;
                            if (f_bcast) begin
                                g_off <= B_ADDR;
                                g_beats <= {8'd0, OMG};
                                g_act <= 1'b0;
                            end else if (b_contig) begin
                                g_off <= g_row;
                                g_beats <= b_row_beats;
                                g_row <= g_row + {8'd0, B_RS};
                                g_r <= g_r + 16'd1;
                                if (g_r == OH - 16'd1) g_act <= 1'b0;
                            end else begin
                                g_off <= g_pix;
                                g_beats <= {8'd0, OMG};
                                if (g_c == OW - 16'd1) begin
                                    g_c <= 16'd0;
                                    g_r <= g_r + 16'd1;
                                    g_row <= g_row + {8'd0, B_RS};
                                    g_pix <= g_row + {8'd0, B_RS};
                                    if (g_r == OH - 16'd1) g_act <= 1'b0;
                                end else begin
                                    g_c <= g_c + 16'd1;
                                    g_pix <= g_pix + {8'd0, B_PS};
                                end
                            end
                        end
                    end
                    default: g_act <= 1'b0;
                endcase
            end

            // ---------------- burst splitter: runs into bursts (<= 256 beats, one page)
            if (g_take) begin
                s_busy <= 1'b1;
                s_calc <= 1'b1;
                s_off <= g_off;
                s_left <= g_beats;
            end else if (s_busy && s_calc) begin
                // the burst length: what is left, capped at the page and at 256 beats
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

            // ---------------- consumer: read data into the buffers
            if (k_act) begin
                case (k_sec)
                    3'd0: begin  // requant records: RQB beats per group
                        if (k_cnt == {8'd0, rq_groups}) begin
                            k_sec <= 3'd1;
                            k_cnt <= 24'd0;
                            k_beat <= 8'd0;
                        end else if (beat) begin
                            rq_blk[k_beat*BEATW +: BEATW] <= rd_data;
                            if (k_beat == RQB[7:0] - 8'd1) begin
                                k_beat <= 8'd0;
                                r_we <= 1'b1;
                                r_bank <= f_wbank;
                                r_addr <= k_cnt[15:0];
                                r_data <= {rd_data, rq_blk[0 +: (RQB-1)*BEATW]};
                                k_cnt <= k_cnt + 24'd1;
                            end else begin
                                k_beat <= k_beat + 8'd1;
                            end
                        end
                    end
                    3'd1: begin  // activation tables: 256 beats per slot
                        if ({16'd0, t_s} == {16'd0, tslots}) begin
                            k_sec <= 3'd2;
                            k_cnt <= 24'd0;
                        end else if (beat) begin
                            t_we <= 1'b1;
                            t_bank <= f_wbank;
                            t_addr <= {t_s, t_e};
                            t_data <= rd_data;
                            t_e <= t_e + 8'd1;
                            if (t_e == 8'd255) t_s <= t_s + 8'd1;
                        end
                    end
                    3'd2: begin  // LUT-RAM P-LUT product table: P/2 entries per beat
                        if (pt_busy) begin
                            p_we <= 1'b1;
                            p_addr <= pt_e;
                            p_data <= pt_word[pt_j*16 +: 16];
                            pt_e <= pt_e + 16'd1;
                            pt_j <= pt_j + 8'd1;
                            if ({24'd0, pt_j} == P / 2 - 1) pt_busy <= 1'b0;
                        end else if (k_cnt == {8'd0, ptab_beats}) begin
                            k_sec <= 3'd3;
                            k_cnt <= 24'd0;
                            k_beat <= 8'd0;
                        end else if (beat) begin
                            pt_word <= rd_data;
                            pt_busy <= 1'b1;
                            pt_j <= 8'd0;
                            k_cnt <= k_cnt + 24'd1;
                        end
                    end
                    3'd3: begin  // weight tiles
                        if (k_cnt == {8'd0, ntiles}) begin
                            k_sec <= 3'd4;
                            k_cnt <= 24'd0;
                            k_addr <= 24'd0;
                            k_r <= 16'd0;
                            k_c <= 16'd0;
                            k_j <= 16'd0;
                        end else if (k_beat == tile_beats) begin
                            w_we <= 1'b1;
                            w_bank <= f_wbank;
                            w_addr <= k_cnt[15:0];
                            w_data <= tile_x;
                            k_cnt <= k_cnt + 24'd1;
                            k_beat <= 8'd0;
                            tile <= {TILEW{1'b0}};
                        end else if (beat) begin
                            for (q = 0; q < MAXTB; q = q + 1)
                                if (k_beat == q[7:0]) tile[q*BEATW +: BEATW] <= rd_data;
                            k_beat <= k_beat + 8'd1;
                        end
                    end
                    3'd4: begin  // operand A with its padding, one word per cycle
                        if (!f_load_a || k_r == IH) begin
                            k_sec <= 3'd5;
                            k_cnt <= 24'd0;
                        end else if (a_pad || beat) begin
                            a_we <= 1'b1;
                            a_bank <= f_abank;
                            a_addr <= k_addr;
                            a_data <= a_pad ? {P{padv[7:0]}} : rd_data;
                            k_addr <= k_addr + 24'd1;
                            if (k_j == ICG - 16'd1) begin
                                k_j <= 16'd0;
                                if (k_c == IW - 16'd1) begin
                                    k_c <= 16'd0;
                                    k_r <= k_r + 16'd1;
                                end else begin
                                    k_c <= k_c + 16'd1;
                                end
                            end else begin
                                k_j <= k_j + 16'd1;
                            end
                        end
                    end
                    3'd5: begin  // operand B into the other bank
                        if (!f_load_b || k_cnt == b_words) begin
                            k_act <= 1'b0;
                        end else if (beat) begin
                            a_we <= 1'b1;
                            a_bank <= !f_abank;
                            a_addr <= k_cnt;
                            a_data <= rd_data;
                            k_cnt <= k_cnt + 24'd1;
                        end
                    end
                    default: k_act <= 1'b0;
                endcase
            end

            // ---------------- the descriptor sequence
            case (state)
                L_IDLE: if (start) begin
                    idx <= 32'd0;
                    cur_desc <= 32'd0;
                    err_code <= 8'd0;
                    err_unit <= 8'd0;
                    err_addr <= 32'd0;
                    if (prog_count == 32'd0) begin
                        done <= 1'b1;
                    end else if (prog_addr[6:0] != 7'd0
                                 || {9'd0, prog_addr} + {2'd0, prog_count, 7'd0} > msize) begin
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
                    req_off <= prog_addr + {idx[24:0], 7'd0};
                    req_len1 <= NDB[7:0] - 8'd1;
                    f_beat <= 8'd0;
                    state <= L_FETCH;
                end
                L_FETCH: if (beat) begin
                    d_asm[f_beat*BEATW +: BEATW] <= rd_data;
                    f_beat <= f_beat + 8'd1;
                    if (f_beat == NDB[7:0] - 8'd1) begin
                        d <= {rd_data, d_asm[0 +: `PF_DESC_BITS - BEATW]};
                        state <= L_DECODE;
                    end
                end
                L_DECODE: begin
                    if (`PF_D_MAGIC(d) != `PF_DESC_MAGIC || `PF_D_VERSION(d) != `PF_DESC_VERSION) begin
                        e_code <= `PF_E_MAGIC;
                        state <= L_ERR;
                    end else if (kind == 4'd0 || kind > `PF_K_COPY) begin
                        e_code <= `PF_E_KIND;
                        state <= L_ERR;
                    end else if (!fmt_ok) begin
                        e_code <= `PF_E_FORMAT;
                        state <= L_ERR;
                    end else begin
                        mstep <= 5'd0;
                        state <= L_MUL;
                    end
                    e_unit <= `PF_U_LOAD;
                    e_addr <= prog_addr + {idx[24:0], 7'd0};
                end
                L_MUL: begin
                    mstep <= mstep + 5'd1;
                    if (mstep == 5'd21) state <= L_CHECK1;
                end
                L_CHECK1: begin
                    w_beats <= ({16'd0, rq_groups} << 3) + ({24'd0, tslots} << 8)
                               + {16'd0, ptab_beats} + res[3][31:0];
                    a_mid <= {9'd0, A_ADDR} + {1'b0, res[4]};
                    b_mid <= {9'd0, B_ADDR} + (f_bcast ? 41'd0 : {1'b0, res[6]});
                    o_mid <= {9'd0, O_ADDR} + {1'b0, res[8]};
                    state <= L_CHECK2;
                end
                L_CHECK2: begin
                    w_end <= {9'd0, W_ADDR} + ({9'd0, w_beats} << LOGP);
                    a_end <= a_mid + {1'b0, res[5]} + ({25'd0, ICG} << LOGP);
                    b_end <= b_mid + (f_bcast ? 41'd0 : {1'b0, res[7]}) + ({25'd0, OMG} << LOGP);
                    o_end <= o_mid + {1'b0, res[9]} + ({25'd0, OMG} << LOGP);
                    state <= L_WAIT;
                end
                L_WAIT: begin
                    if (!size_ok) begin
                        e_code <= `PF_E_SIZE;
                        state <= L_ERR;
                    end else if (!align_ok) begin
                        e_code <= `PF_E_ADDR;
                        state <= L_ERR;
                    end else if (f_load_w && w_end > msize) begin
                        e_code <= `PF_E_ADDR;
                        e_addr <= W_ADDR;
                        state <= L_ERR;
                    end else if (f_load_a && A_ROWS != 0 && a_end > msize) begin
                        e_code <= `PF_E_ADDR;
                        e_addr <= A_ADDR;
                        state <= L_ERR;
                    end else if (f_load_b && b_end > msize) begin
                        e_code <= `PF_E_ADDR;
                        e_addr <= B_ADDR;
                        state <= L_ERR;
                    end else if (f_last && o_end > msize) begin
                        e_code <= `PF_E_ADDR;
                        e_addr <= O_ADDR;
                        state <= L_ERR;
                    end else if (may_load) begin
                        g_act <= 1'b1;
                        g_sec <= 2'd0;
                        k_act <= 1'b1;
                        k_sec <= 3'd0;
                        k_cnt <= 24'd0;
                        k_beat <= 8'd0;
                        t_e <= 8'd0;
                        t_s <= 8'd0;
                        pt_e <= 16'd0;
                        tile <= {TILEW{1'b0}};
                        if (!f_load_w) k_sec <= 3'd4;
                        k_addr <= 24'd0;
                        k_r <= 16'd0;
                        k_c <= 16'd0;
                        k_j <= 16'd0;
                        state <= L_LOAD;
                    end
                end
                L_LOAD: if (!k_act && !g_act && !g_valid && !s_busy) state <= L_HAND;
                L_HAND: begin
                    if (!h_valid && !c_busy) begin
                        h_valid <= 1'b1;
                        h_desc <= d;
                        h_consts <= {res[15][23:0], res[14][23:0], res[13][23:0],
                                     res[12][23:0], res[1][23:0]};
                    end
                    if (h_valid && h_ready) begin
                        h_valid <= 1'b0;
                        idx <= idx + 32'd1;
                        if (idx + 32'd1 == prog_count) begin
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
                    k_act <= 1'b0;
                    pt_busy <= 1'b0;
                    h_valid <= 1'b0;
                    state <= L_DRAIN;
                    idle_cnt <= 32'd0;
                end
                L_DRAIN: begin
                    idle_cnt <= idle_cnt + 32'd1;
                    if ((!rd_busy && !req_valid) || idle_cnt == timeout) begin
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
            if (state != L_IDLE && state != L_ERR && state != L_DRAIN) begin
                if (rd_err) begin
                    e_code <= `PF_E_RRESP;
                    e_unit <= state == L_FETCH ? `PF_U_FETCH : `PF_U_LOAD;
                    e_addr <= req_off;
                    state <= L_ERR;
                end else if (want_beat && idle_cnt == timeout) begin
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
    wire unused_ok = &{1'b0, KH, KW, na[39:24], npg[39:24], t_e, flags, padv[8],
                       rq_blk[64*P-1 -: BEATW], d_asm[`PF_DESC_BITS-1 -: BEATW]};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
