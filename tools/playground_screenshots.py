"""The README's pictures of the playground: Debian's Chromium driven by Playwright.

    .venv/bin/python tools/playground_screenshots.py [--out docs]

writes playground-loss.png (the loss lab after some training, a point selected) and
playground-circuit.png (that point's score -> hinge loss circuit, a gate's tooltip showing).
"""

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

from linclass.playground import start

LOSS_LAB = (
    "kind=blobs&classes=3&n=120&noise=0.25&seed=4&valpct=30&loss=weston_watkins"
    "&delta=1&reg=0.001&optimizer=momentum&lr=0.02"
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs", help="folder for the PNG files")
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    srv = start()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1480, "height": 900})
        page.goto(f"{srv.url}#{LOSS_LAB}")
        page.wait_for_selector("body[data-ready='1']")
        page.select_option("#speed", "5")
        for _ in range(4):
            page.click("#step")
            page.wait_for_function("() => !lab.busy && !lab.tablesQueued")
        # the first training point the hinge still charges: the circuit then has gradients
        index = page.evaluate(
            "lab.result.point_loss.findIndex((l, i) => l > 0.5 && !lab.points[i][3])"
        )
        page.evaluate(f"playground.select({index})")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / "playground-loss.png"))
        page.click("#open-circuit")
        page.wait_for_selector("#circuit svg")
        gate = page.evaluate(
            "cl => cl.circuit.nodes.find((n) => n.label === 'm1').id",
            page.evaluate_handle("window.circuitLab"),
        )
        page.hover(f"#circuit g[data-id='{gate}']")
        page.screenshot(path=str(out / "playground-circuit.png"))
        browser.close()
    srv.shutdown()
    print(f"wrote {out / 'playground-loss.png'} and {out / 'playground-circuit.png'}")


if __name__ == "__main__":
    main()
