// Pure Verilator C++ testbench of pf_sim_top: the raw-speed peer of the cocotb harness.
// Loads a packet (pf_in_mem.hex in the working directory, written by bench/rtl_engine.py),
// starts the accelerator over AXI4-Lite, streams the packet and clocks the model until the
// interrupt (Verilator names the port __SYM__interrupt); prints simulated cycles and cycles per wall-clock second.
//   speed_tb <stream words> <max cycles>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "Vpf_sim_top.h"
#include "verilated.h"

static uint64_t cycles = 0;

static void tick(Vpf_sim_top& t) {
    t.clk = 0;
    t.eval();
    t.clk = 1;
    t.eval();
    ++cycles;
}

static void axil_write(Vpf_sim_top& t, uint32_t addr, uint32_t data) {
    t.s_axi_control_awaddr = addr;
    t.s_axi_control_awvalid = 1;
    t.s_axi_control_wdata = data;
    t.s_axi_control_wstrb = 0xF;
    t.s_axi_control_wvalid = 1;
    t.s_axi_control_bready = 1;
    bool aw = false, w = false;
    for (int i = 0; i < 100 && !(aw && w); ++i) {
        t.clk = 0;
        t.eval();
        bool aw_hs = t.s_axi_control_awvalid && t.s_axi_control_awready;
        bool w_hs = t.s_axi_control_wvalid && t.s_axi_control_wready;
        t.clk = 1;
        t.eval();
        ++cycles;
        if (aw_hs) { aw = true; t.s_axi_control_awvalid = 0; }
        if (w_hs) { w = true; t.s_axi_control_wvalid = 0; }
    }
    for (int i = 0; i < 100 && !t.s_axi_control_bvalid; ++i) tick(t);
    tick(t);
    t.s_axi_control_bready = 0;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: speed_tb <stream words> <max cycles>\n");
        return 2;
    }
    const uint32_t words = std::strtoul(argv[1], nullptr, 10);
    const uint64_t limit = std::strtoull(argv[2], nullptr, 10);
    auto ctx = std::make_unique<VerilatedContext>();
    auto t = std::make_unique<Vpf_sim_top>(ctx.get());
    t->rst_n = 0;
    for (int i = 0; i < 4; ++i) tick(*t);
    t->rst_n = 1;
    tick(*t);
    axil_write(*t, 0x04, 1);  // GIE
    axil_write(*t, 0x08, 1);  // IER: ap_done
    t->in_len = words;
    t->last_at = words - 1;
    t->bad_keep_at = 0xFFFFFFFFu;
    t->load_mem = 1;
    tick(*t);
    t->load_mem = 0;
    axil_write(*t, 0x00, 1);  // ap_start
    t->play = 1;
    tick(*t);
    t->play = 0;
    const uint64_t start = cycles;
    const auto t0 = std::chrono::steady_clock::now();
    while (!t->__SYM__interrupt && cycles - start < limit) tick(*t);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"done\": %s, \"cycles\": %llu, \"seconds\": %.6f, \"cycles_per_s\": %.1f, "
                "\"out_words\": %u}\n",
                t->__SYM__interrupt ? "true" : "false", (unsigned long long)(cycles - start), s,
                (cycles - start) / s, (unsigned)t->out_count);
    t->final();
    return t->__SYM__interrupt ? 0 : 1;
}
