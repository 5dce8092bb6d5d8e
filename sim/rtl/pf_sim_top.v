// Simulation wrapper of pf_accel (not part of the overlay): transaction-level stream
// feeding. The testbench loads a whole input packet into `in_mem` and starts the player;
// the player drives the input stream and the capture side stores the output stream in
// `out_mem`, both in compiled code, so Python only acts once per packet. Random
// backpressure: an LFSR gates tvalid (input gaps) and tready (output stalls) with
// programmable probabilities out of 256.
`default_nettype none

module pf_sim_top #(
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
    parameter integer TIMEOUT = 4096,
    parameter integer IN_DEPTH = 1 << 16,
    parameter integer OUT_DEPTH = 1 << 16
) (
    input  wire        clk,
    input  wire        rst_n,
    // AXI4-Lite control (driven by cocotbext-axi)
    input  wire [7:0]  s_axi_control_awaddr,
    input  wire        s_axi_control_awvalid,
    output wire        s_axi_control_awready,
    input  wire [31:0] s_axi_control_wdata,
    input  wire [3:0]  s_axi_control_wstrb,
    input  wire        s_axi_control_wvalid,
    output wire        s_axi_control_wready,
    output wire [1:0]  s_axi_control_bresp,
    output wire        s_axi_control_bvalid,
    input  wire        s_axi_control_bready,
    input  wire [7:0]  s_axi_control_araddr,
    input  wire        s_axi_control_arvalid,
    output wire        s_axi_control_arready,
    output wire [31:0] s_axi_control_rdata,
    output wire [1:0]  s_axi_control_rresp,
    output wire        s_axi_control_rvalid,
    input  wire        s_axi_control_rready,
    output wire        interrupt,
    // player / capture control
    input  wire        play,          // pulse: start sending in_mem[0 .. in_len-1]
    input  wire [31:0] in_len,
    input  wire [31:0] last_at,       // word index that carries TLAST
    input  wire [31:0] bad_keep_at,   // word index sent with a partial TKEEP (or none)
    input  wire [7:0]  valid_gap,     // P(tvalid low) = valid_gap / 256
    input  wire [7:0]  ready_gap,     // P(tready low) = ready_gap / 256
    input  wire        clear_out,     // pulse: reset the capture counter
    input  wire        load_mem,      // pulse: in_mem <- pf_in_mem.hex (bulk load)
    input  wire        dump_mem,      // pulse: out_mem[0 .. out_count-1] -> pf_out_mem.hex
    output reg  [31:0] in_sent,
    output reg  [31:0] out_count,
    output reg  [31:0] out_last_at,   // index of the captured word with TLAST (or all ones)
    output reg  [63:0] cycle
);
    reg [DATA_W-1:0] in_mem [0:IN_DEPTH-1];
    reg [DATA_W-1:0] out_mem [0:OUT_DEPTH-1];

    // bulk transfers through files in the simulator's working directory: one call per
    // packet instead of one simulator access per word
    always @(posedge clk) begin
        if (load_mem) $readmemh("pf_in_mem.hex", in_mem);
        if (dump_mem && out_count != 32'd0)
            $writememh("pf_out_mem.hex", out_mem, 0, out_count - 32'd1);
    end

    reg [31:0] lfsr;
    always @(posedge clk) begin
        if (!rst_n) lfsr <= 32'hACE1_2468;
        else lfsr <= {lfsr[30:0], lfsr[31] ^ lfsr[21] ^ lfsr[1] ^ lfsr[0]};
    end

    reg playing;
    wire gap_in = lfsr[7:0] < valid_gap;
    wire gap_out = lfsr[15:8] < ready_gap;
    wire s_tvalid = playing && !gap_in;
    wire s_tready;
    wire [DATA_W-1:0] m_tdata;
    wire [DATA_W/8-1:0] m_tkeep;
    wire m_tlast, m_tvalid;
    wire m_tready = !gap_out;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [DATA_W/8-1:0] unused_keep = m_tkeep;
    /* verilator lint_on UNUSEDSIGNAL */

    always @(posedge clk) begin
        if (!rst_n) begin
            playing <= 1'b0;
            in_sent <= 32'd0;
            out_count <= 32'd0;
            out_last_at <= 32'hFFFF_FFFF;
            cycle <= 64'd0;
        end else begin
            cycle <= cycle + 64'd1;
            if (play) begin
                playing <= in_len != 0;
                in_sent <= 32'd0;
            end else if (s_tvalid && s_tready) begin
                in_sent <= in_sent + 32'd1;
                // a transfer ends at its last word or at the word that carries TLAST
                if (in_sent == in_len - 32'd1 || in_sent == last_at) playing <= 1'b0;
            end
            if (clear_out) begin
                out_count <= 32'd0;
                out_last_at <= 32'hFFFF_FFFF;
            end else if (m_tvalid && m_tready) begin
                out_mem[out_count[$clog2(OUT_DEPTH)-1:0]] <= m_tdata;
                if (m_tlast) out_last_at <= out_count;
                out_count <= out_count + 32'd1;
            end
        end
    end

    pf_accel #(
        .PE_TYPE(PE_TYPE), .P(P), .DATA_W(DATA_W), .WBITS(WBITS), .B2(B2), .ABITS(ABITS),
        .ADEPTH(ADEPTH), .WDEPTH(WDEPTH), .MDEPTH(MDEPTH), .OF_DEPTH(OF_DEPTH),
        .TIMEOUT(TIMEOUT)
    ) dut (
        .ap_clk(clk), .ap_rst_n(rst_n),
        .s_axi_control_awaddr(s_axi_control_awaddr), .s_axi_control_awvalid(s_axi_control_awvalid),
        .s_axi_control_awready(s_axi_control_awready), .s_axi_control_wdata(s_axi_control_wdata),
        .s_axi_control_wstrb(s_axi_control_wstrb), .s_axi_control_wvalid(s_axi_control_wvalid),
        .s_axi_control_wready(s_axi_control_wready), .s_axi_control_bresp(s_axi_control_bresp),
        .s_axi_control_bvalid(s_axi_control_bvalid), .s_axi_control_bready(s_axi_control_bready),
        .s_axi_control_araddr(s_axi_control_araddr), .s_axi_control_arvalid(s_axi_control_arvalid),
        .s_axi_control_arready(s_axi_control_arready), .s_axi_control_rdata(s_axi_control_rdata),
        .s_axi_control_rresp(s_axi_control_rresp), .s_axi_control_rvalid(s_axi_control_rvalid),
        .s_axi_control_rready(s_axi_control_rready),
        .s_axis_tdata(in_mem[in_sent[$clog2(IN_DEPTH)-1:0]]),
        .s_axis_tkeep(in_sent == bad_keep_at ? {DATA_W/8{1'b0}} | 1 : {DATA_W/8{1'b1}}),
        .s_axis_tlast(in_sent == last_at),
        .s_axis_tvalid(s_tvalid), .s_axis_tready(s_tready),
        .m_axis_tdata(m_tdata), .m_axis_tkeep(m_tkeep), .m_axis_tlast(m_tlast),
        .m_axis_tvalid(m_tvalid), .m_axis_tready(m_tready),
        .interrupt(interrupt)
    );
endmodule

`default_nettype wire
