"""Generate the KV260 notebooks in boards/kv260/notebooks (development tool; the
notebooks are committed). Each runs unchanged on the board (PLUTFLOW_BACKEND unset:
pynq) and on a host with PLUTFLOW_BACKEND=sim."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parents[1] / "boards" / "kv260" / "notebooks"

SETUP = """import os
from pathlib import Path

import numpy as np

import plutflow
from plutflow.assets import DemoAssets
from plutflow.runtime import Accelerator, Artifact

# On the board: the pynq backend with the overlay next to the notebooks.
# Elsewhere: PLUTFLOW_BACKEND=sim runs the same RTL in Verilator.
BACKEND = os.environ.get("PLUTFLOW_BACKEND", "pynq")
BITFILE = os.environ.get("PLUTFLOW_BITFILE", str(Path("../overlay/plutflow.bit").resolve()))
OPTIONS = {"bitfile": BITFILE} if BACKEND == "pynq" else {}
print("backend:", BACKEND)"""


def quickstart() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell(
                "# plutflow quickstart\n\nLoad the overlay, run the bundled Fashion-MNIST model "
                "on it, compare every output with the golden integer model, and look at some "
                "predictions."
            ),
            new_code_cell(SETUP),
            new_markdown_cell("## Quantize the bundled model and compile it for the overlay"),
            new_code_cell(
                "assets = DemoAssets()\n"
                "model = plutflow.quantize(str(assets.model), assets.calib_set(),\n"
                "                          preprocess=assets.preprocess())\n"
                "artifact = plutflow.compile(model, overlay='board')\n"
                "for r in artifact.placement:\n"
                "    print(f\"{r['layer']:28s} {r['op']:15s} {r['target']}\")"
            ),
            new_markdown_cell("## Run on the overlay and on the golden model"),
            new_code_cell(
                "x, y = assets.test_set()\n"
                "x, y = x[:32], y[:32]\n"
                "with Accelerator(artifact, BACKEND, **OPTIONS) as acc:\n"
                "    result = acc.run(x)\n"
                "golden = Accelerator(artifact, 'golden').run(x)\n"
                "name = model.outputs[0]\n"
                "exact = np.array_equal(result.outputs[name], golden.outputs[name])\n"
                "print('bit-exact with golden:', exact)\n"
                "assert exact\n"
                "pred = result.logits.argmax(1)\n"
                "print(f'top-1 on {len(y)} images: {(pred == y).mean() * 100:.1f} %')\n"
                "print(f'overlay cycles per image: {result.cycles / len(x):,.0f} '\n"
                "      f'({result.modelled_seconds() / len(x) * 1e3:.3f} ms at 250 MHz)')"
            ),
            new_markdown_cell("## Images and predictions"),
            new_code_cell(
                "import matplotlib.pyplot as plt\n"
                "classes = assets.classes()\n"
                "fig, axes = plt.subplots(2, 8, figsize=(12, 3.4))\n"
                "for ax, img, p, t in zip(axes.flat, x, pred, y):\n"
                "    ax.imshow(img[0], cmap='gray')\n"
                "    ax.set_title(classes[p], color='green' if p == t else 'red', fontsize=8)\n"
                "    ax.axis('off')\n"
                "plt.tight_layout()"
            ),
        ]
    )


def benchmark() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell(
                "# plutflow benchmark\n\nThroughput of the overlay on the bundled model and "
                "where the time goes, layer by layer."
            ),
            new_code_cell(SETUP),
            new_code_cell(
                "from plutflow.runtime.evaluate import evaluate\n"
                "assets = DemoAssets()\n"
                "model = plutflow.quantize(str(assets.model), assets.calib_set(),\n"
                "                          preprocess=assets.preprocess())\n"
                "artifact = plutflow.compile(model, overlay='board')\n"
                "x, y = assets.test_set()\n"
                "N = int(os.environ.get('PLUTFLOW_BENCH_IMAGES', '64'))\n"
                "with Accelerator(artifact, BACKEND, **OPTIONS) as acc:\n"
                "    ev = evaluate(acc, x[:N], batch_size=32)\n"
                "print(f'{N} images in {ev.wall_s:.2f} s wall '\n"
                "      f'({N / ev.wall_s:,.0f} images/s measured)')\n"
                "print(f'overlay: {ev.cycles_per_image:,.0f} cycles/image -> '\n"
                "      f'{ev.modelled_images_per_s():,.0f} images/s at 250 MHz')\n"
                "print(f'host layers: {ev.host_seconds_per_image() * 1e3:.3f} ms per image; '\n"
                "      f'packing {ev.pack_s / N * 1e3:.3f} ms, '\n"
                "      f'unpacking {ev.unpack_s / N * 1e3:.3f} ms')"
            ),
            new_markdown_cell(
                "## Per-layer cycles and array utilisation\n\nThe overlay runs the whole "
                "network as one program, so the per-layer split comes from the cycle model "
                "(checked against the measured total below)."
            ),
            new_code_cell(
                "from plutflow.overlay.cycles import program_estimate\n"
                "est = program_estimate(artifact.compiled.program(32), artifact.overlay)\n"
                "print(f'cycle model / measured: {est.cycles / 32 / ev.cycles_per_image:.3f}')\n"
                "p2 = artifact.overlay.macs_per_cycle\n"
                "rows = [r for r in artifact.placement if est.per_layer.get(r['layer'])]\n"
                "for r in rows:\n"
                "    cyc = est.per_layer[r['layer']] / 32\n"
                "    util = 100 * r['macs'] / (cyc * p2)\n"
                "    print(f\"{r['layer']:28s} {cyc:11,.0f} cycles/img {util:7.1f} %\")"
            ),
            new_code_cell(
                "import matplotlib.pyplot as plt\n"
                "plt.figure(figsize=(8, 3))\n"
                "names = [r['layer'].strip('/').split('/')[0] for r in rows]\n"
                "plt.bar(names, [est.per_layer[r['layer']] / 32 for r in rows])\n"
                "plt.ylabel('cycles per image (model)')\n"
                "plt.xticks(rotation=30)\n"
                "plt.tight_layout()"
            ),
        ]
    )


def byom() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell(
                "# Bring your own model\n\nQuantize an ONNX CNN of your own, choose weight "
                "formats per layer, compile it for the overlay and check it bit-exact. The "
                "bundled model stands in for yours: replace `ONNX` and the calibration images."
            ),
            new_code_cell(SETUP),
            new_code_cell(
                "from plutflow.data import load_data, preprocess_for\n"
                "from plutflow.ir.importer import import_onnx\n"
                "assets = DemoAssets()\n"
                "ONNX = str(assets.model)              # your model.onnx\n"
                "DATA = str(assets.data) + ':calib_images'  # your images: folder, .npy, .npz\n"
                "# your preprocessing (mean/std as in training); None infers layout, channels\n"
                "# and size from the model's input and only scales pixels to [0, 1]\n"
                "PREPROCESS = str(assets.meta)\n"
                "graph = import_onnx(ONNX)\n"
                "pre = preprocess_for(None, PREPROCESS, graph)\n"
                "calib, _ = load_data(DATA, pre, limit=512)\n"
                "print(graph.summary())"
            ),
            new_markdown_cell(
                "## Quantize\n\nINT8 everywhere by default. Low-bit formats need an overlay "
                "built with the matching PE type (`shift` for PoT/UPoT, `plut` for P-LUT); "
                "layers the overlay cannot run stay on the host, bit-exact either way."
            ),
            new_code_cell(
                "options = plutflow.QuantOptions(scheme='int8', rounding='nearest')\n"
                "model = plutflow.quantize(ONNX, calib, options, preprocess=pre)\n"
                "artifact = plutflow.compile(model, overlay='board')\n"
                "artifact.save('my_model.pfa')\n"
                "for r in artifact.placement:\n"
                "    print(f\"{r['layer']:28s} {r['target']:8s} {r['reason']}\")"
            ),
            new_markdown_cell("## Run and compare with the golden model"),
            new_code_cell(
                "from plutflow.runtime.evaluate import first_mismatch\n"
                "x, y = assets.test_set()\n"
                "art = Artifact.load('my_model.pfa')\n"
                "gold = Accelerator(art, 'golden')\n"
                "with Accelerator(art, BACKEND, **OPTIONS) as acc:\n"
                "    bad = first_mismatch(gold, acc, x[:16])\n"
                "    result = acc.run(x[:16])\n"
                "print('bit-exact' if bad is None else bad)\n"
                "assert bad is None\n"
                "print('predictions:', result.logits.argmax(1))"
            ),
        ]
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, nb in (
        ("quickstart", quickstart()),
        ("benchmark", benchmark()),
        ("bring_your_own_model", byom()),
    ):
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, OUT / f"{name}.ipynb")
        print("wrote", OUT / f"{name}.ipynb")


if __name__ == "__main__":
    main()
