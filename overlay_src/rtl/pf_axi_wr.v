// plutflow AXI4 write master (m_axi, Vitis-HLS style): addressed beats in, bursts out.
//
// Each input beat carries its byte offset in the memory window. Consecutive offsets are
// merged into INCR bursts of at most MAX_BURST beats that never cross a 4 KB page; a
// burst closes when the next beat does not continue it, when it is full, at a page
// boundary, or on `flush`. Closed bursts go out on AW (window base added) and W (their
// beats from the data FIFO, WLAST on the last); B responses are counted. `idle` says that
// every accepted beat has been written and acknowledged. A write error response sets
// err_resp.
//
// For 250 MHz the input is registered (whether a beat continues the open burst is
// decided as it enters, and the window base is added there), the W channel's last-beat
// flag comes from the sign of a down counter, the FIFO and queue fills are counters, and
// `wr_ready`, `free` and `idle` are registers two stages behind them: `free` may
// understate the room by the beats of the last four cycles, never overstate it.
`default_nettype none
`include "pf_contract.vh"

module pf_axi_wr #(
    parameter integer DATA_W = 128,
    parameter integer ADDR_W = `PF_ADDR_BITS,
    parameter integer MAX_BURST = 16,   // beats per burst (power of two, <= 256)
    parameter integer DEPTH = 64        // data FIFO beats (power of two, >= 4*MAX_BURST)
) (
    input  wire              clk,
    input  wire              rst,
    input  wire [63:0]       base,
    input  wire              clear,     // start of a run: clears err_resp
    // addressed beats
    input  wire              wr_valid,
    output reg               wr_ready,
    input  wire [31:0]       wr_off,
    input  wire [DATA_W-1:0] wr_data,
    input  wire              flush,     // close the open burst
    output reg               idle,
    output reg               err_resp,
    output reg  [$clog2(DEPTH):0] free, // beats it can take for sure
    // AXI4 write channels
    output wire [0:0]        m_axi_awid,
    output reg  [ADDR_W-1:0] m_axi_awaddr,
    output reg  [7:0]        m_axi_awlen,
    output wire [2:0]        m_axi_awsize,
    output wire [1:0]        m_axi_awburst,
    output wire [3:0]        m_axi_awcache,
    output wire [2:0]        m_axi_awprot,
    output reg               m_axi_awvalid,
    input  wire              m_axi_awready,
    output reg  [DATA_W-1:0] m_axi_wdata,
    output wire [DATA_W/8-1:0] m_axi_wstrb,
    output reg               m_axi_wlast,
    output reg               m_axi_wvalid,
    input  wire              m_axi_wready,
    input  wire [0:0]        m_axi_bid,
    input  wire [1:0]        m_axi_bresp,
    input  wire              m_axi_bvalid,
    output wire              m_axi_bready
);
    localparam integer LD = $clog2(DEPTH);
    localparam integer LB = $clog2(MAX_BURST);
    localparam integer BEAT = DATA_W / 8;
    localparam integer SIZE = $clog2(BEAT);

    generate
        if (DATA_W < 32 || DATA_W > 1024 || (DATA_W & (DATA_W - 1)) != 0) begin : bad_width
            $error("pf_axi_wr: DATA_W must be a power of two, 32..1024");
        end
        if (MAX_BURST < 1 || MAX_BURST > 256 || (MAX_BURST & (MAX_BURST - 1)) != 0) begin : bad_b
            $error("pf_axi_wr: MAX_BURST must be a power of two, 1..256");
        end
        if (DEPTH < 4 * MAX_BURST || (DEPTH & (DEPTH - 1)) != 0) begin : bad_depth
            $error("pf_axi_wr: DEPTH must be a power of two, at least 4 * MAX_BURST");
        end
    endgenerate

    assign m_axi_awid = 1'b0;
    assign m_axi_awsize = SIZE[2:0];
    assign m_axi_awburst = 2'b01;
    assign m_axi_awcache = 4'b0011;
    assign m_axi_awprot = 3'b000;
    assign m_axi_wstrb = {(DATA_W/8){1'b1}};
    assign m_axi_bready = 1'b1;

    // ------------------------------------------------------------------ input register
    // (cont: the beat continues the previous beat's address; a new burst is needed when
    // it does not, or the open burst is full, or the previous beat ended a 4 KB page)
    reg in_v, in_cont, in_flush;
    reg [31:0] last_next;
    reg [ADDR_W-1:0] in_addr;     // wr_off plus the window base
    reg [DATA_W-1:0] in_data;
    always @(posedge clk) begin
        if (rst) begin
            in_v <= 1'b0;
            in_flush <= 1'b0;
            last_next <= 32'hFFFF_FFFF;
        end else begin
            in_v <= wr_valid && wr_ready;
            in_flush <= flush;
            if (wr_valid && wr_ready) begin
                in_addr <= base[ADDR_W-1:0] + {{(ADDR_W-32){1'b0}}, wr_off};
                in_data <= wr_data;
                in_cont <= wr_off == last_next && last_next[11:0] != 12'd0;
                last_next <= wr_off + BEAT;
            end
        end
    end

    // ------------------------------------------------------------------ data FIFO
    reg [DATA_W-1:0] dmem [0:DEPTH-1];
    reg [LD:0] dwp, drp;
    always @(posedge clk) begin
        if (in_v) dmem[dwp[LD-1:0]] <= in_data;
    end

    // ------------------------------------------------------------------ burst builder
    reg open, flush_pend;
    reg [ADDR_W-1:0] b_start;
    reg [LB:0] b_len;
    reg b_full;
    wire extend = in_v && open && in_cont && !b_full;
    wire close_now = open && (in_v ? !extend : (flush_pend || in_flush || b_full));

    // closed bursts: {start address, beats - 1} for AW; for W, whether the burst is one
    // beat and its beats - 3 (the W counter's start, signed)
    reg [ADDR_W-1:0] qa_addr [0:DEPTH-1];
    reg [7:0] qa_len [0:DEPTH-1];
    reg qw_one [0:DEPTH-1];
    reg [9:0] qw_r2 [0:DEPTH-1];
    reg [LD:0] qa_wp, qa_rp, qw_rp;
    always @(posedge clk) begin
        if (close_now) begin
            qa_addr[qa_wp[LD-1:0]] <= b_start;
            qa_len[qa_wp[LD-1:0]] <= {{(7-LB){1'b0}}, b_len} - 8'd1;
            qw_one[qa_wp[LD-1:0]] <= b_len == {{LB{1'b0}}, 1'b1};
            qw_r2[qa_wp[LD-1:0]] <= {{(9-LB){1'b0}}, b_len} - 10'd3;
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            open <= 1'b0;
            flush_pend <= 1'b0;
            qa_wp <= {(LD+1){1'b0}};
            dwp <= {(LD+1){1'b0}};
        end else begin
            if (in_v) dwp <= dwp + 1'b1;
            if (close_now) qa_wp <= qa_wp + 1'b1;
            if (in_v) begin
                if (extend) begin
                    b_len <= b_len + 1'b1;
                    b_full <= b_len == MAX_BURST[LB:0] - 1'b1;
                end else begin
                    b_start <= in_addr;
                    b_len <= {{LB{1'b0}}, 1'b1};
                    b_full <= MAX_BURST == 1;
                end
                open <= 1'b1;
                flush_pend <= flush_pend | in_flush;
            end else if (close_now) begin
                open <= 1'b0;
                flush_pend <= 1'b0;
            end else if (in_flush && !open) begin
                flush_pend <= 1'b0;
            end
        end
    end

    // ------------------------------------------------------------------ AW channel
    wire aw_issue = (!m_axi_awvalid || m_axi_awready) && qa_rp != qa_wp;
    always @(posedge clk) begin
        if (rst) begin
            m_axi_awvalid <= 1'b0;
            qa_rp <= {(LD+1){1'b0}};
        end else if (aw_issue) begin
            m_axi_awaddr <= qa_addr[qa_rp[LD-1:0]];
            m_axi_awlen <= qa_len[qa_rp[LD-1:0]];
            m_axi_awvalid <= 1'b1;
            qa_rp <= qa_rp + 1'b1;
        end else if (m_axi_awready) begin
            m_axi_awvalid <= 1'b0;
        end
    end

    // ------------------------------------------------------------------ W channel
    // w_busy: the burst being sent has beats after the last one sent; w_r2: those beats
    // - 2, so that its sign says the next beat is the last
    reg w_busy;
    reg [9:0] w_r2;
    wire w_adv = !m_axi_wvalid || m_axi_wready;
    wire w_start = w_adv && !w_busy && qw_rp != qa_wp;
    wire w_pop = w_start || (w_adv && w_busy);
    always @(posedge clk) begin
        if (rst) begin
            m_axi_wvalid <= 1'b0;
            m_axi_wlast <= 1'b0;
            w_busy <= 1'b0;
            qw_rp <= {(LD+1){1'b0}};
            drp <= {(LD+1){1'b0}};
        end else if (w_adv) begin
            m_axi_wvalid <= w_pop;
            if (w_pop) drp <= drp + 1'b1;
            if (w_start) begin
                qw_rp <= qw_rp + 1'b1;
                m_axi_wlast <= qw_one[qw_rp[LD-1:0]];
                w_busy <= !qw_one[qw_rp[LD-1:0]];
                w_r2 <= qw_r2[qw_rp[LD-1:0]];
            end else if (w_busy) begin
                m_axi_wlast <= w_r2[9];
                w_busy <= !w_r2[9];
                w_r2 <= w_r2 - 10'd1;
            end else begin
                m_axi_wlast <= 1'b0;
            end
        end
    end
    always @(posedge clk) begin
        if (w_pop) m_axi_wdata <= dmem[drp[LD-1:0]];
    end

    // ------------------------------------------------------------------ B channel
    reg [LD+1:0] b_out;  // bursts issued on AW and not yet acknowledged
    always @(posedge clk) begin
        if (rst) begin
            b_out <= {(LD+2){1'b0}};
            err_resp <= 1'b0;
        end else begin
            b_out <= b_out + {{(LD+1){1'b0}}, m_axi_awvalid && m_axi_awready}
                           - {{(LD+1){1'b0}}, m_axi_bvalid};
            if (clear) err_resp <= 1'b0;
            else if (m_axi_bvalid && m_axi_bresp[1]) err_resp <= 1'b1;
        end
    end

    // ------------------------------------------------------------------ status (registered)
    // fills as counters; the room two stages later, less the beats that may arrive
    // meanwhile (the input register, these two stages and the reader's register)
    reg [LD:0] dcount, qcount;
    reg pop_q, issue_q;           // the reads, a cycle late: the fills may overstate, never
                                  // understate
    reg [LD+1:0] room_d, room_q;
    reg nothing;                  // no beat, burst or response anywhere
    always @(posedge clk) begin
        if (rst) begin
            dcount <= {(LD+1){1'b0}};
            qcount <= {(LD+1){1'b0}};
            pop_q <= 1'b0;
            issue_q <= 1'b0;
            room_d <= {(LD+2){1'b0}};
            room_q <= {(LD+2){1'b0}};
            wr_ready <= 1'b0;
            free <= {(LD+1){1'b0}};
            nothing <= 1'b1;
            idle <= 1'b1;
        end else begin
            pop_q <= w_pop;
            issue_q <= aw_issue;
            dcount <= dcount + {{LD{1'b0}}, in_v} - {{LD{1'b0}}, pop_q};
            qcount <= qcount + {{LD{1'b0}}, close_now} - {{LD{1'b0}}, issue_q};
            room_d <= {1'b0, DEPTH[LD:0]} - {1'b0, dcount} - 5;
            room_q <= {1'b0, DEPTH[LD:0]} - {1'b0, qcount} - 5;
            free <= room_d[LD+1] || room_q[LD+1] ? {(LD+1){1'b0}}
                  : room_d < room_q ? room_d[LD:0] : room_q[LD:0];
            wr_ready <= !room_d[LD+1] && room_d > 1 && !room_q[LD+1] && room_q > 1;
            nothing <= dcount == 0 && qcount == 0 && !pop_q && !issue_q && qw_rp == qa_wp
                       && !w_busy && b_out == 0;
            idle <= nothing && !wr_valid && !in_v && !open && !m_axi_wvalid && !m_axi_awvalid;
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, base[63:ADDR_W], m_axi_bresp[0], m_axi_bid};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
