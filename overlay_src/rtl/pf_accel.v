// plutflow accelerator top: the AXI4-Lite control block and the program engine, with
// Vitis-HLS-style ports (ap_clk, ap_rst_n, s_axi_control_*, m_axi_gmem_*, interrupt) so
// the IP packages and connects like an HLS kernel with an m_axi port (docs/spec.md 8-9).
// PE_CONFIG, BUF_CONFIG and BUF_CONFIG2 report the build parameters.
`default_nettype none
`include "pf_contract.vh"

module pf_accel #(
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
    parameter integer ADDR_W = `PF_ADDR_BITS
) (
    input  wire              ap_clk,
    input  wire              ap_rst_n,
    // AXI4-Lite control
    input  wire [7:0]        s_axi_control_awaddr,
    input  wire              s_axi_control_awvalid,
    output wire              s_axi_control_awready,
    input  wire [31:0]       s_axi_control_wdata,
    input  wire [3:0]        s_axi_control_wstrb,
    input  wire              s_axi_control_wvalid,
    output wire              s_axi_control_wready,
    output wire [1:0]        s_axi_control_bresp,
    output wire              s_axi_control_bvalid,
    input  wire              s_axi_control_bready,
    input  wire [7:0]        s_axi_control_araddr,
    input  wire              s_axi_control_arvalid,
    output wire              s_axi_control_arready,
    output wire [31:0]       s_axi_control_rdata,
    output wire [1:0]        s_axi_control_rresp,
    output wire              s_axi_control_rvalid,
    input  wire              s_axi_control_rready,
    // AXI4 master (memory)
    output wire [0:0]        m_axi_gmem_arid,
    output wire [ADDR_W-1:0] m_axi_gmem_araddr,
    output wire [7:0]        m_axi_gmem_arlen,
    output wire [2:0]        m_axi_gmem_arsize,
    output wire [1:0]        m_axi_gmem_arburst,
    output wire [3:0]        m_axi_gmem_arcache,
    output wire [2:0]        m_axi_gmem_arprot,
    output wire              m_axi_gmem_arvalid,
    input  wire              m_axi_gmem_arready,
    input  wire [0:0]        m_axi_gmem_rid,
    input  wire [8*P-1:0]    m_axi_gmem_rdata,
    input  wire [1:0]        m_axi_gmem_rresp,
    input  wire              m_axi_gmem_rlast,
    input  wire              m_axi_gmem_rvalid,
    output wire              m_axi_gmem_rready,
    output wire [0:0]        m_axi_gmem_awid,
    output wire [ADDR_W-1:0] m_axi_gmem_awaddr,
    output wire [7:0]        m_axi_gmem_awlen,
    output wire [2:0]        m_axi_gmem_awsize,
    output wire [1:0]        m_axi_gmem_awburst,
    output wire [3:0]        m_axi_gmem_awcache,
    output wire [2:0]        m_axi_gmem_awprot,
    output wire              m_axi_gmem_awvalid,
    input  wire              m_axi_gmem_awready,
    output wire [8*P-1:0]    m_axi_gmem_wdata,
    output wire [P-1:0]      m_axi_gmem_wstrb,
    output wire              m_axi_gmem_wlast,
    output wire              m_axi_gmem_wvalid,
    input  wire              m_axi_gmem_wready,
    input  wire [0:0]        m_axi_gmem_bid,
    input  wire [1:0]        m_axi_gmem_bresp,
    input  wire              m_axi_gmem_bvalid,
    output wire              m_axi_gmem_bready,
    /* verilator lint_off SYMRSVDWORD */  // the Vitis HLS port name
    output wire              interrupt
    /* verilator lint_on SYMRSVDWORD */
);
    localparam [31:0] PE_CONFIG =
          (PE_TYPE << `PF_PE_CONFIG_PE_TYPE_LO) | (P << `PF_PE_CONFIG_P_LO)
        | (WBITS << `PF_PE_CONFIG_WBITS_LO) | (ABITS << `PF_PE_CONFIG_ABITS_LO)
        | (B2 << `PF_PE_CONFIG_B2_LO)
        | ((PE_TYPE == 0 || INT8_PATH != 0 ? 1 : 0) << `PF_PE_CONFIG_INT8_PATH_LO);
    localparam [31:0] BUF_CONFIG =
          ($clog2(ADEPTH) << `PF_BUF_CONFIG_LOG2_ADEPTH_LO)
        | ($clog2(WDEPTH) << `PF_BUF_CONFIG_LOG2_WDEPTH_LO)
        | ($clog2(MDEPTH) << `PF_BUF_CONFIG_LOG2_MDEPTH_LO)
        | ($clog2(PDEPTH) << `PF_BUF_CONFIG_LOG2_PDEPTH_LO);
    localparam [31:0] BUF_CONFIG2 = (TSLOTS << `PF_BUF_CONFIG2_TSLOTS_LO)
        | ($clog2(`PF_MAX_BURST) << `PF_BUF_CONFIG2_LOG2_MAX_BURST_LO);

    generate
        if (PE_TYPE < 0 || PE_TYPE > 3) begin : bad_pe
            $error("pf_accel: PE_TYPE must be 0..3");
        end
        if (PE_TYPE == 0 && WBITS != 8) begin : bad_int8
            $error("pf_accel: int8 PEs have WBITS = 8");
        end
    endgenerate

    wire rst = !ap_rst_n;
    wire ap_start, ap_done, ap_idle, ap_ready;
    wire [31:0] prog_addr, prog_count, mem_size, timeout, cur_desc, done_desc, err_addr;
    wire [63:0] mem_base;
    wire [15:0] status;
    wire ev_stall, ev_compute, ev_rd_beat, ev_wr_beat;

    pf_ctrl_axil #(
        .PE_CONFIG(PE_CONFIG), .BUF_CONFIG(BUF_CONFIG), .BUF_CONFIG2(BUF_CONFIG2),
        .BEAT_LOG2($clog2(P))
    ) ctrl (
        .clk(ap_clk), .rst(rst),
        .s_axil_awaddr(s_axi_control_awaddr), .s_axil_awvalid(s_axi_control_awvalid),
        .s_axil_awready(s_axi_control_awready), .s_axil_wdata(s_axi_control_wdata),
        .s_axil_wstrb(s_axi_control_wstrb), .s_axil_wvalid(s_axi_control_wvalid),
        .s_axil_wready(s_axi_control_wready), .s_axil_bresp(s_axi_control_bresp),
        .s_axil_bvalid(s_axi_control_bvalid), .s_axil_bready(s_axi_control_bready),
        .s_axil_araddr(s_axi_control_araddr), .s_axil_arvalid(s_axi_control_arvalid),
        .s_axil_arready(s_axi_control_arready), .s_axil_rdata(s_axi_control_rdata),
        .s_axil_rresp(s_axi_control_rresp), .s_axil_rvalid(s_axi_control_rvalid),
        .s_axil_rready(s_axi_control_rready),
        .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle), .ap_ready(ap_ready),
        .prog_addr(prog_addr), .prog_count(prog_count), .mem_base(mem_base),
        .mem_size(mem_size), .timeout(timeout), .core_status(status),
        .core_cur_desc(cur_desc), .core_done_desc(done_desc), .core_err_addr(err_addr),
        .ev_stall(ev_stall), .ev_compute(ev_compute), .ev_rd_beat(ev_rd_beat),
        .ev_wr_beat(ev_wr_beat), .irq(interrupt)
    );

    pf_engine #(
        .PE_TYPE(PE_TYPE), .P(P), .WBITS(WBITS), .B2(B2), .ABITS(ABITS),
        .INT8_PATH(INT8_PATH), .ADEPTH(ADEPTH), .WDEPTH(WDEPTH), .MDEPTH(MDEPTH),
        .PDEPTH(PDEPTH), .TSLOTS(TSLOTS), .ADDR_W(ADDR_W)
    ) engine (
        .clk(ap_clk), .rst(rst), .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle),
        .ap_ready(ap_ready), .prog_addr(prog_addr), .prog_count(prog_count),
        .mem_base(mem_base), .mem_size(mem_size), .timeout(timeout), .status(status),
        .cur_desc(cur_desc), .done_desc(done_desc), .err_addr(err_addr),
        .ev_stall(ev_stall), .ev_compute(ev_compute), .ev_rd_beat(ev_rd_beat),
        .ev_wr_beat(ev_wr_beat),
        .m_axi_arid(m_axi_gmem_arid), .m_axi_araddr(m_axi_gmem_araddr),
        .m_axi_arlen(m_axi_gmem_arlen), .m_axi_arsize(m_axi_gmem_arsize),
        .m_axi_arburst(m_axi_gmem_arburst), .m_axi_arcache(m_axi_gmem_arcache),
        .m_axi_arprot(m_axi_gmem_arprot), .m_axi_arvalid(m_axi_gmem_arvalid),
        .m_axi_arready(m_axi_gmem_arready), .m_axi_rid(m_axi_gmem_rid),
        .m_axi_rdata(m_axi_gmem_rdata), .m_axi_rresp(m_axi_gmem_rresp),
        .m_axi_rlast(m_axi_gmem_rlast), .m_axi_rvalid(m_axi_gmem_rvalid),
        .m_axi_rready(m_axi_gmem_rready),
        .m_axi_awid(m_axi_gmem_awid), .m_axi_awaddr(m_axi_gmem_awaddr),
        .m_axi_awlen(m_axi_gmem_awlen), .m_axi_awsize(m_axi_gmem_awsize),
        .m_axi_awburst(m_axi_gmem_awburst), .m_axi_awcache(m_axi_gmem_awcache),
        .m_axi_awprot(m_axi_gmem_awprot), .m_axi_awvalid(m_axi_gmem_awvalid),
        .m_axi_awready(m_axi_gmem_awready), .m_axi_wdata(m_axi_gmem_wdata),
        .m_axi_wstrb(m_axi_gmem_wstrb), .m_axi_wlast(m_axi_gmem_wlast),
        .m_axi_wvalid(m_axi_gmem_wvalid), .m_axi_wready(m_axi_gmem_wready),
        .m_axi_bid(m_axi_gmem_bid), .m_axi_bresp(m_axi_gmem_bresp),
        .m_axi_bvalid(m_axi_gmem_bvalid), .m_axi_bready(m_axi_gmem_bready)
    );
endmodule

`default_nettype wire
