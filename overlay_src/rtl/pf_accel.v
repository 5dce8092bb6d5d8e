// plutflow accelerator top: the AXI4-Lite control block and the layer engine, with
// Vitis-HLS-style port names (ap_clk, ap_rst_n, s_axi_control_*, s_axis_*, m_axis_*,
// interrupt) so the IP packages and connects like an HLS kernel (docs/spec.md 8 and 9).
`default_nettype none

module pf_accel #(
    parameter integer PE_TYPE = 0,
    parameter integer P = 8,
    parameter integer DATA_W = 64,
    parameter integer WBITS = 8,
    parameter integer B2 = 3,
    parameter integer ABITS = 4,
    parameter integer ADEPTH = 4096,
    parameter integer WDEPTH = 1024,
    parameter integer MDEPTH = 64,
    parameter integer OF_DEPTH = 16,
    parameter integer TIMEOUT = 1 << 20
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
    // AXI4-Stream in (descriptor, parameters, weights, activations)
    input  wire [DATA_W-1:0] s_axis_tdata,
    input  wire [DATA_W/8-1:0] s_axis_tkeep,
    input  wire              s_axis_tlast,
    input  wire              s_axis_tvalid,
    output wire              s_axis_tready,
    // AXI4-Stream out (output activations)
    output wire [DATA_W-1:0] m_axis_tdata,
    output wire [DATA_W/8-1:0] m_axis_tkeep,
    output wire              m_axis_tlast,
    output wire              m_axis_tvalid,
    input  wire              m_axis_tready,
    /* verilator lint_off SYMRSVDWORD */  // the Vitis HLS port name
    output wire              interrupt
    /* verilator lint_on SYMRSVDWORD */
);
    // PE_CONFIG: bits 0-3 PE type, 4-11 P, 12-15 WBITS, 16-19 ABITS, 20-23 B2,
    // 24-27 log2(DATA_W / 64)
    localparam integer PE_CONFIG = PE_TYPE + P * 16 + WBITS * 4096 + ABITS * 65536
                                 + B2 * 1048576 + (DATA_W == 128 ? 16777216 : 0);
    // BUF_CONFIG: bits 0-7 log2(ADEPTH), 8-15 log2(WDEPTH), 16-23 log2(MDEPTH),
    // 24-31 log2(OF_DEPTH)
    localparam integer BUF_CONFIG = $clog2(ADEPTH) + $clog2(WDEPTH) * 256
                                  + $clog2(MDEPTH) * 65536 + $clog2(OF_DEPTH) * 16777216;

    wire rst = !ap_rst_n;
    wire ap_start, ap_done, ap_idle, ap_ready, stall, computing;
    wire [7:0] error_code;
    wire [31:0] in_words, out_words;

    pf_ctrl_axil #(.VERSION(32'h0001_0000), .PE_CONFIG(PE_CONFIG), .BUF_CONFIG(BUF_CONFIG)) ctrl (
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
        .core_stall(stall), .core_compute(computing), .core_error(error_code),
        .core_in_words(in_words), .core_out_words(out_words),
        .irq(interrupt)
    );

    pf_engine #(
        .PE_TYPE(PE_TYPE), .P(P), .DATA_W(DATA_W), .WBITS(WBITS), .B2(B2), .ABITS(ABITS),
        .ADEPTH(ADEPTH), .WDEPTH(WDEPTH), .MDEPTH(MDEPTH), .OF_DEPTH(OF_DEPTH),
        .TIMEOUT(TIMEOUT)
    ) engine (
        .clk(ap_clk), .rst(rst),
        .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle), .ap_ready(ap_ready),
        .error_code(error_code), .stall(stall), .computing(computing),
        .in_words(in_words), .out_words(out_words),
        .s_axis_tdata(s_axis_tdata), .s_axis_tkeep(s_axis_tkeep),
        .s_axis_tlast(s_axis_tlast), .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tready(s_axis_tready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tkeep(m_axis_tkeep),
        .m_axis_tlast(m_axis_tlast), .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready)
    );
endmodule

`default_nettype wire
