// plutflow AXI4 write master (m_axi, Vitis-HLS style): addressed beats in, bursts out.
//
// Each input beat carries its byte offset in the memory window. Consecutive offsets are
// merged into INCR bursts of at most MAX_BURST beats that never cross a 4 KB page; a
// burst closes when the next beat does not continue it, when it is full, at a page
// boundary, or on `flush`. Closed bursts go out on AW (window base added) and W (their
// beats from the data FIFO, WLAST on the last); B responses are counted. `idle` says that
// every accepted beat has been written and acknowledged. A write error response sets
// err_resp.
`default_nettype none
`include "pf_contract.vh"

module pf_axi_wr #(
    parameter integer DATA_W = 128,
    parameter integer ADDR_W = `PF_ADDR_BITS,
    parameter integer MAX_BURST = 16,   // beats per burst (power of two, <= 256)
    parameter integer DEPTH = 64        // data FIFO beats (power of two, >= MAX_BURST)
) (
    input  wire              clk,
    input  wire              rst,
    input  wire [63:0]       base,
    input  wire              clear,     // start of a run: clears err_resp
    // addressed beats
    input  wire              wr_valid,
    output wire              wr_ready,
    input  wire [31:0]       wr_off,
    input  wire [DATA_W-1:0] wr_data,
    input  wire              flush,     // close the open burst
    output wire              idle,
    output reg               err_resp,
    output wire [$clog2(DEPTH):0] free, // beats it can still take for sure
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
    localparam [11:0] PAGE_MASK = 12'hFFF;

    generate
        if (DATA_W < 32 || DATA_W > 1024 || (DATA_W & (DATA_W - 1)) != 0) begin : bad_width
            $error("pf_axi_wr: DATA_W must be a power of two, 32..1024");
        end
        if (MAX_BURST < 1 || MAX_BURST > 256 || (MAX_BURST & (MAX_BURST - 1)) != 0) begin : bad_b
            $error("pf_axi_wr: MAX_BURST must be a power of two, 1..256");
        end
        if (DEPTH < MAX_BURST || (DEPTH & (DEPTH - 1)) != 0) begin : bad_depth
            $error("pf_axi_wr: DEPTH must be a power of two, at least MAX_BURST");
        end
    endgenerate

    assign m_axi_awid = 1'b0;
    assign m_axi_awsize = SIZE[2:0];
    assign m_axi_awburst = 2'b01;
    assign m_axi_awcache = 4'b0011;
    assign m_axi_awprot = 3'b000;
    assign m_axi_wstrb = {(DATA_W/8){1'b1}};
    assign m_axi_bready = 1'b1;

    // ------------------------------------------------------------------ data FIFO
    reg [DATA_W-1:0] dmem [0:DEPTH-1];
    reg [LD:0] dwp, drp;
    wire [LD:0] dcount = dwp - drp;
    wire take;
    always @(posedge clk) begin
        if (take) dmem[dwp[LD-1:0]] <= wr_data;
    end

    // ------------------------------------------------------------------ burst builder
    reg open, flush_pend;
    reg [31:0] b_start, b_next;
    reg [LB:0] b_len;
    wire full = b_len == MAX_BURST[LB:0];
    wire page_end = (b_next[11:0] & PAGE_MASK) == 12'd0;
    wire cont = open && wr_off == b_next && !full && !page_end;
    // close the open burst: a beat that does not continue it, or nothing more can join
    wire close_now = open && (take ? !cont : (flush_pend || flush || full || page_end));

    // closed bursts: {start offset, beats - 1}, for AW and (lengths only) for W
    reg [31:0] qa_off [0:DEPTH-1];
    reg [7:0] qa_len [0:DEPTH-1];
    reg [7:0] qw_len [0:DEPTH-1];
    reg [LD:0] qa_wp, qa_rp, qw_rp;
    // room for the beat, and for the burst it may open
    wire [LD:0] qa_used = qa_wp - qa_rp;
    assign wr_ready = dcount != DEPTH[LD:0] && qa_used < DEPTH[LD:0] - 1;
    assign take = wr_valid && wr_ready;
    wire [LD:0] free_d = DEPTH[LD:0] - dcount;
    wire [LD:0] free_q = DEPTH[LD:0] - 1'b1 - qa_used;
    assign free = free_d < free_q ? free_d : free_q;
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
            if (take) dwp <= dwp + 1'b1;
            if (close_now) qa_wp <= qa_wp + 1'b1;
            if (take) begin
                if (cont) begin
                    b_len <= b_len + 1'b1;
                end else begin
                    b_start <= wr_off;
                    b_len <= {{LB{1'b0}}, 1'b1};
                end
                open <= 1'b1;
                b_next <= wr_off + BEAT;
                flush_pend <= flush_pend | flush;
            end else if (close_now) begin
                open <= 1'b0;
                flush_pend <= 1'b0;
            end else if (flush && !open) begin
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

    assign idle = !open && dcount == 0 && qa_rp == qa_wp && qw_rp == qa_wp && w_left == 9'd0
                  && !m_axi_wvalid && !m_axi_awvalid && b_out == 0;

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, aw64[63:ADDR_W], m_axi_bresp[0], m_axi_bid};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
