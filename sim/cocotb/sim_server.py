"""The simulator server behind the runtime's ``sim`` transport.

A cocotb test that connects to the driver's Unix socket (``PLUTFLOW_SIM_SOCKET``) and
executes its requests on the simulated accelerator: register reads and writes over
AXI4-Lite (cocotbext-axi), bulk stream transfers through the wrapper's memories, resets.
While it waits for a request the simulation does not advance. The protocol framing is
``plutflow.runtime.wire``.
"""

from __future__ import annotations

import os
import socket
import traceback

import cocotb
import numpy as np
from accel_bench import AccelBench

from plutflow.runtime.wire import ConnectionClosed, recv_msg, send_msg


@cocotb.test()
async def serve(dut) -> None:
    tb = AccelBench(dut)
    await tb.start()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.environ["PLUTFLOW_SIM_SOCKET"])
    send_msg(
        sock,
        {
            "ready": True,
            "data_w": tb.data_w,
            "in_depth": int(dut.IN_DEPTH.value),
            "out_depth": int(dut.OUT_DEPTH.value),
        },
    )
    while True:
        try:
            header, payload = recv_msg(sock)
        except ConnectionClosed:
            return
        cmd = header.get("cmd")
        try:
            if cmd == "read":
                send_msg(sock, {"value": await tb.read(int(header["addr"]))})
            elif cmd == "write":
                await tb.write(int(header["addr"]), int(header["value"]))
                send_msg(sock, {"ok": True})
            elif cmd == "transfer":
                words = np.frombuffer(payload, dtype="<u8")
                done, cycles = await tb.transfer(
                    words, timeout_cycles=int(header.get("timeout_cycles", 50_000_000))
                )
                count = int(dut.out_count.value)
                out = await tb.fetch(min(count, int(header["recv_words"]) // tb.lanes))
                send_msg(
                    sock,
                    {
                        "done": done,
                        "cycles": cycles,
                        "sent_words": int(dut.in_sent.value) * tb.lanes,
                        "recv_words": count * tb.lanes,
                        "load_s": tb.t_load,
                        "sim_s": tb.t_sim,
                    },
                    out.astype("<u8").tobytes(),
                )
            elif cmd == "reset":
                await tb.reset()
                send_msg(sock, {"ok": True})
            elif cmd == "quit":
                send_msg(sock, {"ok": True})
                sock.close()
                return
            else:
                send_msg(sock, {"error": f"unknown command {cmd!r}"})
        except Exception:  # report to the driver and keep serving
            send_msg(sock, {"error": traceback.format_exc()})
