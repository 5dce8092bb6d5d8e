// plutflow engine: runs a program from memory (docs/spec.md 9).
//
//   pf_loader (fetch, check, load)  ->  compute (pf_seq + pf_datapath)  ->  store
//        |  pf_axi_rd                                                     |  pf_axi_wr
//        +----------------------------- m_axi (one AXI4 master) ---------+
//
// One ap_start runs PROG_COUNT descriptors. The loader works one descriptor ahead of the
// compute stage; outputs leave through the writer as they are produced (their addresses
// follow the tile's output strides); the compute stage only issues an output group when
// the writer has room for it. The run ends (ap_done) when every descriptor has been
// computed and every output is acknowledged by the memory, or on the first error: then
// the stages stop, outstanding bursts drain, and STATUS says what failed and where.
`default_nettype none
`include "pf_contract.vh"

module pf_engine #(
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
    parameter integer TSLOTS = 8,
    parameter integer ADDR_W = `PF_ADDR_BITS,
    parameter integer WR_DEPTH = 64       // writer FIFO beats
) (
    input  wire              clk,
    input  wire              rst,
    // control (ap_ctrl_hs) and run configuration
    input  wire              ap_start,
    output reg               ap_done,
    output wire              ap_idle,
    output wire              ap_ready,
    input  wire [31:0]       prog_addr,
    input  wire [31:0]       prog_count,
    input  wire [63:0]       mem_base,
    input  wire [31:0]       mem_size,
    input  wire [31:0]       timeout,
    output reg  [15:0]       status,      // {unit, error}
    output wire [31:0]       cur_desc,
    output reg  [31:0]       done_desc,
    output reg  [31:0]       err_addr,
    output wire              ev_stall,
    output wire              ev_compute,
    output wire              ev_rd_beat,
    output wire              ev_wr_beat,
    // AXI4 master
    output wire [0:0]        m_axi_arid,
    output wire [ADDR_W-1:0] m_axi_araddr,
    output wire [7:0]        m_axi_arlen,
    output wire [2:0]        m_axi_arsize,
    output wire [1:0]        m_axi_arburst,
    output wire [3:0]        m_axi_arcache,
    output wire [2:0]        m_axi_arprot,
    output wire              m_axi_arvalid,
    input  wire              m_axi_arready,
    input  wire [0:0]        m_axi_rid,
    input  wire [8*P-1:0]    m_axi_rdata,
    input  wire [1:0]        m_axi_rresp,
    input  wire              m_axi_rlast,
    input  wire              m_axi_rvalid,
    output wire              m_axi_rready,
    output wire [0:0]        m_axi_awid,
    output wire [ADDR_W-1:0] m_axi_awaddr,
    output wire [7:0]        m_axi_awlen,
    output wire [2:0]        m_axi_awsize,
    output wire [1:0]        m_axi_awburst,
    output wire [3:0]        m_axi_awcache,
    output wire [2:0]        m_axi_awprot,
    output wire              m_axi_awvalid,
    input  wire              m_axi_awready,
    output wire [8*P-1:0]    m_axi_wdata,
    output wire [P-1:0]      m_axi_wstrb,
    output wire              m_axi_wlast,
    output wire              m_axi_wvalid,
    input  wire              m_axi_wready,
    input  wire [0:0]        m_axi_bid,
    input  wire [1:0]        m_axi_bresp,
    input  wire              m_axi_bvalid,
    output wire              m_axi_bready
);
    localparam integer LWD = $clog2(WR_DEPTH);

    // ------------------------------------------------------------------ run control
    localparam [2:0] E_IDLE = 3'd0, E_RUN = 3'd1, E_STOP = 3'd2, E_DONE = 3'd3;
    reg [2:0] est;
    reg run_start;    // registered pulse: a run starts (the stages clear, the loader starts)
    assign ap_idle = est == E_IDLE;
    assign ap_ready = run_start;
    reg l_done_seen;  // the loader has handed over (or failed) every descriptor

    // ------------------------------------------------------------------ memory masters
    wire rq_valid, rq_ready, rd_valid, rd_ready, rd_busy, rd_err;
    wire [31:0] rq_off;
    wire [7:0] rq_len1;
    wire [8*P-1:0] rd_data;
    pf_axi_rd #(.DATA_W(8*P), .ADDR_W(ADDR_W), .MAX_OUT(8)) rd (
        .clk(clk), .rst(rst), .base(mem_base), .clear(run_start),
        .req_valid(rq_valid), .req_ready(rq_ready), .req_off(rq_off), .req_len1(rq_len1),
        .rd_valid(rd_valid), .rd_data(rd_data), .rd_ready(rd_ready), .busy(rd_busy),
        .err_resp(rd_err),
        .m_axi_arid(m_axi_arid), .m_axi_araddr(m_axi_araddr), .m_axi_arlen(m_axi_arlen),
        .m_axi_arsize(m_axi_arsize), .m_axi_arburst(m_axi_arburst),
        .m_axi_arcache(m_axi_arcache), .m_axi_arprot(m_axi_arprot),
        .m_axi_arvalid(m_axi_arvalid), .m_axi_arready(m_axi_arready), .m_axi_rid(m_axi_rid),
        .m_axi_rdata(m_axi_rdata), .m_axi_rresp(m_axi_rresp), .m_axi_rlast(m_axi_rlast),
        .m_axi_rvalid(m_axi_rvalid), .m_axi_rready(m_axi_rready)
    );
    reg wr_valid;
    reg [31:0] wr_off;
    reg [8*P-1:0] wr_data;
    reg wr_flush;
    wire wr_ready, wr_idle, wr_err;
    wire [LWD:0] wr_free;
    pf_axi_wr #(.DATA_W(8*P), .ADDR_W(ADDR_W), .MAX_BURST(16), .DEPTH(WR_DEPTH)) wr (
        .clk(clk), .rst(rst), .base(mem_base), .clear(run_start),
        .wr_valid(wr_valid), .wr_ready(wr_ready), .wr_off(wr_off), .wr_data(wr_data),
        .flush(wr_flush), .idle(wr_idle), .err_resp(wr_err), .free(wr_free),
        .m_axi_awid(m_axi_awid), .m_axi_awaddr(m_axi_awaddr), .m_axi_awlen(m_axi_awlen),
        .m_axi_awsize(m_axi_awsize), .m_axi_awburst(m_axi_awburst),
        .m_axi_awcache(m_axi_awcache), .m_axi_awprot(m_axi_awprot),
        .m_axi_awvalid(m_axi_awvalid), .m_axi_awready(m_axi_awready),
        .m_axi_wdata(m_axi_wdata), .m_axi_wstrb(m_axi_wstrb), .m_axi_wlast(m_axi_wlast),
        .m_axi_wvalid(m_axi_wvalid), .m_axi_wready(m_axi_wready), .m_axi_bid(m_axi_bid),
        .m_axi_bresp(m_axi_bresp), .m_axi_bvalid(m_axi_bvalid), .m_axi_bready(m_axi_bready)
    );
    assign ev_rd_beat = m_axi_rvalid && m_axi_rready;
    assign ev_wr_beat = m_axi_wvalid && m_axi_wready;

    // ------------------------------------------------------------------ loader
    wire l_done, l_fail, h_valid;
    reg h_ready;
    wire [7:0] l_err, l_unit;
    wire [31:0] l_addr;
    wire [`PF_DESC_BITS-1:0] h_desc;
    wire [119:0] h_consts;
    reg stop;
    reg c_busy;
    reg [`PF_DESC_BITS-1:0] cd;   // the descriptor the compute stage runs
    reg [119:0] cc;
    wire a_we, a_bank, w_we, w_bank, r_we, r_bank, t_we, t_bank, p_we;
    wire [23:0] a_addr;
    wire [15:0] w_addr, r_addr, t_addr, p_addr, p_data;
    wire [8*P-1:0] a_data, t_data;
    wire [8*P*P-1:0] w_data;
    wire [64*P-1:0] r_data;
    wire [3:0] c_kind = `PF_D_KIND(cd);
    wire [15:0] c_flags = `PF_D_FLAGS(cd);
    wire c_binary = c_kind == `PF_K_ADD || c_kind == `PF_K_MUL;
    wire c_uses_w = c_kind == `PF_K_CONV || c_kind == `PF_K_DW || c_flags[`PF_F_TABLE]
                    || c_flags[`PF_F_RQ_PER_CH];
    wire c_ptab = c_kind == `PF_K_CONV && PE_TYPE == 3 && !c_flags[`PF_F_INT8_PATH];
    pf_loader #(
        .PE_TYPE(PE_TYPE), .P(P), .WBITS(WBITS), .ABITS(ABITS), .INT8_PATH(INT8_PATH),
        .ADEPTH(ADEPTH), .WDEPTH(WDEPTH), .MDEPTH(MDEPTH), .PDEPTH(PDEPTH), .TSLOTS(TSLOTS)
    ) ld (
        .clk(clk), .rst(rst), .start(run_start), .prog_addr(prog_addr),
        .prog_count(prog_count), .mem_size(mem_size), .timeout(timeout), .done(l_done),
        .err_code(l_err), .err(l_fail), .err_unit(l_unit), .err_addr(l_addr), .cur_desc(cur_desc),
        .stop(stop), .req_valid(rq_valid), .req_ready(rq_ready), .req_off(rq_off),
        .req_len1(rq_len1), .rd_valid(rd_valid), .rd_data(rd_data), .rd_ready(rd_ready),
        .rd_busy(rd_busy), .rd_err(rd_err), .c_busy(c_busy),
        .c_abank(c_flags[`PF_F_ABANK]), .c_binary(c_binary),
        .c_wbank(c_flags[`PF_F_WBANK]), .c_uses_w(c_uses_w), .c_ptab(c_ptab),
        .store_idle(wr_idle && !wr_valid), .h_valid(h_valid), .h_ready(h_ready),
        .h_desc(h_desc), .h_consts(h_consts),
        .a_we(a_we), .a_bank(a_bank), .a_addr(a_addr), .a_data(a_data),
        .w_we(w_we), .w_bank(w_bank), .w_addr(w_addr), .w_data(w_data),
        .r_we(r_we), .r_bank(r_bank), .r_addr(r_addr), .r_data(r_data),
        .t_we(t_we), .t_bank(t_bank), .t_addr(t_addr), .t_data(t_data),
        .p_we(p_we), .p_addr(p_addr), .p_data(p_data)
    );

    // ------------------------------------------------------------------ compute stage
    reg seq_start, c_setup;
    wire seq_busy, s_valid, s_first, s_last, s_end;
    wire [23:0] s_a_addr, s_b_addr, s_grp;
    wire [15:0] s_w_addr, s_g;
    reg [LWD+1:0] inflight;   // output groups issued and not yet out of the datapath
    wire o_valid, o_end, tile_done;
    wire [8*P-1:0] o_data;
    // the output credit, registered: a group's last step issues only with room for it
    // in the writer (whose `free` is itself registered); four beats of margin cover the
    // registers between the datapath and the writer's count
    reg hold;
    always @(posedge clk) hold <= {1'b0, inflight} + 4 >= {1'b0, wr_free};
    pf_seq #(.AW($clog2(ADEPTH))) seq (
        .clk(clk), .rst(rst || stop), .start(seq_start), .conv(c_kind == `PF_K_CONV),
        .bcast(c_flags[`PF_F_B_BCAST]), .icg(`PF_D_ICG(cd)), .omg(`PF_D_OMG(cd)),
        .oh(`PF_D_OH(cd)), .ow(`PF_D_OW(cd)), .kh(`PF_D_KH(cd)), .kw(`PF_D_KW(cd)),
        .sh_rs(cc[24 +: 24]), .dh_rs(cc[48 +: 24]), .sw_ps(cc[72 +: 24]),
        .dw_ps(cc[96 +: 24]), .hold(hold), .busy(seq_busy), .s_valid(s_valid),
        .s_a_addr(s_a_addr), .s_b_addr(s_b_addr), .s_w_addr(s_w_addr), .s_g(s_g),
        .s_grp(s_grp), .s_first(s_first), .s_last(s_last), .s_end(s_end)
    );
    pf_datapath #(
        .PE_TYPE(PE_TYPE), .P(P), .WBITS(WBITS), .B2(B2), .ABITS(ABITS),
        .INT8_PATH(INT8_PATH), .ADEPTH(ADEPTH), .WDEPTH(WDEPTH), .MDEPTH(MDEPTH),
        .PDEPTH(PDEPTH), .TSLOTS(TSLOTS)
    ) dp (
        .clk(clk), .rst(rst), .kind(c_kind), .flags(c_flags), .fshift(`PF_D_FSHIFT(cd)),
        .zp(`PF_D_ZP(cd)), .lo(`PF_D_LO(cd)), .hi(`PF_D_HI(cd)), .aqmin(`PF_D_AQMIN(cd)),
        .za(`PF_D_ZA(cd)), .zb(`PF_D_ZB(cd)), .shift(`PF_D_SHIFT(cd)),
        .mult_a(`PF_D_MULT_A(cd)), .mult_b(`PF_D_MULT_B(cd)), .exp1(`PF_D_EXP1(cd)),
        .exp2(`PF_D_EXP2(cd)),
        .lev({`PF_D_LEV3(cd), `PF_D_LEV2(cd), `PF_D_LEV1(cd), `PF_D_LEV0(cd)}),
        .s_valid(s_valid), .s_a_addr(s_a_addr), .s_b_addr(s_b_addr), .s_w_addr(s_w_addr),
        .s_g(s_g), .s_grp(s_grp), .s_first(s_first), .s_last(s_last), .s_end(s_end),
        .a_we(a_we), .a_bank(a_bank), .a_addr(a_addr), .a_data(a_data),
        .w_we(w_we), .w_bank(w_bank), .w_addr(w_addr), .w_data(w_data),
        .r_we(r_we), .r_bank(r_bank), .r_addr(r_addr), .r_data(r_data),
        .t_we(t_we), .t_bank(t_bank), .t_addr(t_addr), .t_data(t_data),
        .p_we(p_we), .p_addr(p_addr), .p_data(p_data),
        .o_valid(o_valid), .o_data(o_data), .o_end(o_end), .tile_done(tile_done)
    );
    assign ev_compute = s_valid;
    assign ev_stall = est == E_RUN && !c_busy && !l_done_seen;

    always @(posedge clk) begin
        if (rst || run_start) inflight <= {(LWD+2){1'b0}};
        else inflight <= inflight
                         + {{(LWD+1){1'b0}}, s_valid && s_last && c_flags[`PF_F_PSUM_LAST]}
                         - {{(LWD+1){1'b0}}, o_valid};
    end

    // compute: take a descriptor from the loader, run its tile, wait for it to drain
    wire take_desc = !c_busy && h_valid && !h_ready;
    always @(posedge clk) begin
        if (take_desc) begin
            cd <= h_desc;
            cc <= h_consts;
        end
    end
    always @(posedge clk) begin
        seq_start <= 1'b0;
        c_setup <= seq_start;
        h_ready <= 1'b0;
        if (rst || run_start) begin
            c_busy <= 1'b0;
            done_desc <= 32'd0;
        end else if (stop) begin
            c_busy <= 1'b0;
        end else if (take_desc) begin
            h_ready <= 1'b1;
            c_busy <= 1'b1;
            seq_start <= 1'b1;
        end else if (c_busy && tile_done) begin
            c_busy <= 1'b0;
            done_desc <= done_desc + 32'd1;
        end
    end

    // ------------------------------------------------------------------ store
    // the output address of each group: O_ADDR + oy*O_RS + ox*O_PS + g*P, as running sums.
    // The group and column counters hold "left after this output - 1": their sign says
    // this output ends its pixel / row, with no compare.
    reg [16:0] so_gc, so_xc, so_gr, so_xr;
    reg [31:0] so_row, so_pix, so_cur, so_rs, so_ps;
    wire so_gz = so_gc[16], so_xz = so_xc[16];
    wire [31:0] so_next = ({32{!so_gz}} & (so_cur + P))
                        | ({32{so_gz && !so_xz}} & (so_pix + so_ps))
                        | ({32{so_gz && so_xz}} & (so_row + so_rs));
    always @(posedge clk) begin
        if (rst) begin
            wr_valid <= 1'b0;
            wr_flush <= 1'b0;
        end else begin
            wr_valid <= o_valid;
            wr_flush <= o_valid && o_end;
        end
        if (o_valid) begin
            wr_off <= so_cur;
            wr_data <= o_data;
        end
        if (seq_start) begin
            so_gr <= {1'b0, `PF_D_OMG(cd)} - 17'd2;
            so_xr <= {1'b0, `PF_D_OW(cd)} - 17'd2;
            so_rs <= {8'd0, `PF_D_O_RS(cd)};
            so_ps <= {8'd0, `PF_D_O_PS(cd)};
        end
        if (c_setup) begin
            so_gc <= so_gr;
            so_xc <= so_xr;
        end else if (o_valid) begin
            so_gc <= so_gz ? so_gr : so_gc - 17'd1;
            if (so_gz) so_xc <= so_xz ? so_xr : so_xc - 17'd1;
        end
        if (seq_start || o_valid) begin
            so_cur <= seq_start ? `PF_D_O_ADDR(cd) : so_next;
        end
        if (seq_start || (o_valid && so_gz)) begin
            so_pix <= seq_start ? `PF_D_O_ADDR(cd) : so_next;
        end
        if (seq_start || (o_valid && so_gz && so_xz)) begin
            so_row <= seq_start ? `PF_D_O_ADDR(cd) : so_next;
        end
    end

    // ------------------------------------------------------------------ errors, end of run
    reg [7:0] e_code, e_unit;
    reg [31:0] e_addr;
    reg [31:0] st_idle, drain;
    reg st_to, drain_min, drain_to;  // the watchdog compares, registered
    wire wr_moving = (m_axi_awvalid && m_axi_awready) || (m_axi_wvalid && m_axi_wready)
                     || m_axi_bvalid;
    always @(posedge clk) begin
        st_to <= st_idle == timeout;
        drain_min <= drain > 32'd64;
        drain_to <= drain > timeout;
    end
    always @(posedge clk) begin
        ap_done <= 1'b0;
        run_start <= 1'b0;
        if (rst) begin
            est <= E_IDLE;
            stop <= 1'b0;
            status <= 16'd0;
            err_addr <= 32'd0;
            l_done_seen <= 1'b0;
        end else begin
            // the store watchdog: outputs pending and the memory does not move
            if (wr_idle || wr_moving) st_idle <= 32'd0;
            else st_idle <= st_idle + 32'd1;
            case (est)
                E_IDLE: if (ap_start) begin  // (run_start is only ever set in E_RUN's first cycle)
                    drain <= 32'd0;
                    est <= E_RUN;
                    run_start <= 1'b1;
                    stop <= 1'b0;
                    l_done_seen <= 1'b0;
                    e_code <= 8'd0;
                    e_unit <= 8'd0;
                    e_addr <= 32'd0;
                end
                E_RUN: begin
                    drain <= 32'd0;
                    if (l_done) l_done_seen <= 1'b1;
                    if (l_done && l_fail) begin
                        e_code <= l_err;
                        e_unit <= l_unit;
                        e_addr <= l_addr;
                        est <= E_STOP;
                        stop <= 1'b1;
                        drain <= 32'd0;
                    end else if (wr_err) begin
                        e_code <= `PF_E_BRESP;
                        e_unit <= `PF_U_STORE;
                        e_addr <= wr_off;
                        est <= E_STOP;
                        stop <= 1'b1;
                        drain <= 32'd0;
                    end else if (st_to) begin
                        e_code <= `PF_E_TIMEOUT;
                        e_unit <= `PF_U_STORE;
                        e_addr <= wr_off;
                        est <= E_STOP;
                        stop <= 1'b1;
                        drain <= 32'd0;
                    end else if (l_done_seen && !c_busy && !h_valid && wr_idle && !wr_valid
                                 && !o_valid) begin
                        est <= E_DONE;
                    end
                end
                E_STOP: begin  // the loader drains its reads; outputs in flight go out
                    if (l_done) l_done_seen <= 1'b1;
                    drain <= drain + 32'd1;
                    if ((l_done_seen || l_done) && drain_min
                        && ((wr_idle && !wr_valid) || drain_to)) begin
                        est <= E_DONE;
                        stop <= 1'b0;
                    end
                end
                E_DONE: begin
                    ap_done <= 1'b1;
                    status <= {e_unit, e_code};
                    err_addr <= e_addr;
                    est <= E_IDLE;
                end
                default: est <= E_IDLE;
            endcase
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, seq_busy, wr_ready, cd, cc[23:0]};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
