// plutflow pipelined adder tree: the sum of N signed W-bit values, with a register after
// every LEVELS_PER_STAGE adder levels, at the output and, with SPLIT_LAST, before the last
// level (pf_tree.vh). Latency: STAGES cycles (a valid travels with the data; registers
// load only with a valid beat).
`default_nettype none

module pf_addtree #(
    parameter integer N = 16,
    parameter integer W = 18,
    parameter integer LEVELS_PER_STAGE = 2,
    parameter integer SPLIT_LAST = 0,
    parameter integer STRIDE = W       // input slot width (>= W; the bits above W unused)
) (
    input  wire                         clk,
    input  wire                         rst,
    input  wire                         in_valid,
    input  wire [N*STRIDE-1:0]          in,
    output wire                         out_valid,
    output wire [W+$clog2(N)-1:0]       sum
);
    /* verilator inline_module */
    localparam integer LEVELS = $clog2(N);
    localparam integer OW = W + LEVELS;
    // a node's slot in the level vectors: whole 32- or 64-bit words, so that a Verilated
    // model reads and writes each value in place (no shifting and masking); the extension
    // bits are wires, no logic
    localparam integer SW = OW <= 32 ? 32 : OW <= 64 ? 64 : OW;
`include "pf_tree.vh"
    localparam integer STAGES = pf_tree_stages(LEVELS, LEVELS, LEVELS_PER_STAGE, SPLIT_LAST);

    generate
        if (N < 1 || LEVELS_PER_STAGE < 1) begin : bad_n
            $error("pf_addtree: N and LEVELS_PER_STAGE must be at least 1");
        end
        if (STRIDE < W) begin : bad_stride
            $error("pf_addtree: STRIDE must be at least W");
        end
    endgenerate

    // vs[s]: the beat in register stage s is valid; ld[s]: stage s loads this cycle
    reg [STAGES-1:0] vs;
    wire [STAGES-1:0] ld;
    generate
        if (STAGES == 1) begin : ld1
            assign ld = in_valid;
        end else begin : ldn
            assign ld = {vs[STAGES-2:0], in_valid};
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) vs <= {STAGES{1'b0}};
        else vs <= ld;
    end
    assign out_valid = vs[STAGES-1];

    genvar l, i;
    generate
        if (LEVELS == 0) begin : single
            reg [OW-1:0] r;
            always @(posedge clk) if (in_valid) r <= in[W-1:0];
            assign sum = r;
        end else begin : tree
            // level l holds ceil(N / 2^l) values of OW bits, sign-extended to SW
            for (l = 0; l <= LEVELS; l = l + 1) begin : lvl
                localparam integer CNT = (N + (1 << l) - 1) >> l;
                /* verilator lint_off UNUSEDSIGNAL */  // (the extension bits)
                wire [CNT*SW-1:0] v;
                /* verilator lint_on UNUSEDSIGNAL */
            end
            for (i = 0; i < N; i = i + 1) begin : leaf
                assign lvl[0].v[i*SW +: SW] = {{(SW-W){in[i*STRIDE + W - 1]}},
                                               in[i*STRIDE +: W]};
            end
            for (l = 1; l <= LEVELS; l = l + 1) begin : add
                localparam integer CNT = (N + (1 << l) - 1) >> l;
                localparam integer PREV = (N + (1 << (l - 1)) - 1) >> (l - 1);
                localparam integer STAGE = pf_tree_stages(l - 1, LEVELS, LEVELS_PER_STAGE,
                                                          SPLIT_LAST);
                for (i = 0; i < CNT; i = i + 1) begin : node
                    wire [OW-1:0] s;
                    if (2 * i + 1 < PREV) begin : pair
                        assign s = lvl[l-1].v[2*i*SW +: OW] + lvl[l-1].v[(2*i+1)*SW +: OW];
                    end else begin : pass
                        assign s = lvl[l-1].v[2*i*SW +: OW];
                    end
                    if (pf_tree_regd(l, LEVELS, LEVELS_PER_STAGE, SPLIT_LAST) != 0)
                    begin : reg_stage
                        reg [OW-1:0] r;
                        always @(posedge clk) if (ld[STAGE]) r <= s;
                        assign lvl[l].v[i*SW +: SW] = {{(SW-OW){r[OW-1]}}, r};
                    end else begin : comb
                        assign lvl[l].v[i*SW +: SW] = {{(SW-OW){s[OW-1]}}, s};
                    end
                end
            end
            assign sum = lvl[LEVELS].v[OW-1:0];
        end
    endgenerate
endmodule

`default_nettype wire
