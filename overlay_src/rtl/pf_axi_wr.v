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
// decided as it enters), and `wr_ready`, `free` and `idle` are registers: `free` may
// understate the room by the beats of the last two cycles, never overstate it.
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
    reg [31:0] in_off, last_next;
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
                in_off <= wr_off;
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
    reg [31:0] b_start;
    reg [LB:0] b_len;
    reg b_full;
    wire extend = in_v && open && in_cont && !b_full;
    wire close_now = open && (in_v ? !extend : (flush_pend || in_flush || b_full));

    // closed bursts: {start offset, beats - 1}, for AW and (lengths only) for W
    reg [31:0] qa_off [0:DEPTH-1];
    reg [7:0] qa_len [0:DEPTH-1];
    reg [7:0] qw_len [0:DEPTH-1];
    reg [LD:0] qa_wp, qa_rp, qw_rp;
    always @(posedge clk) begin
        if (close_now) begin
            qa_off[qa_wp[LD-1:0]] <= b_start;
            qa_len[qa_wp[LD-1:0]] <= {{(7-LB){1'b0}}, b_len} - 8'd1;
            qw_len[qa_wp[LD-1:0]] <= {{(7-LB){1'b0}}, b_len} - 8'd1;
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
                    b_start <= in_off;
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
    wire [63:0] aw64 = base + {32'd0, qa_off[qa_rp[LD-1:0]]};
    always @(posedge clk) begin
        if (rst) begin
            m_axi_awvalid <= 1'b0;
            qa_rp <= {(LD+1){1'b0}};
        end else if ((!m_axi_awvalid || m_axi_awready) && qa_rp != qa_wp) begin
            m_axi_awaddr <= aw64[ADDR_W-1:0];
            m_axi_awlen <= qa_len[qa_rp[LD-1:0]];
            m_axi_awvalid <= 1'b1;
            qa_rp <= qa_rp + 1'b1;
        end else if (m_axi_awready) begin
            m_axi_awvalid <= 1'b0;
        end
    end

    // ------------------------------------------------------------------ W channel
    reg [8:0] w_left;  // beats of the current burst still to send, 0: none started
    wire w_adv = !m_axi_wvalid || m_axi_wready;
    wire w_have = w_left != 9'd0 || qw_rp != qa_wp;
    always @(posedge clk) begin
        if (rst) begin
            m_axi_wvalid <= 1'b0;
            m_axi_wlast <= 1'b0;
            w_left <= 9'd0;
            qw_rp <= {(LD+1){1'b0}};
            drp <= {(LD+1){1'b0}};
        end else if (w_adv) begin
            if (w_have) begin
                m_axi_wdata <= dmem[drp[LD-1:0]];
                m_axi_wvalid <= 1'b1;
                drp <= drp + 1'b1;
                if (w_left == 9'd0) begin
                    qw_rp <= qw_rp + 1'b1;
                    m_axi_wlast <= qw_len[qw_rp[LD-1:0]] == 8'd0;
                    w_left <= {1'b0, qw_len[qw_rp[LD-1:0]]};
                end else begin
                    m_axi_wlast <= w_left == 9'd1;
                    w_left <= w_left - 9'd1;
                end
            end else begin
                m_axi_wvalid <= 1'b0;
                m_axi_wlast <= 1'b0;
            end
        end
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
    // room: the FIFO's free beats and the burst queue's free entries, less the beats that
    // may still arrive before this register is seen (two cycles)
    wire [LD:0] dcount = dwp - drp;
    wire [LD:0] qa_used = qa_wp - qa_rp;
    wire [LD+1:0] room_d = {1'b0, DEPTH[LD:0]} - {1'b0, dcount} - {{LD{1'b0}}, in_v, 1'b0};
    wire [LD+1:0] room_q = {1'b0, DEPTH[LD:0]} - {1'b0, qa_used} - 3;
    always @(posedge clk) begin
        if (rst) begin
            wr_ready <= 1'b0;
            free <= {(LD+1){1'b0}};
            idle <= 1'b1;
        end else begin
            free <= room_d[LD+1] ? {(LD+1){1'b0}}
                  : (room_q[LD+1] ? {(LD+1){1'b0}} : (room_d < room_q ? room_d[LD:0] : room_q[LD:0]));
            wr_ready <= !room_d[LD+1] && room_d > 3 && !room_q[LD+1] && room_q > 1;
            idle <= !wr_valid && !in_v && !open && dcount == 0 && qa_used == 0
                    && qw_rp == qa_wp && w_left == 9'd0 && !m_axi_wvalid && !m_axi_awvalid
                    && b_out == 0;
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, aw64[63:ADDR_W], m_axi_bresp[0], m_axi_bid};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
