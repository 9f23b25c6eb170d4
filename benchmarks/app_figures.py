"""The running app's figures: first start, memory, and the Train page's cost to the fit.

    python benchmarks/app_figures.py [--epochs 200]

1. From `streamlit run` to a canvas that draws: the server answering, the page loaded, the
   canvas on screen, then a stroke answered with a prediction (TensorFlow and the model load on
   the first visit).
2. The server's memory after that and 5 s more, with the default model loaded: the proportional
   memory (PSS) of its whole process tree, as a container counts it, and its resident memory.
3. The seed's fit started from the Train page with the defaults, against the same fit from the
   command line: the fit seconds each records, and the ratio.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import CHROMIUM_FLAGS, ROOT, app_server, chromium, cpu_seconds, draw_stroke, rss_mb  # noqa: E402
from memory import pss_mb  # noqa: E402

# Checked at every frame the page paints: a locator's wait_for polls at up to 500 ms intervals,
# which added 0.35-0.5 s to the times measured with it.
CANVAS_SHOWN = ("() => !!document.querySelector('[data-testid=stBidiComponentIsolated]')"
                "?.shadowRoot?.querySelector('canvas.upper-canvas')")
PREDICTION_SHOWN = ("() => [...document.querySelectorAll('[data-testid=stMetric]')]"
                    ".some(e => e.textContent.includes('Prediction'))")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        data = Path(tmp) / "data"
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        start = time.perf_counter()
        with app_server(data) as (url, proc, health_s):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_function(CANVAS_SHOWN, polling="raf")
            canvas_s = time.perf_counter() - start
            draw_stroke(page, [(140, 40), (140, 240)])
            page.wait_for_function(PREDICTION_SHOWN, polling="raf")
            first_prediction_s = time.perf_counter() - start
            time.sleep(5)
            print(f"server answering: {health_s:.2f} s; canvas on screen: {canvas_s:.2f} s; "
                  f"first prediction: {first_prediction_s:.2f} s after `streamlit run`")
            print(f"server memory with the default model loaded, 5 s after a drawing: {pss_mb(proc.pid):.0f} MB PSS "
                  f"(its process tree), {rss_mb(proc.pid):.0f} MB resident")

            page.goto(f"{url}/train")
            epochs = page.get_by_role("spinbutton", name="Epochs")
            epochs.fill(str(args.epochs))
            epochs.press("Tab")
            server_cpu, browser_cpu = cpu_seconds("streamlit run"), cpu_seconds("chromium")
            page.get_by_role("button", name="Start training").click()
            page.get_by_text(f"Finished after {args.epochs} epochs").wait_for(timeout=600_000)
            print(f"CPU used while the page trained: app server {cpu_seconds('streamlit run') - server_cpu:.1f} s, "
                  f"browser {cpu_seconds('chromium') - browser_cpu:.1f} s")
            record = json.loads(subprocess.run(
                [sys.executable, "-m", "mnist_core", "runs", "--json", "--database", f"sqlite:///{data}/mnist.db"],
                cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()[0])
            print(f"server memory after a training run: {pss_mb(proc.pid):.0f} MB PSS, "
                  f"{rss_mb(proc.pid):.0f} MB resident")
        browser.close()
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        out = subprocess.run([sys.executable, "-m", "mnist_core", "train", "--epochs", str(args.epochs), "--database",
                              f"sqlite:///{tmp}/cli.db", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True)
        cli = json.loads(out.stdout.strip().splitlines()[-1])
    page_s, cli_s = record["fit_seconds"], cli["fit_seconds"]
    print(f"{args.epochs}-epoch seed fit: Train page {page_s:.1f} s, command line {cli_s:.1f} s "
          f"(page / command line = {page_s / cli_s:.2f}); test accuracy {record['test_accuracy']:.4f} "
          f"and {cli['test_accuracy']:.4f}")


if __name__ == "__main__":
    main()
