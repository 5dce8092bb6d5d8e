// plutflow control block: AXI4-Lite slave with the HLS-style register map
// (docs/spec.md section 8).
//
//   0x00 AP_CTRL   bit0 ap_start (RW, held until the core is ready, unless auto_restart)
//                  bit1 ap_done (RO, clear on read)  bit2 ap_idle (RO)
//                  bit3 ap_ready (RO, clear on read) bit7 auto_restart (RW)
//   0x04 GIE       bit0 global interrupt enable
//   0x08 IER       bit0 done, bit1 ready
//   0x0C ISR       bit0 done, bit1 ready (a written 1 toggles the bit)
//   0x10 ID        "PLUF" (0x504C5546)
//   0x14 VERSION   major << 16 | minor
//   0x18 PE_CONFIG the PE_CONFIG parameter (layout in the spec)
//   0x1C STATUS    error code of the last run (0 = none)
//   0x20/0x24      CYCLES low/high: clock cycles of the last (or current) run
//   0x28/0x2C      STALLS low/high: cycles of that run in which the core was stalled
//   0x30 BUF_CONFIG the BUF_CONFIG parameter (buffer sizes, layout in the spec)
//   0x34 COMPUTE   cycles of that run spent in the compute phase
//   0x38 IN_WORDS  input stream words the core accepted in that run
//   0x3C OUT_WORDS output stream words the core sent in that run
// Unmapped addresses read 0; writes to read-only registers are ignored.
`default_nettype none

module pf_ctrl_axil #(
    parameter [31:0] VERSION = 32'h0001_0000,
    parameter [31:0] PE_CONFIG = 32'h0000_0000,
    parameter [31:0] BUF_CONFIG = 32'h0000_0000
) (
    input  wire        clk,
    input  wire        rst,
    // AXI4-Lite slave
    input  wire [7:0]  s_axil_awaddr,
    input  wire        s_axil_awvalid,
    output reg         s_axil_awready,
    input  wire [31:0] s_axil_wdata,
    input  wire [3:0]  s_axil_wstrb,
    input  wire        s_axil_wvalid,
    output reg         s_axil_wready,
    output reg  [1:0]  s_axil_bresp,
    output reg         s_axil_bvalid,
    input  wire        s_axil_bready,
    input  wire [7:0]  s_axil_araddr,
    input  wire        s_axil_arvalid,
    output reg         s_axil_arready,
    output reg  [31:0] s_axil_rdata,
    output reg  [1:0]  s_axil_rresp,
    output reg         s_axil_rvalid,
    input  wire        s_axil_rready,
    // core handshake (ap_ctrl_hs)
    output wire        ap_start,
    input  wire        ap_done,    // one-cycle pulse at the end of a run
    input  wire        ap_idle,
    input  wire        ap_ready,   // one-cycle pulse when the core takes ap_start
    input  wire        core_stall,
    input  wire        core_compute, // the engine is in its compute phase
    input  wire [7:0]  core_error, // valid with ap_done
    input  wire [31:0] core_in_words,
    input  wire [31:0] core_out_words,
    output wire        irq
);
    localparam [31:0] MAGIC = 32'h504C_5546;

    reg start_r, auto_restart, done_r, ready_r, gie;
    reg [1:0] ier, isr;
    reg [7:0] status;
    reg [63:0] cycles, stalls;
    reg [31:0] compute;
    reg running;

    assign ap_start = start_r;
    assign irq = gie & |(ier & isr);

    // ------------------------------------------------------------------ write channel
    reg [5:0] awaddr_q;  // word address
    reg aw_have, w_have;
    reg [2:0] wbits_q;  // the written bits 7, 1 and 0: every writable field
    reg wlane0;          // byte lane 0 was written
    wire do_write = aw_have && w_have && !s_axil_bvalid;

    // byte offsets within a word, and data bits no register holds, are ignored
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, s_axil_awaddr[1:0], s_axil_araddr[1:0], s_axil_wdata[31:8],
                       s_axil_wdata[6:2], s_axil_wstrb[3:1]};
    /* verilator lint_on UNUSEDSIGNAL */
    wire [31:0] ctrl_word = {24'd0, auto_restart, 3'd0, ready_r, ap_idle, done_r, start_r};

    // ------------------------------------------------------------------ read channel
    wire [5:0] arword = s_axil_araddr[7:2];
    wire read_ctrl = s_axil_arvalid && s_axil_arready && arword == 6'h00;
    reg [31:0] rdata_next;
    always @(*) begin
        case (arword)
            6'h00: rdata_next = ctrl_word;
            6'h01: rdata_next = {31'd0, gie};
            6'h02: rdata_next = {30'd0, ier};
            6'h03: rdata_next = {30'd0, isr};
            6'h04: rdata_next = MAGIC;
            6'h05: rdata_next = VERSION;
            6'h06: rdata_next = PE_CONFIG;
            6'h07: rdata_next = {24'd0, status};
            6'h08: rdata_next = cycles[31:0];
            6'h09: rdata_next = cycles[63:32];
            6'h0A: rdata_next = stalls[31:0];
            6'h0B: rdata_next = stalls[63:32];
            6'h0C: rdata_next = BUF_CONFIG;
            6'h0D: rdata_next = compute;
            6'h0E: rdata_next = core_in_words;
            6'h0F: rdata_next = core_out_words;
            default: rdata_next = 32'd0;
        endcase
    end

    always @(posedge clk) begin
        if (rst) begin
            s_axil_awready <= 1'b0;
            s_axil_wready <= 1'b0;
            s_axil_bvalid <= 1'b0;
            s_axil_bresp <= 2'b00;
            s_axil_arready <= 1'b0;
            s_axil_rvalid <= 1'b0;
            s_axil_rresp <= 2'b00;
            s_axil_rdata <= 32'd0;
            aw_have <= 1'b0;
            w_have <= 1'b0;
            awaddr_q <= 6'd0;
            wbits_q <= 3'd0;
            wlane0 <= 1'b0;
            start_r <= 1'b0;
            auto_restart <= 1'b0;
            done_r <= 1'b0;
            ready_r <= 1'b0;
            gie <= 1'b0;
            ier <= 2'b00;
            isr <= 2'b00;
            status <= 8'd0;
            cycles <= 64'd0;
            stalls <= 64'd0;
            compute <= 32'd0;
            running <= 1'b0;
        end else begin
            // address and data may arrive in either order
            s_axil_awready <= !aw_have && !s_axil_awready;
            if (s_axil_awvalid && s_axil_awready) begin
                aw_have <= 1'b1;
                awaddr_q <= s_axil_awaddr[7:2];
                s_axil_awready <= 1'b0;
            end
            s_axil_wready <= !w_have && !s_axil_wready;
            if (s_axil_wvalid && s_axil_wready) begin
                w_have <= 1'b1;
                wbits_q <= {s_axil_wdata[7], s_axil_wdata[1:0]};
                wlane0 <= s_axil_wstrb[0];
                s_axil_wready <= 1'b0;
            end
            if (s_axil_bvalid && s_axil_bready) s_axil_bvalid <= 1'b0;

            // core events (a register write in the same cycle takes precedence below)
            if (ap_ready) begin
                ready_r <= 1'b1;
                if (!auto_restart) start_r <= 1'b0;
                isr[1] <= isr[1] | ier[1];
                running <= 1'b1;
                cycles <= 64'd0;
                stalls <= 64'd0;
                compute <= 32'd0;
            end else if (running) begin
                cycles <= cycles + 64'd1;
                if (core_stall) stalls <= stalls + 64'd1;
                if (core_compute) compute <= compute + 32'd1;
            end
            if (ap_done) begin
                done_r <= 1'b1;
                status <= core_error;
                isr[0] <= isr[0] | ier[0];
                running <= ap_ready;  // auto-restart: a new run starts at once
            end

            if (do_write) begin
                aw_have <= 1'b0;
                w_have <= 1'b0;
                s_axil_bvalid <= 1'b1;
                s_axil_bresp <= 2'b00;
                case (awaddr_q)
                    6'h00: if (wlane0) begin
                        if (wbits_q[0]) start_r <= 1'b1;
                        auto_restart <= wbits_q[2];
                    end
                    6'h01: if (wlane0) gie <= wbits_q[0];
                    6'h02: if (wlane0) ier <= wbits_q[1:0];
                    6'h03: if (wlane0) isr <= isr ^ wbits_q[1:0];
                    default: ;
                endcase
            end

            // reads: one outstanding; reading AP_CTRL clears done and ready
            s_axil_arready <= !s_axil_rvalid && !s_axil_arready;
            if (s_axil_arvalid && s_axil_arready) begin
                s_axil_rdata <= rdata_next;
                s_axil_rresp <= 2'b00;
                s_axil_rvalid <= 1'b1;
                s_axil_arready <= 1'b0;
                if (read_ctrl) begin
                    if (!ap_done) done_r <= 1'b0;
                    if (!ap_ready) ready_r <= 1'b0;
                end
            end
            if (s_axil_rvalid && s_axil_rready) s_axil_rvalid <= 1'b0;
        end
    end
endmodule

`default_nettype wire
