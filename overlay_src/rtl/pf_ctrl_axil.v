// plutflow control block: AXI4-Lite slave with the HLS-style register map of
// docs/spec.md section 8. Offsets, fields and codes come from pf_contract.vh (generated
// from host/plutflow/data/overlay.json). Unmapped addresses read 0; writes to read-only
// registers are ignored; every register write honours WSTRB.
`default_nettype none
`include "pf_contract.vh"

module pf_ctrl_axil #(
    parameter [31:0] PE_CONFIG = 32'h0000_0000,
    parameter [31:0] BUF_CONFIG = 32'h0000_0000,
    parameter [31:0] BUF_CONFIG2 = 32'h0000_0000,
    parameter integer BEAT_LOG2 = 4,             // log2 bytes per memory beat
    parameter [31:0] TIMEOUT_RESET = 32'h0100_0000
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
    input  wire        ap_done,       // one-cycle pulse at the end of a run
    input  wire        ap_idle,
    input  wire        ap_ready,      // one-cycle pulse when the core takes ap_start
    // run configuration
    output reg  [31:0] prog_addr,
    output reg  [31:0] prog_count,
    output reg  [63:0] mem_base,
    output reg  [31:0] mem_size,
    output reg  [31:0] timeout,
    // core status and events
    input  wire [15:0] core_status,   // {unit, error}, valid with ap_done
    input  wire [31:0] core_cur_desc,
    input  wire [31:0] core_done_desc,
    input  wire [31:0] core_err_addr,
    input  wire        ev_stall,      // the compute stage waits for a load
    input  wire        ev_compute,    // the compute stage issues work
    input  wire        ev_rd_beat,    // a memory read beat arrived
    input  wire        ev_wr_beat,    // a memory write beat left
    output wire        irq
);
    reg start_r, auto_restart, done_r, ready_r, gie;
    reg [1:0] ier, isr;
    reg [15:0] status;
    reg [63:0] cycles, stalls, compute, rd_beats, wr_beats;
    reg running;

    assign ap_start = start_r;
    assign irq = gie & |(ier & isr);

    // ------------------------------------------------------------------ write channel
    reg [7:0] awaddr_q;
    reg [31:0] wdata_q;
    reg [3:0] wstrb_q;
    reg aw_have, w_have;
    wire do_write = aw_have && w_have && !s_axil_bvalid;

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, s_axil_awaddr[1:0], s_axil_araddr[1:0]};
    /* verilator lint_on UNUSEDSIGNAL */
    wire [31:0] ctrl_word = {24'd0, auto_restart, 3'd0, ready_r, ap_idle, done_r, start_r};

    // a byte-lane merge of the written word into a register's old value
    function automatic [31:0] merge(input [31:0] old, input [31:0] d, input [3:0] s);
        integer b;
        begin
            merge = old;
            for (b = 0; b < 4; b = b + 1)
                if (s[b]) merge[b*8 +: 8] = d[b*8 +: 8];
        end
    endfunction

    // ------------------------------------------------------------------ read channel
    // Reads take three cycles: the address is registered at the handshake (with a
    // snapshot of AP_CTRL, whose reading clears done and ready), then each group of eight
    // registers is selected by the low address bits, then the group by the high bits.
    wire [7:0] araddr = {s_axil_araddr[7:2], 2'b00};
    wire read_ctrl = s_axil_arvalid && s_axil_arready && araddr == `PF_REG_AP_CTRL;
    wire [63:0] rd_bytes = rd_beats << BEAT_LOG2;
    wire [63:0] wr_bytes = wr_beats << BEAT_LOG2;
    reg [7:2] ar_q;               // the word address
    reg [31:0] ctrl_snap;
    reg [31:0] rgrp [0:3];
    reg rd_p1, rd_p2;
    function automatic [31:0] reg_value(input [7:0] a);
        case (a)
            `PF_REG_AP_CTRL:     reg_value = ctrl_snap;
            `PF_REG_GIE:         reg_value = {31'd0, gie};
            `PF_REG_IER:         reg_value = {30'd0, ier};
            `PF_REG_ISR:         reg_value = {30'd0, isr};
            `PF_REG_ID:          reg_value = `PF_ID;
            `PF_REG_VERSION:     reg_value = `PF_VERSION;
            `PF_REG_PE_CONFIG:   reg_value = PE_CONFIG;
            `PF_REG_STATUS:      reg_value = {16'd0, status};
            `PF_REG_CYCLES_LO:   reg_value = cycles[31:0];
            `PF_REG_CYCLES_HI:   reg_value = cycles[63:32];
            `PF_REG_STALLS_LO:   reg_value = stalls[31:0];
            `PF_REG_STALLS_HI:   reg_value = stalls[63:32];
            `PF_REG_BUF_CONFIG:  reg_value = BUF_CONFIG;
            `PF_REG_BUF_CONFIG2: reg_value = BUF_CONFIG2;
            `PF_REG_COMPUTE_LO:  reg_value = compute[31:0];
            `PF_REG_COMPUTE_HI:  reg_value = compute[63:32];
            `PF_REG_PROG_ADDR:   reg_value = prog_addr;
            `PF_REG_PROG_COUNT:  reg_value = prog_count;
            `PF_REG_MEM_BASE_LO: reg_value = mem_base[31:0];
            `PF_REG_MEM_BASE_HI: reg_value = mem_base[63:32];
            `PF_REG_MEM_SIZE:    reg_value = mem_size;
            `PF_REG_CUR_DESC:    reg_value = core_cur_desc;
            `PF_REG_RD_BYTES_LO: reg_value = rd_bytes[31:0];
            `PF_REG_RD_BYTES_HI: reg_value = rd_bytes[63:32];
            `PF_REG_WR_BYTES_LO: reg_value = wr_bytes[31:0];
            `PF_REG_WR_BYTES_HI: reg_value = wr_bytes[63:32];
            `PF_REG_ERR_ADDR:    reg_value = core_err_addr;
            `PF_REG_TIMEOUT:     reg_value = timeout;
            `PF_REG_DONE_DESC:   reg_value = core_done_desc;
            default:             reg_value = 32'd0;
        endcase
    endfunction
    integer g;
    always @(posedge clk) begin
        for (g = 0; g < 4; g = g + 1)
            rgrp[g] <= ar_q[7] ? 32'd0 : reg_value({1'b0, g[1:0], ar_q[4:2], 2'b00});
    end

    // ------------------------------------------------------------------ run counters
    always @(posedge clk) begin
        if (rst) begin
            running <= 1'b0;
            cycles <= 64'd0;
            stalls <= 64'd0;
            compute <= 64'd0;
            rd_beats <= 64'd0;
            wr_beats <= 64'd0;
        end else if (ap_ready) begin
            running <= 1'b1;
            cycles <= 64'd0;
            stalls <= 64'd0;
            compute <= 64'd0;
            rd_beats <= 64'd0;
            wr_beats <= 64'd0;
        end else begin
            if (ap_done) running <= 1'b0;
            if (running) cycles <= cycles + 64'd1;
            if (ev_stall) stalls <= stalls + 64'd1;
            if (ev_compute) compute <= compute + 64'd1;
            if (ev_rd_beat) rd_beats <= rd_beats + 64'd1;
            if (ev_wr_beat) wr_beats <= wr_beats + 64'd1;
        end
    end

    // ------------------------------------------------------------------ registers
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
            rd_p1 <= 1'b0;
            rd_p2 <= 1'b0;
            aw_have <= 1'b0;
            w_have <= 1'b0;
            awaddr_q <= 8'd0;
            wdata_q <= 32'd0;
            wstrb_q <= 4'd0;
            start_r <= 1'b0;
            auto_restart <= 1'b0;
            done_r <= 1'b0;
            ready_r <= 1'b0;
            gie <= 1'b0;
            ier <= 2'b00;
            isr <= 2'b00;
            status <= 16'd0;
            prog_addr <= 32'd0;
            prog_count <= 32'd0;
            mem_base <= 64'd0;
            mem_size <= 32'd0;
            timeout <= TIMEOUT_RESET;
        end else begin
            // address and data may arrive in either order
            s_axil_awready <= !aw_have && !s_axil_awready;
            if (s_axil_awvalid && s_axil_awready) begin
                aw_have <= 1'b1;
                awaddr_q <= {s_axil_awaddr[7:2], 2'b00};
                s_axil_awready <= 1'b0;
            end
            s_axil_wready <= !w_have && !s_axil_wready;
            if (s_axil_wvalid && s_axil_wready) begin
                w_have <= 1'b1;
                wdata_q <= s_axil_wdata;
                wstrb_q <= s_axil_wstrb;
                s_axil_wready <= 1'b0;
            end
            if (s_axil_bvalid && s_axil_bready) s_axil_bvalid <= 1'b0;

            // core events (a register write in the same cycle takes precedence below)
            if (ap_ready) begin
                ready_r <= 1'b1;
                if (!auto_restart) start_r <= 1'b0;
                isr[1] <= isr[1] | ier[1];
            end
            if (ap_done) begin
                done_r <= 1'b1;
                status <= core_status;
                isr[0] <= isr[0] | ier[0];
            end

            if (do_write) begin
                aw_have <= 1'b0;
                w_have <= 1'b0;
                s_axil_bvalid <= 1'b1;
                s_axil_bresp <= 2'b00;
                case (awaddr_q)
                    `PF_REG_AP_CTRL: if (wstrb_q[0]) begin
                        if (wdata_q[0]) start_r <= 1'b1;
                        auto_restart <= wdata_q[7];
                    end
                    `PF_REG_GIE: if (wstrb_q[0]) gie <= wdata_q[0];
                    `PF_REG_IER: if (wstrb_q[0]) ier <= wdata_q[1:0];
                    `PF_REG_ISR: if (wstrb_q[0]) isr <= isr ^ wdata_q[1:0];
                    `PF_REG_PROG_ADDR: prog_addr <= merge(prog_addr, wdata_q, wstrb_q);
                    `PF_REG_PROG_COUNT: prog_count <= merge(prog_count, wdata_q, wstrb_q);
                    `PF_REG_MEM_BASE_LO:
                        mem_base[31:0] <= merge(mem_base[31:0], wdata_q, wstrb_q);
                    `PF_REG_MEM_BASE_HI:
                        mem_base[63:32] <= merge(mem_base[63:32], wdata_q, wstrb_q);
                    `PF_REG_MEM_SIZE: mem_size <= merge(mem_size, wdata_q, wstrb_q);
                    `PF_REG_TIMEOUT: timeout <= merge(timeout, wdata_q, wstrb_q);
                    default: ;
                endcase
            end

            // reads: one outstanding; reading AP_CTRL clears done and ready
            s_axil_arready <= !s_axil_rvalid && !s_axil_arready && !rd_p1 && !rd_p2;
            rd_p1 <= 1'b0;
            rd_p2 <= rd_p1;
            if (s_axil_arvalid && s_axil_arready) begin
                ar_q <= araddr[7:2];
                ctrl_snap <= ctrl_word;
                rd_p1 <= 1'b1;
                s_axil_arready <= 1'b0;
                if (read_ctrl) begin
                    if (!ap_done) done_r <= 1'b0;
                    if (!ap_ready) ready_r <= 1'b0;
                end
            end
            if (rd_p2) begin
                s_axil_rdata <= rgrp[ar_q[6:5]];
                s_axil_rresp <= 2'b00;
                s_axil_rvalid <= 1'b1;
            end
            if (s_axil_rvalid && s_axil_rready) s_axil_rvalid <= 1'b0;
        end
    end
endmodule

`default_nettype wire
