// plutflow layer engine (docs/spec.md section 9).
//
// One run (one ap_start) executes one conv/FC layer on a batch of images. Everything
// arrives on the input stream as one packet, in this order, every block zero-padded to
// whole DATA_W-bit words:
//
//   descriptor   16 x 32-bit fields (512 bits)
//   requant      per group of P output channels: P 64-bit records (bias | M0 | n)
//   act table    256 bytes, if the descriptor says so
//   P-LUT table  (PE_TYPE 3) 2^(k-1) x 2^abits 16-bit products, magnitude rows only
//   weights      per (channel group g, tap, input group): a P x P tile of k-bit fields,
//                output lane major; depthwise: P fields, one per channel
//   activations  per image, per pixel (row major), per input group: P 8-bit codes
//
// The weights and the requant records stay on chip for the whole batch (weight reuse);
// each image is loaded into the activation buffer and computed: for every output pixel and
// channel group, P x P MACs per cycle over taps and input groups, int32 accumulation, then
// per-channel requantization (pf_requant), the optional 256-entry table, and P output
// codes per group to the output stream (P 8-bit codes per group, padded to whole words).
//
// Errors end the run with a code in STATUS (spec 9.5) instead of hanging: a malformed or
// unsupported descriptor, a TLAST before the end of the packet (short stream), a missing
// TLAST at its end, a partial TKEEP, or no input beat for TIMEOUT cycles.
`default_nettype none

module pf_engine #(
    parameter integer PE_TYPE = 0,       // 0 int8, 1 shift, 2 P-LUT shared rows, 3 P-LUT LUT RAM
    parameter integer P = 8,             // array: P output x P input channels (power of two)
    parameter integer DATA_W = 64,       // stream width: 64 or 128
    parameter integer WBITS = 8,         // hardware weight code width
    parameter integer B2 = 3,            // shift: bits of the second term index
    parameter integer ABITS = 4,         // P-LUT LUT RAM: activation index bits
    parameter integer ADEPTH = 4096,     // activation buffer, words of P codes
    parameter integer WDEPTH = 1024,     // weight buffer, P x P tiles
    parameter integer MDEPTH = 64,       // requant buffer, channel groups
    parameter integer OF_DEPTH = 16,     // output FIFO, groups of P codes (power of two)
    parameter integer TIMEOUT = 1 << 20  // input stall limit in cycles
) (
    input  wire              clk,
    input  wire              rst,
    // control (ap_ctrl_hs)
    input  wire              ap_start,
    output reg               ap_done,
    output wire              ap_idle,
    output wire              ap_ready,
    output reg  [7:0]        error_code,
    output wire              stall,
    output wire              computing,
    output reg  [31:0]       in_words,    // input words accepted in this run
    output reg  [31:0]       out_words,   // output words sent in this run
    // input stream
    input  wire [DATA_W-1:0] s_axis_tdata,
    input  wire [DATA_W/8-1:0] s_axis_tkeep,
    input  wire              s_axis_tlast,
    input  wire              s_axis_tvalid,
    output wire              s_axis_tready,
    // output stream
    output wire [DATA_W-1:0] m_axis_tdata,
    output wire [DATA_W/8-1:0] m_axis_tkeep,
    output wire              m_axis_tlast,
    output wire              m_axis_tvalid,
    input  wire              m_axis_tready
);
    // ------------------------------------------------------------------ constants
    localparam integer LOGP = $clog2(P);
    localparam integer LOGDW = $clog2(DATA_W);
    localparam integer MB = WBITS - 1;
    localparam integer B1 = MB - B2;
    localparam integer B1S = (PE_TYPE == 1) ? B1 : 1;          // term widths of the shift
    localparam integer B2S = (PE_TYPE == 1) ? B2 : WBITS - 2;  // code (placeholders else)
    localparam integer ND = 512 / DATA_W;                       // descriptor words
    localparam integer NWR = (P * 64 + DATA_W - 1) / DATA_W;    // requant block words
    localparam integer NAT = 2048 / DATA_W;                     // act table words
    localparam integer NWA = (P * 8 + DATA_W - 1) / DATA_W;     // activation block words
    localparam integer NWO = NWA;                               // output group words
    localparam integer BLK0 = (P * P * 8 > P * 64) ? P * P * 8 : P * 64;
    localparam integer BLK1 = (BLK0 > 512) ? BLK0 : 512;
    localparam integer MAXW = (BLK1 + DATA_W - 1) / DATA_W;     // words per block, max
    localparam integer BLKW = MAXW * DATA_W;
    localparam integer LOGOF = $clog2(OF_DEPTH);
    localparam [31:0] MAGIC = 32'h5046_0001;

    localparam [7:0] E_MAGIC = 8'd1, E_FORMAT = 8'd2, E_SIZE = 8'd3, E_EARLY_LAST = 8'd4,
                     E_NO_LAST = 8'd5, E_TIMEOUT = 8'd6, E_TKEEP = 8'd7;

    localparam [3:0] S_IDLE = 4'd0, S_DESC = 4'd1, S_CHECK = 4'd2, S_REQ = 4'd3,
                     S_ATAB = 4'd4, S_PTAB = 4'd5, S_WGT = 4'd6, S_ACT = 4'd7,
                     S_COMP = 4'd8, S_TAIL = 4'd9, S_DRAIN = 4'd10, S_DONE = 4'd11,
                     S_ACTW = 4'd12;

    // ------------------------------------------------------------------ descriptor
    reg [31:0] d_magic;
    reg        dw, has_tab, w_signed, a_signed;
    reg [3:0]  kl, b2l, abl;
    reg [4:0]  fsh;
    reg [15:0] H, W, C, M, OH, OW, NB;
    reg [3:0]  KH, KW, SH, SW, PT, PL;
    reg signed [8:0] padv, zp, lo, hi, aqmin;
    reg [27:0] e1, e2;
    reg [127:0] lev;

    wire [15:0] CG = (C + P[15:0] - 16'd1) >> LOGP;
    wire [15:0] MG = (M + P[15:0] - 16'd1) >> LOGP;
    wire [15:0] CGW = dw ? 16'd1 : CG;
    wire [31:0] TAPS = {28'd0, KH} * {28'd0, KW};
    wire [31:0] NBLK = {16'd0, MG} * TAPS * {16'd0, CGW};
    wire [31:0] NACT = {16'd0, H} * {16'd0, W} * {16'd0, CG};
    wire [31:0] WBLK_BITS = (dw ? P : P * P) * {28'd0, kl};
    wire [31:0] NWW = (WBLK_BITS + DATA_W - 1) >> LOGDW;
    wire [31:0] NT = 32'd1 << ({28'd0, kl} - 32'd1 + {28'd0, abl});
    wire [31:0] NPT = ((NT << 4) + DATA_W - 1) >> LOGDW;
    wire [31:0] OUT_WORDS = {16'd0, NB} * {16'd0, OH} * {16'd0, OW} * {16'd0, MG} * NWO;

    // format and size checks of the descriptor (state S_CHECK)
    reg format_ok;
    always @(*) begin
        format_ok = kl >= 4'd1 && kl <= 4'd8 && KH != 0 && KW != 0 && SH != 0 && SW != 0
                    && H != 0 && W != 0 && C != 0 && M != 0 && OH != 0 && OW != 0 && NB != 0
                    && (!dw || C == M);
        case (PE_TYPE)
            0: format_ok = format_ok && w_signed && kl <= WBITS[3:0];
            1: format_ok = format_ok && !w_signed && kl >= 4'd2 && b2l <= B2[3:0]
                           && kl - 4'd1 - b2l <= B1[3:0] && b2l < kl;
            2: format_ok = format_ok && !w_signed && kl >= 4'd2 && kl - 4'd1 <= MB[3:0];
            default: format_ok = format_ok && !w_signed && kl >= 4'd2 && kl - 4'd1 <= MB[3:0]
                                 && abl >= 4'd1 && abl <= ABITS[3:0];
        endcase
    end
    wire size_ok = NACT <= ADEPTH && NBLK <= WDEPTH && {16'd0, MG} <= MDEPTH;

    // ------------------------------------------------------------------ buffers
    reg [P*8-1:0]        amem  [0:2*ADEPTH-1];  // two banks: load one, compute the other
    reg [P*P*WBITS-1:0]  wmem  [0:WDEPTH-1];
    reg [P*64-1:0]       rqmem [0:MDEPTH-1];
    reg [7:0]            atab  [0:255];

    // ------------------------------------------------------------------ loader
    reg [3:0]  state;
    reg [7:0]  err_next;
    reg [31:0] bcnt;          // block within the section
    reg [7:0]  wcnt;          // word within the block
    reg [15:0] img;           // image of the batch
    reg [BLKW-1:0] blk;       // the block being assembled
    reg [511:0] blk_cur;      // the descriptor including the word of this beat
    reg        pt_busy;
    reg [DATA_W-1:0] pt_word;
    reg [7:0]  pt_j;
    reg [31:0] pt_e;
    reg [31:0] idle_cnt;

    wire loading = state == S_DESC || state == S_REQ || state == S_ATAB || state == S_WGT
                   || state == S_ACT || (state == S_PTAB && !pt_busy);
    assign s_axis_tready = loading || state == S_DRAIN;
    wire beat = s_axis_tvalid && s_axis_tready;
    assign ap_idle = state == S_IDLE;
    assign ap_ready = state == S_IDLE && ap_start;

    reg [7:0] blk_words;
    always @(*) begin
        case (state)
            S_DESC:  blk_words = ND[7:0];
            S_REQ:   blk_words = NWR[7:0];
            S_WGT:   blk_words = NWW[7:0];
            S_ACT:   blk_words = NWA[7:0];
            default: blk_words = 8'd1;
        endcase
    end
    reg [31:0] sec_blocks;
    always @(*) begin
        case (state)
            S_DESC:  sec_blocks = 32'd1;
            S_REQ:   sec_blocks = {16'd0, MG};
            S_ATAB:  sec_blocks = NAT;
            S_PTAB:  sec_blocks = NPT;
            S_WGT:   sec_blocks = NBLK;
            S_ACT:   sec_blocks = NACT;
            default: sec_blocks = 32'd1;
        endcase
    end
    wire blk_end = wcnt == blk_words - 8'd1;
    wire sec_end = blk_end && bcnt == sec_blocks - 32'd1;
    wire final_beat = state == S_ACT && img == NB - 16'd1 && sec_end;

    integer j;
    always @(*) begin
        blk_cur = blk[511:0];
        for (j = 0; j < ND; j = j + 1)
            if (j == {24'd0, wcnt}) blk_cur[j*DATA_W +: DATA_W] = s_axis_tdata;
    end

    // the section after the requant records / act table / product table
    wire [3:0] after_req = has_tab ? S_ATAB : (PE_TYPE == 3 ? S_PTAB : S_WGT);
    wire [3:0] after_atab = PE_TYPE == 3 ? S_PTAB : S_WGT;

    // ------------------------------------------------------------------ weight decode
    // the hardware code of one k-bit field (two's complement, shift or sign-magnitude)
    wire [7:0] kmask = (8'd1 << kl) - 8'd1;
    wire [7:0] mmask = (8'd1 << (kl - 4'd1)) - 8'd1;
    wire [7:0] b2mask = (8'd1 << b2l) - 8'd1;
    /* verilator lint_off UNUSEDSIGNAL */
    function automatic [WBITS-1:0] hw_code(input [7:0] raw);
        reg sgn;
        reg [7:0] mag, sx, i1, i2;
        begin
            sgn = raw[kl[2:0] - 3'd1];
            mag = raw & mmask;
            sx = sgn ? (raw | ~kmask) : raw;
            i1 = mag >> b2l;
            i2 = mag & b2mask;
            if (PE_TYPE == 0) hw_code = sx[WBITS-1:0];
            else if (PE_TYPE == 1) hw_code = {sgn, i1[B1S-1:0], i2[B2S-1:0]};
            else hw_code = {sgn, mag[MB-1:0]};
        end
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */

    // field f of a packed tile of k-bit fields
    function automatic [7:0] tile_field(input [BLKW-1:0] b, input integer f);
        begin
            case (kl)
                4'd1: tile_field = {7'd0, b[f*1 +: 1]};
                4'd2: tile_field = {6'd0, b[f*2 +: 2]};
                4'd3: tile_field = {5'd0, b[f*3 +: 3]};
                4'd4: tile_field = {4'd0, b[f*4 +: 4]};
                4'd5: tile_field = {3'd0, b[f*5 +: 5]};
                4'd6: tile_field = {2'd0, b[f*6 +: 6]};
                4'd7: tile_field = {1'd0, b[f*7 +: 7]};
                default: tile_field = b[f*8 +: 8];
            endcase
        end
    endfunction

    // the P x P PE codes of a weight tile; a depthwise tile puts channel o on lane (o, o)
    function automatic [P*P*WBITS-1:0] decode_tile(input [BLKW-1:0] b);
        integer f;
        begin
            decode_tile = {P*P*WBITS{1'b0}};
            for (f = 0; f < P * P; f = f + 1) begin
                if (!dw) decode_tile[f*WBITS +: WBITS] = hw_code(tile_field(b, f));
                else if (f / P == f % P)
                    decode_tile[f*WBITS +: WBITS] = hw_code(tile_field(b, f / P));
            end
        end
    endfunction

    // ------------------------------------------------------------------ sequencer
    reg c_run;
    reg [15:0] oy, ox, g, cg;
    reg [3:0] ky, kx;
    reg [LOGOF:0] wp, rp;
    reg [LOGOF+1:0] inflight;
    wire [LOGOF+1:0] ocount = {1'b0, wp - rp};
    wire op_last = ky == KH - 4'd1 && kx == KW - 4'd1 && cg == CGW - 16'd1;
    wire [LOGOF+2:0] used = {1'b0, ocount} + {1'b0, inflight};
    wire [31:0] used32 = {{(32-LOGOF-3){1'b0}}, used};
    wire credit = used32 < OF_DEPTH;
    wire issue = c_run && (!op_last || credit);
    reg cbank;  // the activation bank being computed
    assign computing = c_run || inflight != 0;

    // input coordinates of this tap (signed), and the buffer addresses
    wire signed [19:0] iy = $signed({4'd0, oy}) * $signed({16'd0, SH}) + $signed({16'd0, ky})
                            - $signed({16'd0, PT});
    wire signed [19:0] ix = $signed({4'd0, ox}) * $signed({16'd0, SW}) + $signed({16'd0, kx})
                            - $signed({16'd0, PL});
    wire in_img = iy >= 0 && ix >= 0 && iy < $signed({4'd0, H}) && ix < $signed({4'd0, W});
    wire [31:0] a_addr = in_img ? (iy[15:0] * W + {16'd0, ix[15:0]}) * {16'd0, CG}
                                  + {16'd0, dw ? g : cg}
                                : 32'd0;
    wire [31:0] w_addr = (({16'd0, g} * {28'd0, KH} + {28'd0, ky}) * {28'd0, KW} + {28'd0, kx})
                         * {16'd0, CGW} + {16'd0, cg};

    reg [P*8-1:0] a_rd;
    reg [P*P*WBITS-1:0] w_rd;
    reg s1_v, s1_in, s1_first, s1_last;
    reg [15:0] s1_g;
    always @(posedge clk) begin
        if (issue) begin
            a_rd <= amem[{cbank, a_addr[$clog2(ADEPTH)-1:0]}];
            w_rd <= wmem[w_addr[$clog2(WDEPTH)-1:0]];
        end
    end

    genvar go, gi;

    // PE inputs: codes (or P-LUT indices), the padding value outside the image
    wire [P*9-1:0] pe_act;
    generate
        for (gi = 0; gi < P; gi = gi + 1) begin : alane
            wire [7:0] b = a_rd[gi*8 +: 8];
            wire signed [8:0] code = s1_in ? {a_signed & b[7], b} : padv;
            assign pe_act[gi*9 +: 9] = (PE_TYPE == 3) ? code - aqmin : code;
        end
    endgenerate

    // shift exponent lists and P-LUT levels from the descriptor
    localparam integer NLEV = 1 << MB;
    reg [NLEV*3-1:0] exps;
    reg [NLEV*8-1:0] levels;
    integer q;
    always @(*) begin
        exps = {NLEV*3{1'b0}};
        levels = {NLEV*8{1'b0}};
        for (q = 0; q < 7; q = q + 1) begin
            if (q < (1 << B1) - 1 && q < NLEV) exps[q*3 +: 3] = e1[q*4 +: 3];
            if (q < (1 << B2) - 1 && NLEV/2 + q < NLEV) exps[(NLEV/2 + q)*3 +: 3] = e2[q*4 +: 3];
        end
        for (q = 0; q < 16; q = q + 1)
            if (q < NLEV) levels[q*8 +: 8] = lev[q*8 +: 8];
    end

    wire tab_we = state == S_PTAB && pt_busy;
    wire [31:0] pt_row = pt_e >> abl;
    wire [31:0] pt_col = pt_e & ((32'd1 << abl) - 32'd1);
    wire [31:0] pt_addr = (pt_row << ABITS) | pt_col;
    wire [15:0] pt_data = pt_word[pt_j*16 +: 16];

    wire pe_valid;
    wire [P*32-1:0] sums;
    pf_pe_array #(
        .PE_TYPE(PE_TYPE), .P_IN(P), .P_OUT(P), .AW(9), .WBITS(WBITS), .B2(B2), .LW(8),
        .ABITS(ABITS), .TBW(16), .SUM_W(32)
    ) pe (
        .clk(clk), .rst(rst), .en(1'b1), .in_valid(s1_v), .act(pe_act), .wgt(w_rd),
        .exps(exps), .levels(levels), .tab_we(tab_we), .tab_addr(pt_addr[MB+ABITS-1:0]),
        .tab_data(pt_data), .out_valid(pe_valid), .sums(sums)
    );

    // flags travel alongside the PE array (latency 2)
    reg p1_first, p1_last, p2_first, p2_last;
    reg [15:0] p1_g, p2_g;
    always @(posedge clk) begin
        p1_first <= s1_first; p1_last <= s1_last; p1_g <= s1_g;
        p2_first <= p1_first; p2_last <= p1_last; p2_g <= p1_g;
    end

    // accumulation over taps and input groups, then requantization
    reg [P*32-1:0] acc, rq_acc;
    reg [P*64-1:0] rq_par;
    reg rq_v;
    reg [P*32-1:0] accn;
    integer l;
    always @(*) begin
        for (l = 0; l < P; l = l + 1)
            accn[l*32 +: 32] = (p2_first ? 32'd0 : acc[l*32 +: 32]) + sums[l*32 +: 32];
    end
    always @(posedge clk) begin
        if (pe_valid) acc <= accn;
        if (pe_valid && p2_last) begin
            rq_acc <= accn;
            rq_par <= rqmem[p2_g[$clog2(MDEPTH)-1:0]];
        end
    end

    wire [P-1:0] y_valid;
    wire [P*9-1:0] y;
    wire [P*8-1:0] obytes;
    generate
        for (go = 0; go < P; go = go + 1) begin : rq
            pf_requant #(.ACC_W(32), .MULT_W(16), .OUT_W(9)) u (
                .clk(clk), .rst(rst), .en(1'b1), .in_valid(rq_v),
                .acc(rq_acc[go*32 +: 32]), .bias_shift(fsh),
                .bias(rq_par[go*64 +: 32]), .mult(rq_par[go*64 + 32 +: 16]),
                .shift(rq_par[go*64 + 48 +: 6]), .zero_point(zp), .lo(lo), .hi(hi),
                .out_valid(y_valid[go]), .y(y[go*9 +: 9])
            );
            wire [7:0] yb = y[go*9 +: 8];
            assign obytes[go*8 +: 8] = has_tab ? atab[yb ^ 8'h80] : yb;
        end
    endgenerate
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, y_valid[P-1:1], y, rq_par, d_magic, NWW, b2mask, a_addr,
                       w_addr, pt_addr, p2_g, blk_cur, pend_idx};
    /* verilator lint_on UNUSEDSIGNAL */
    wire push = y_valid[0];

    // ------------------------------------------------------------------ output
    reg [P*8-1:0] ofmem [0:OF_DEPTH-1];
    reg [NWO*DATA_W-1:0] oreg;
    reg oh;
    reg [7:0] oj;
    reg [31:0] out_cnt;
    wire ohs = oh && m_axis_tready;
    wire refill = (!oh || (ohs && oj == NWO[7:0] - 8'd1)) && ocount != 0;
    assign m_axis_tvalid = oh;
    assign m_axis_tdata = oreg[oj*DATA_W +: DATA_W];
    assign m_axis_tkeep = {DATA_W/8{1'b1}};
    assign m_axis_tlast = out_cnt == OUT_WORDS - 32'd1;
    assign stall = (loading && !s_axis_tvalid) || (oh && !m_axis_tready);

    always @(posedge clk) begin
        if (push) ofmem[wp[LOGOF-1:0]] <= obytes;
    end

    // ------------------------------------------------------------------ main FSM
    // a completed block is written into its buffer in the cycle after its last word
    // (from the assembly register; decoding happens only then)
    wire good_beat = beat && state != S_DRAIN && &s_axis_tkeep
                     && !(s_axis_tlast && !final_beat) && !(final_beat && !s_axis_tlast);
    reg pend;
    reg [3:0] pend_state;
    reg [31:0] pend_idx;
    reg pend_bank;
    always @(posedge clk) begin
        if (rst) pend <= 1'b0;
        else pend <= good_beat && blk_end
                     && (state == S_REQ || state == S_WGT || state == S_ACT);
        pend_state <= state;
        pend_idx <= bcnt;
        pend_bank <= img[0];
        if (good_beat) blk[wcnt*DATA_W +: DATA_W] <= s_axis_tdata;
    end
    always @(posedge clk) begin
        if (pend && pend_state == S_REQ) rqmem[pend_idx[$clog2(MDEPTH)-1:0]] <= blk[P*64-1:0];
        if (pend && pend_state == S_WGT) wmem[pend_idx[$clog2(WDEPTH)-1:0]] <= decode_tile(blk);
        if (pend && pend_state == S_ACT)
            amem[{pend_bank, pend_idx[$clog2(ADEPTH)-1:0]}] <= blk[P*8-1:0];
    end
    integer t;
    always @(posedge clk) begin
        if (beat && state == S_ATAB && !(s_axis_tlast && !final_beat) && &s_axis_tkeep)
            for (t = 0; t < DATA_W / 8; t = t + 1)
                atab[bcnt[7:0] * (DATA_W / 8) + t] <= s_axis_tdata[t*8 +: 8];
    end

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            ap_done <= 1'b0;
            error_code <= 8'd0;
            err_next <= 8'd0;
            c_run <= 1'b0;
            s1_v <= 1'b0;
            rq_v <= 1'b0;
            wp <= 0;
            rp <= 0;
            inflight <= 0;
            oh <= 1'b0;
            oj <= 8'd0;
            out_cnt <= 32'd0;
            in_words <= 32'd0;
            out_words <= 32'd0;
            pt_busy <= 1'b0;
            idle_cnt <= 32'd0;
            bcnt <= 32'd0;
            wcnt <= 8'd0;
            img <= 16'd0;
        end else begin
            ap_done <= 1'b0;
            if (beat) in_words <= in_words + 32'd1;
            if (m_axis_tvalid && m_axis_tready) out_words <= out_words + 32'd1;

            // ---- sequencer
            s1_v <= issue;
            if (issue) begin
                s1_in <= in_img;
                s1_first <= ky == 4'd0 && kx == 4'd0 && cg == 16'd0;
                s1_last <= op_last;
                s1_g <= g;
                if (cg != CGW - 16'd1) cg <= cg + 16'd1;
                else begin
                    cg <= 16'd0;
                    if (kx != KW - 4'd1) kx <= kx + 4'd1;
                    else begin
                        kx <= 4'd0;
                        if (ky != KH - 4'd1) ky <= ky + 4'd1;
                        else begin
                            ky <= 4'd0;
                            if (g != MG - 16'd1) g <= g + 16'd1;
                            else begin
                                g <= 16'd0;
                                if (ox != OW - 16'd1) ox <= ox + 16'd1;
                                else begin
                                    ox <= 16'd0;
                                    if (oy != OH - 16'd1) oy <= oy + 16'd1;
                                    else c_run <= 1'b0;
                                end
                            end
                        end
                    end
                end
            end
            rq_v <= pe_valid && p2_last;
            if (push) wp <= wp + 1'b1;
            inflight <= inflight + {{LOGOF+1{1'b0}}, issue && op_last}
                                 - {{LOGOF+1{1'b0}}, push};

            // ---- output gearbox
            if (ohs) begin
                out_cnt <= out_cnt + 32'd1;
                if (oj != NWO[7:0] - 8'd1) oj <= oj + 8'd1;
                else oh <= 1'b0;
            end
            if (refill) begin
                oreg <= {{(NWO*DATA_W-P*8){1'b0}}, ofmem[rp[LOGOF-1:0]]};
                rp <= rp + 1'b1;
                oh <= 1'b1;
                oj <= 8'd0;
            end

            // ---- input watchdog
            if (s_axis_tready && !s_axis_tvalid) idle_cnt <= idle_cnt + 32'd1;
            else idle_cnt <= 32'd0;

            // ---- loader
            case (state)
                S_IDLE: if (ap_start) begin
                    state <= S_DESC;
                    in_words <= 32'd0;
                    out_words <= 32'd0;
                    bcnt <= 32'd0;
                    wcnt <= 8'd0;
                    out_cnt <= 32'd0;
                    err_next <= 8'd0;
                end
                S_CHECK: begin
                    if (d_magic != MAGIC) begin
                        err_next <= E_MAGIC;
                        state <= S_DRAIN;
                    end else if (!format_ok) begin
                        err_next <= E_FORMAT;
                        state <= S_DRAIN;
                    end else if (!size_ok) begin
                        err_next <= E_SIZE;
                        state <= S_DRAIN;
                    end else state <= S_REQ;
                end
                S_PTAB: if (pt_busy) begin
                    pt_e <= pt_e + 32'd1;
                    pt_j <= pt_j + 8'd1;
                    if (pt_e == NT - 32'd1) begin
                        pt_busy <= 1'b0;
                        state <= S_WGT;
                        bcnt <= 32'd0;
                    end else if ({24'd0, pt_j} == DATA_W / 16 - 1) pt_busy <= 1'b0;
                end
                // image img is loaded (its last block is written this cycle): once the
                // previous image's compute has drained, compute it from its bank and load
                // the next image into the other bank meanwhile
                S_ACTW: if (!c_run && inflight == 0) begin
                    c_run <= 1'b1;
                    cbank <= img[0];
                    oy <= 16'd0;
                    ox <= 16'd0;
                    g <= 16'd0;
                    ky <= 4'd0;
                    kx <= 4'd0;
                    cg <= 16'd0;
                    if (img == NB - 16'd1) state <= S_COMP;
                    else begin
                        img <= img + 16'd1;
                        state <= S_ACT;
                    end
                end
                S_COMP: if (!c_run && inflight == 0) state <= S_TAIL;
                S_TAIL: if (out_cnt == OUT_WORDS) state <= S_DONE;
                S_DRAIN: if (beat && s_axis_tlast) state <= S_DONE;
                S_DONE: if (c_run || inflight != 0) begin
                    c_run <= 1'b0;  // a failed run: stop computing, let the pipeline drain
                end else begin
                    ap_done <= 1'b1;
                    error_code <= err_next;
                    state <= S_IDLE;
                    if (err_next != 8'd0) begin  // abandon any output of the failed run
                        rp <= wp;
                        oh <= 1'b0;
                    end
                end
                default: ;
            endcase

            // no input beat for TIMEOUT cycles: a stalled stream ends the run; while
            // draining a failed packet it ends the drain (the first error code stays)
            if (s_axis_tready && !s_axis_tvalid && idle_cnt == TIMEOUT - 1) begin
                if (state != S_DRAIN) err_next <= E_TIMEOUT;
                state <= S_DONE;
            end

            if (beat && state != S_DRAIN) begin
                if (!(&s_axis_tkeep)) begin
                    err_next <= E_TKEEP;
                    state <= s_axis_tlast ? S_DONE : S_DRAIN;
                end else if (s_axis_tlast && !final_beat) begin
                    err_next <= E_EARLY_LAST;
                    state <= S_DONE;
                end else if (final_beat && !s_axis_tlast) begin
                    err_next <= E_NO_LAST;
                    state <= S_DRAIN;
                end else begin
                    // block assembly
                    if (blk_end) wcnt <= 8'd0;
                    else wcnt <= wcnt + 8'd1;
                    if (blk_end) bcnt <= sec_end ? 32'd0 : bcnt + 32'd1;
                    case (state)
                        S_DESC: if (blk_end) begin
                            d_magic <= blk_cur[31:0];
                            dw <= blk_cur[32];
                            has_tab <= blk_cur[33];
                            w_signed <= blk_cur[34];
                            a_signed <= blk_cur[35];
                            kl <= blk_cur[39:36];
                            b2l <= blk_cur[43:40];
                            abl <= blk_cur[47:44];
                            fsh <= blk_cur[52:48];
                            H <= blk_cur[79:64];
                            W <= blk_cur[95:80];
                            C <= blk_cur[111:96];
                            M <= blk_cur[127:112];
                            OH <= blk_cur[143:128];
                            OW <= blk_cur[159:144];
                            KH <= blk_cur[163:160];
                            KW <= blk_cur[167:164];
                            SH <= blk_cur[171:168];
                            SW <= blk_cur[175:172];
                            PT <= blk_cur[179:176];
                            PL <= blk_cur[183:180];
                            padv <= blk_cur[200:192];
                            zp <= blk_cur[216:208];
                            lo <= blk_cur[232:224];
                            hi <= blk_cur[248:240];
                            aqmin <= blk_cur[264:256];
                            NB <= blk_cur[303:288];
                            e1 <= blk_cur[347:320];
                            e2 <= blk_cur[379:352];
                            lev <= blk_cur[511:384];
                            state <= S_CHECK;
                        end
                        S_REQ: if (sec_end) state <= after_req;
                        S_ATAB: if (sec_end) state <= after_atab;
                        S_PTAB: begin
                            pt_word <= s_axis_tdata;
                            pt_busy <= 1'b1;
                            pt_j <= 8'd0;
                            if (bcnt == 32'd0) pt_e <= 32'd0;
                        end
                        S_WGT: if (sec_end) begin
                            state <= S_ACT;
                            img <= 16'd0;
                        end
                        S_ACT: if (sec_end) state <= S_ACTW;
                        default: ;
                    endcase
                end
            end
        end
    end
endmodule

`default_nettype wire
