// plutflow AXI4 read master (m_axi, Vitis-HLS style): burst requests in, read data out.
//
// A request is a byte offset in the memory window and a burst length; the caller keeps
// every burst inside one 4 KB page and at most PF_MAX_BURST beats (docs/spec.md 9.1). The
// window base is added here. Up to MAX_OUT bursts are outstanding; data returns in order
// (one ID) and goes straight to the consumer, whose ready is RREADY. A read error
// response (SLVERR/DECERR) sets err_resp; the data still flows so the bus stays sane.
`default_nettype none
`include "pf_contract.vh"

module pf_axi_rd #(
    parameter integer DATA_W = 128,
    parameter integer ADDR_W = `PF_ADDR_BITS,
    parameter integer MAX_OUT = 8
) (
    input  wire              clk,
    input  wire              rst,
    input  wire [63:0]       base,
    input  wire              clear,       // start of a run: clears err_resp
    // burst requests
    input  wire              req_valid,
    output wire              req_ready,
    input  wire [31:0]       req_off,
    input  wire [7:0]        req_len1,    // beats - 1
    // read data
    output wire              rd_valid,
    output wire [DATA_W-1:0] rd_data,
    input  wire              rd_ready,
    // status
    output wire              busy,        // a burst is outstanding
    output reg               err_resp,
    // AXI4 read address / data channels
    output wire [0:0]        m_axi_arid,
    output reg  [ADDR_W-1:0] m_axi_araddr,
    output reg  [7:0]        m_axi_arlen,
    output wire [2:0]        m_axi_arsize,
    output wire [1:0]        m_axi_arburst,
    output wire [3:0]        m_axi_arcache,
    output wire [2:0]        m_axi_arprot,
    output reg               m_axi_arvalid,
    input  wire              m_axi_arready,
    input  wire [0:0]        m_axi_rid,
    input  wire [DATA_W-1:0] m_axi_rdata,
    input  wire [1:0]        m_axi_rresp,
    input  wire              m_axi_rlast,
    input  wire              m_axi_rvalid,
    output wire              m_axi_rready
);
    localparam integer OW = $clog2(MAX_OUT + 1);
    localparam integer SIZE = $clog2(DATA_W / 8);

    generate
        if (DATA_W < 32 || DATA_W > 1024 || (DATA_W & (DATA_W - 1)) != 0) begin : bad_width
            $error("pf_axi_rd: DATA_W must be a power of two, 32..1024");
        end
        if (MAX_OUT < 1) begin : bad_out
            $error("pf_axi_rd: MAX_OUT must be at least 1");
        end
    endgenerate

    assign m_axi_arid = 1'b0;
    assign m_axi_arsize = SIZE[2:0];
    assign m_axi_arburst = 2'b01;   // INCR
    assign m_axi_arcache = 4'b0011; // normal, non-cacheable, bufferable
    assign m_axi_arprot = 3'b000;

    reg [OW-1:0] outstanding;
    wire ar_hs = m_axi_arvalid && m_axi_arready;
    wire r_end = m_axi_rvalid && m_axi_rready && m_axi_rlast;
    assign req_ready = (!m_axi_arvalid || m_axi_arready)
                       && ({{(32-OW){1'b0}}, outstanding} < MAX_OUT);
    assign busy = outstanding != 0 || m_axi_arvalid;

    assign rd_valid = m_axi_rvalid;
    assign rd_data = m_axi_rdata;
    assign m_axi_rready = rd_ready;

    wire [63:0] addr64 = base + {32'd0, req_off};

    always @(posedge clk) begin
        if (rst) begin
            m_axi_arvalid <= 1'b0;
            outstanding <= {OW{1'b0}};
            err_resp <= 1'b0;
        end else begin
            if (req_valid && req_ready) begin
                m_axi_araddr <= addr64[ADDR_W-1:0];
                m_axi_arlen <= req_len1;
                m_axi_arvalid <= 1'b1;
            end else if (ar_hs) begin
                m_axi_arvalid <= 1'b0;
            end
            outstanding <= outstanding + {{(OW-1){1'b0}}, ar_hs} - {{(OW-1){1'b0}}, r_end};
            if (clear) err_resp <= 1'b0;
            else if (m_axi_rvalid && m_axi_rready && m_axi_rresp[1]) err_resp <= 1'b1;
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, addr64[63:ADDR_W], m_axi_rresp[0], m_axi_rid};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
