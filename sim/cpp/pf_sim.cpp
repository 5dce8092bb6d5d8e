// The simulated overlay as a shared library with a small C API (loaded by
// plutflow.overlay.ports.SimPort with ctypes): the Verilated pf_accel, a memory behind its m_axi
// port (an AXI4 slave model with a fixed latency, in-order bursts and optional random
// gaps), AXI4-Lite register access, bulk memory load and dump, and run-until-interrupt.
// Everything per cycle happens here in C++; Python acts once per call.
//
// Memory: `size` bytes at bus address `base` (the driver writes that to MEM_BASE). An
// access outside answers SLVERR.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "Vpf_accel.h"
#include "verilated.h"

namespace {

constexpr int kBeatBytes = PF_P;  // the AXI data width is 8P bits

struct Burst {
    uint64_t addr;
    uint32_t beats;
    uint64_t ready_at;  // cycle from which its data (or response) may be presented
};

// Verilator represents ports up to 64 bits as integers and wider ones as word arrays.
template <typename T>
static void put_bytes(T& port, const uint8_t* src) { std::memcpy(&port, src, kBeatBytes); }
template <typename T>
static void get_bytes(const T& port, uint8_t* dst) { std::memcpy(dst, &port, kBeatBytes); }
template <std::size_t W>
static void put_bytes(VlWide<W>& port, const uint8_t* src) {
    std::memcpy(port.data(), src, kBeatBytes);
}
template <std::size_t W>
static void get_bytes(const VlWide<W>& port, uint8_t* dst) {
    std::memcpy(dst, port.data(), kBeatBytes);
}

struct Sim {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<Vpf_accel> top;
    std::vector<uint8_t> mem;
    uint64_t base;
    uint64_t cycles = 0;
    uint32_t latency;
    uint32_t gap;  // per mille: probability that a read beat / write ready pauses a cycle
    uint32_t lfsr;
    // read side
    std::deque<Burst> ar;
    uint32_t r_beat = 0;
    bool r_valid = false;
    // write side
    std::deque<Burst> aw;
    std::deque<std::vector<uint8_t>> w_data;  // beats of the current burst
    uint32_t w_beat = 0;
    std::deque<Burst> b;
    bool b_err_pending = false;
    std::deque<bool> b_err;
    bool w_err = false;
    uint64_t rd_beats = 0, wr_beats = 0;

    bool inside(uint64_t addr, uint64_t n) const {
        return addr >= base && addr - base + n <= mem.size();
    }
    bool pause() {
        if (!gap) return false;
        lfsr = lfsr * 1664525u + 1013904223u;
        return ((lfsr >> 8) % 1000u) < gap;
    }

    void eval_low() {
        top->ap_clk = 0;
        top->eval();
    }

    // one clock cycle of the design and the memory model
    void tick() {
        auto& t = *top;
        eval_low();
        // handshakes this cycle (sampled before the rising edge)
        const bool ar_hs = t.m_axi_gmem_arvalid && t.m_axi_gmem_arready;
        const bool r_hs = t.m_axi_gmem_rvalid && t.m_axi_gmem_rready;
        const bool aw_hs = t.m_axi_gmem_awvalid && t.m_axi_gmem_awready;
        const bool w_hs = t.m_axi_gmem_wvalid && t.m_axi_gmem_wready;
        const bool b_hs = t.m_axi_gmem_bvalid && t.m_axi_gmem_bready;
        Burst new_ar{}, new_aw{};
        if (ar_hs) new_ar = {t.m_axi_gmem_araddr, uint32_t(t.m_axi_gmem_arlen) + 1, 0};
        if (aw_hs) new_aw = {t.m_axi_gmem_awaddr, uint32_t(t.m_axi_gmem_awlen) + 1, 0};
        std::vector<uint8_t> wbeat;
        if (w_hs) {
            wbeat.resize(kBeatBytes);
            get_bytes(t.m_axi_gmem_wdata, wbeat.data());
        }
        t.ap_clk = 1;
        t.eval();
        ++cycles;
        // ---- read channel
        if (ar_hs) {
            new_ar.ready_at = cycles + latency;
            ar.push_back(new_ar);
        }
        if (r_hs) {
            ++rd_beats;
            if (++r_beat == ar.front().beats) {
                ar.pop_front();
                r_beat = 0;
            }
        }
        // ---- write channel: beats first, then the address decides where they go
        if (aw_hs) aw.push_back(new_aw);
        if (w_hs) {
            ++wr_beats;
            w_data.push_back(std::move(wbeat));
        }
        while (!aw.empty() && w_data.size() >= aw.front().beats) {
            Burst bw = aw.front();
            aw.pop_front();
            bool err = !inside(bw.addr, uint64_t(bw.beats) * kBeatBytes);
            for (uint32_t i = 0; i < bw.beats; ++i) {
                if (!err)
                    std::memcpy(&mem[bw.addr - base + uint64_t(i) * kBeatBytes],
                                w_data.front().data(), kBeatBytes);
                w_data.pop_front();
            }
            bw.ready_at = cycles + latency / 2;
            b.push_back(bw);
            b_err.push_back(err);
        }
        if (b_hs) {
            b.pop_front();
            b_err.pop_front();
        }
        drive();
    }

    // the slave's outputs for the next cycle
    void drive() {
        auto& t = *top;
        t.m_axi_gmem_arready = ar.size() < 8;
        t.m_axi_gmem_awready = aw.size() < 8;
        t.m_axi_gmem_wready = w_data.size() < 64 && !pause();
        const bool r_ok = !ar.empty() && cycles >= ar.front().ready_at && !pause();
        t.m_axi_gmem_rvalid = r_ok;
        if (r_ok) {
            const Burst& f = ar.front();
            const uint64_t a = f.addr + uint64_t(r_beat) * kBeatBytes;
            if (inside(a, kBeatBytes)) {
                put_bytes(t.m_axi_gmem_rdata, &mem[a - base]);
                t.m_axi_gmem_rresp = 0;
            } else {
                uint8_t zero[kBeatBytes] = {};
                put_bytes(t.m_axi_gmem_rdata, zero);
                t.m_axi_gmem_rresp = 2;  // SLVERR
            }
            t.m_axi_gmem_rlast = r_beat + 1 == f.beats;
        } else {
            t.m_axi_gmem_rlast = 0;
        }
        const bool b_ok = !b.empty() && cycles >= b.front().ready_at;
        t.m_axi_gmem_bvalid = b_ok;
        t.m_axi_gmem_bresp = b_ok && b_err.front() ? 2 : 0;
    }

    // AXI4-Lite transactions, a few cycles each
    void axil_write(uint32_t addr, uint32_t data) {
        auto& t = *top;
        t.s_axi_control_awaddr = addr;
        t.s_axi_control_awvalid = 1;
        t.s_axi_control_wdata = data;
        t.s_axi_control_wstrb = 0xF;
        t.s_axi_control_wvalid = 1;
        t.s_axi_control_bready = 1;
        bool aw = false, w = false;
        for (int i = 0; i < 64 && !(aw && w); ++i) {
            eval_low();
            const bool aw_hs = t.s_axi_control_awvalid && t.s_axi_control_awready;
            const bool w_hs = t.s_axi_control_wvalid && t.s_axi_control_wready;
            tick();
            if (aw_hs) { aw = true; t.s_axi_control_awvalid = 0; }
            if (w_hs) { w = true; t.s_axi_control_wvalid = 0; }
        }
        for (int i = 0; i < 64; ++i) {
            eval_low();
            const bool b_hs = t.s_axi_control_bvalid;
            tick();
            if (b_hs) break;
        }
        t.s_axi_control_bready = 0;
    }

    uint32_t axil_read(uint32_t addr) {
        auto& t = *top;
        t.s_axi_control_araddr = addr;
        t.s_axi_control_arvalid = 1;
        t.s_axi_control_rready = 1;
        uint32_t data = 0;
        for (int i = 0; i < 64; ++i) {
            eval_low();
            const bool ar_hs = t.s_axi_control_arvalid && t.s_axi_control_arready;
            tick();
            if (ar_hs) { t.s_axi_control_arvalid = 0; break; }
        }
        for (int i = 0; i < 64; ++i) {
            eval_low();
            const bool r_hs = t.s_axi_control_rvalid;
            data = t.s_axi_control_rdata;
            tick();
            if (r_hs) break;
        }
        t.s_axi_control_rready = 0;
        return data;
    }

    void reset(int n) {
        auto& t = *top;
        t.ap_rst_n = 0;
        ar.clear();
        aw.clear();
        w_data.clear();
        b.clear();
        b_err.clear();
        r_beat = 0;
        drive();
        for (int i = 0; i < n; ++i) tick();
        t.ap_rst_n = 1;
        tick();
    }
};

}  // namespace

extern "C" {

void* pf_sim_new(uint64_t mem_bytes, uint64_t base, uint32_t latency, uint32_t gap_permille,
                 uint32_t seed) {
    auto* s = new Sim;
    s->ctx = std::make_unique<VerilatedContext>();
    s->ctx->fatalOnError(false);
    s->ctx->fatalOnVpiError(false);
    s->top = std::make_unique<Vpf_accel>(s->ctx.get());
    s->mem.assign(mem_bytes, 0);
    s->base = base;
    s->latency = latency;
    s->gap = gap_permille;
    s->lfsr = seed ? seed : 1;
    auto& t = *s->top;
    t.s_axi_control_awvalid = 0;
    t.s_axi_control_wvalid = 0;
    t.s_axi_control_bready = 0;
    t.s_axi_control_arvalid = 0;
    t.s_axi_control_rready = 0;
    s->reset(8);
    return s;
}

void pf_sim_free(void* h) { delete static_cast<Sim*>(h); }

void pf_sim_reset(void* h) { static_cast<Sim*>(h)->reset(8); }

uint32_t pf_sim_reg_read(void* h, uint32_t addr) { return static_cast<Sim*>(h)->axil_read(addr); }

void pf_sim_reg_write(void* h, uint32_t addr, uint32_t data) {
    static_cast<Sim*>(h)->axil_write(addr, data);
}

int pf_sim_mem_write(void* h, uint64_t off, const void* src, uint64_t n) {
    auto* s = static_cast<Sim*>(h);
    if (off > s->mem.size() || n > s->mem.size() - off) return -1;
    std::memcpy(&s->mem[off], src, n);
    return 0;
}

int pf_sim_mem_read(void* h, uint64_t off, void* dst, uint64_t n) {
    auto* s = static_cast<Sim*>(h);
    if (off > s->mem.size() || n > s->mem.size() - off) return -1;
    std::memcpy(dst, &s->mem[off], n);
    return 0;
}

// Run until the interrupt output is high or `max_cycles` have passed; returns the cycles run.
uint64_t pf_sim_run(void* h, uint64_t max_cycles) {
    auto* s = static_cast<Sim*>(h);
    uint64_t n = 0;
    while (n < max_cycles && !s->top->__SYM__interrupt) {
        s->tick();
        ++n;
    }
    return n;
}

int pf_sim_irq(void* h) { return static_cast<Sim*>(h)->top->__SYM__interrupt ? 1 : 0; }

uint64_t pf_sim_cycles(void* h) { return static_cast<Sim*>(h)->cycles; }

uint64_t pf_sim_mem_size(void* h) { return static_cast<Sim*>(h)->mem.size(); }

void pf_sim_set_memory_model(void* h, uint32_t latency, uint32_t gap_permille) {
    auto* s = static_cast<Sim*>(h);
    s->latency = latency;
    s->gap = gap_permille;
}

}  // extern "C"
