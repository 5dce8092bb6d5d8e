#!/bin/sh
# Install plutflow on a KV260 running Kria-PYNQ (Ubuntu 22.04, PYNQ 3.x), into PYNQ's
# Python environment, and put the notebooks and the overlay where Jupyter finds them.
#
#   git clone <plutflow> && cd plutflow && sudo boards/kv260/install.sh
#
# Needs: the overlay files boards/kv260/overlay/plutflow.bit and plutflow.hwh (built with
# 'make -C overlay_src bitstream' on a machine with Vivado, or copied from a release);
# variants built with OVERLAY=<name> (plutflow_<name>.bit + .hwh) are installed too.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYNQ_VENV=${PYNQ_VENV:-/usr/local/share/pynq-venv}
NOTEBOOKS=${PYNQ_JUPYTER_NOTEBOOKS:-/home/root/jupyter_notebooks}

if [ ! -x "$PYNQ_VENV/bin/pip" ]; then
    echo "PYNQ's venv not found at $PYNQ_VENV: install Kria-PYNQ first, or set PYNQ_VENV" >&2
    exit 1
fi
"$PYNQ_VENV/bin/pip" install "$ROOT[board]"

mkdir -p "$NOTEBOOKS/plutflow/notebooks" "$NOTEBOOKS/plutflow/overlay"
cp "$HERE"/notebooks/*.ipynb "$NOTEBOOKS/plutflow/notebooks/"
# the board overlay (plutflow.bit) and any variant (plutflow_<name>.bit, built with
# 'make -C overlay_src bitstream OVERLAY=<name>'), each with its .hwh
found=0
for bit in "$HERE"/overlay/plutflow.bit "$HERE"/overlay/plutflow_*.bit; do
    [ -f "$bit" ] || continue
    hwh="${bit%.bit}.hwh"
    if [ -f "$hwh" ]; then
        cp "$bit" "$hwh" "$NOTEBOOKS/plutflow/overlay/"
        found=1
    else
        echo "note: $bit has no $(basename "$hwh") beside it; not installed" >&2
    fi
done
if [ "$found" = 0 ]; then
    echo "note: no overlay in $HERE/overlay yet (plutflow.bit + plutflow.hwh)" >&2
fi
echo "installed: $("$PYNQ_VENV/bin/python" -m plutflow --version)"
echo "self-test: sudo $PYNQ_VENV/bin/python -m plutflow selftest --backend pynq --bitfile $NOTEBOOKS/plutflow/overlay/plutflow.bit"
