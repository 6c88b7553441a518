"""The playground in a real browser: Debian's Chromium driven by Playwright (pointed at the
system browser; Playwright's own download is not needed). Skips where either is missing.

Screenshots and the measured redraw times are written to build/test-artifacts/."""

import json
import os
import re
import shutil
import statistics
from pathlib import Path

import numpy as np
import pytest

from linclass.graph.render import fmt
from linclass.playground import server

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")

ARTIFACTS = Path(__file__).resolve().parent.parent / "build" / "test-artifacts"


def _chromium():
    for name in (
        os.environ.get("LINCLASS_CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def site():
    srv = server.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # a 400 is the server refusing bad input, which the page shows; anything else is a fault
    page.on(
        "console",
        lambda m: m.type == "error" and "status of 400" not in m.text and errors.append(m.text),
    )
    page.open = lambda hash="": _open(page, site, hash)
    yield page
    context.close()
    assert errors == []


def _open(page, site, hash=""):
    page.goto(site.url + (f"#{hash}" if hash else ""))
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    _settle(page)


def _settle(page):
    """Wait until no request is out and the tables show the latest answer."""
    page.wait_for_function(
        "() => !lab.busy && lab.pending === null && !lab.tablesQueued", timeout=20_000
    )


def _api(name, body):
    status, out = server.handle(name, body)
    assert status == 200, out
    return out


def _plane_point(page, x, y):
    """The page pixel of the plane's point (x, y), rounded: Chromium reports some pointer
    events at whole pixels, so a test that drags from fractional ones would lose a fraction."""
    box = page.locator("#plane").bounding_box()
    return (
        round(box["x"] + (x + 3) / 6 * box["width"]),
        round(box["y"] + (3 - y) / 6 * box["height"]),
    )


def _data_at(page, x, y):
    """The plane's point under the page pixel (x, y)."""
    return page.evaluate(f"toData(...mouse({{clientX: {x}, clientY: {y}}}))")


def _passes_through(W, b, point):
    """Class 0's line (w . p + b = 0) passes through ``point``."""
    assert np.dot(W[0], point) + b[0] == pytest.approx(0, abs=1e-9)


def _shows_the_library_numbers_for_what_it_holds(page):
    want = _api("evaluate", page.evaluate("playground.body()"))
    assert page.evaluate("lab.result.loss") == want["loss"]


def test_the_page_shows_the_library_numbers(page):
    page.open()
    body = page.evaluate("playground.body()")
    want = _api("evaluate", body)
    got = page.evaluate("lab.result")
    assert got["loss"] == want["loss"] and got["W"] == want["W"]
    summary = page.inner_text("#summary")
    shown = re.search(r"training loss (\S+) ", summary)
    assert shown and float(shown.group(1)) == pytest.approx(want["loss"], rel=1e-3)
    row = page.locator("#points-table tr[data-index='0'] td.loss").inner_text()
    assert float(row) == pytest.approx(want["point_loss"][0], rel=1e-3)
    grads = page.inner_text("#gradients")
    assert f"{want['dW'][0][0]:.4g}" in grads and "relative error" in grads
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "playground-loss-start.png"))


def test_steps_are_the_library_training(page):
    page.open()
    start = page.evaluate("playground.body()")
    for _ in range(5):
        page.click("#step")
        _settle(page)
    assert page.evaluate("lab.t") == 5
    want = _api("train", dict(start, steps=5))
    np.testing.assert_allclose(page.evaluate("lab.W"), want["W"], rtol=1e-12)
    assert len(page.evaluate("lab.history")) == 5
    assert "step 5" in page.inner_text("#summary")


def test_play_pause_and_reset_returns_to_the_same_start(page):
    page.open()
    first = page.evaluate("lab.W")
    page.click("#play")
    page.wait_for_function("() => lab.t >= 30", timeout=30_000)
    page.click("#play")
    _settle(page)
    assert page.evaluate("lab.result.acc") > 0.9
    page.click("#reset")
    _settle(page)
    assert page.evaluate("lab.W") == first and page.evaluate("lab.t") == 0
    assert page.evaluate("lab.history.length") == 0


def test_dragging_a_line_changes_its_row_and_the_numbers_follow(page):
    page.open()
    W0, b0 = page.evaluate("[lab.W, lab.b]")
    foot = page.evaluate("handles(0).foot")
    x, y = _plane_point(page, *foot)
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 16):
        page.mouse.move(x + 4 * i, y + 3 * i)
    page.mouse.up()
    _settle(page)
    W1, b1 = page.evaluate("[lab.W, lab.b]")
    assert W1 == W0 and b1[1:] == b0[1:] and b1[0] != b0[0]
    # the line now passes through the mouse: w . p + b = 0 there
    _passes_through(W1, b1, _data_at(page, x + 60, y + 45))
    _shows_the_library_numbers_for_what_it_holds(page)
    # then turn it by its arrow's tip
    tip = page.evaluate("handles(0).tip")
    x, y = _plane_point(page, *tip)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 30, y - 30, steps=8)
    page.mouse.up()
    _settle(page)
    assert page.evaluate("lab.W[0]") != W1[0]
    drags = [t["ms"] for t in page.evaluate("lab.timings") if t["what"] == "drag"]
    assert drags, "no drag was timed"


def _slow_answers(page, ms):
    """Make every answer of the server arrive `ms` milliseconds late, as on a loaded machine."""
    page.evaluate(
        """(ms) => {
            const fetchNow = window.fetch;
            window.fetch = async (...args) => {
                const answer = await fetchNow(...args);
                await new Promise((r) => setTimeout(r, ms));
                return answer;
            };
        }""",
        ms,
    )


@pytest.mark.parametrize("kind", ["foot", "tip"])
def test_a_late_answer_never_moves_a_dragged_line_back(page, kind):
    # an answer to a request sent mid-drag arrives after the release: the line stays where the
    # mouse let go of it (a stale answer once put it back a few pixels, under load in CI)
    page.open()
    _slow_answers(page, 150)
    foot, tip = page.evaluate("[handles(0).foot, handles(0).tip]")
    x, y = _plane_point(page, *(foot if kind == "foot" else tip))
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(x + 4 * i, y + 3 * i)
        page.wait_for_timeout(20)
    page.mouse.up()
    _settle(page)
    W1, b1 = page.evaluate("[lab.W, lab.b]")
    end = _data_at(page, x + 40, y + 30)
    if kind == "foot":
        _passes_through(W1, b1, end)
    else:
        # the arrow ends at the mouse, from the foot the line kept
        arrow = page.evaluate("ARROW")
        np.testing.assert_allclose(np.add(foot, np.multiply(W1[0], arrow)), end, atol=1e-9)
    # and the numbers shown are those of the line shown
    _shows_the_library_numbers_for_what_it_holds(page)


def test_the_numbers_follow_a_long_drag_before_the_mouse_is_let_go(page):
    # answers arrive late and the mouse keeps moving: each answer is shown as it comes (the
    # picture catches up with the line), none of them moves the line
    page.open()
    _slow_answers(page, 100)
    before = page.evaluate("lab.result.loss")
    x, y = _plane_point(page, *page.evaluate("handles(0).foot"))
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x + 3 * i, y + 2 * i)
        page.wait_for_timeout(30)
    during = page.evaluate("lab.result.loss")
    W_during, b_during = page.evaluate("[lab.W, lab.b]")
    assert during != before  # shown while the mouse was still down
    _passes_through(W_during, b_during, _data_at(page, x + 60, y + 40))
    page.mouse.up()
    _settle(page)
    _shows_the_library_numbers_for_what_it_holds(page)


def test_a_line_dragged_during_a_step_wins_over_the_step(page):
    # the step was made from the old line: it is dropped, the line stays where the hand left it,
    # and the numbers shown are asked for that line (the change that waited is sent)
    page.open()
    _slow_answers(page, 300)
    foot = page.evaluate("handles(0).foot")
    x, y = _plane_point(page, *foot)
    page.click("#step")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 30, y + 20, steps=3)
    page.mouse.up()
    _settle(page)
    assert page.evaluate("lab.t") == 0 and page.evaluate("lab.history.length") == 0
    W1, b1 = page.evaluate("[lab.W, lab.b]")
    _passes_through(W1, b1, _data_at(page, x + 30, y + 20))
    _shows_the_library_numbers_for_what_it_holds(page)
    # the next step starts from the dragged line
    start = page.evaluate("playground.body()")
    assert (start["W"], start["b"]) == (W1, b1)
    page.click("#step")
    _settle(page)
    assert page.evaluate("lab.t") == 1
    np.testing.assert_allclose(page.evaluate("lab.W"), _api("train", dict(start, steps=1))["W"])


def test_points_are_added_moved_and_deleted(page):
    page.open()
    n = page.evaluate("lab.points.length")
    page.click("#palette button:nth-child(2)")
    x, y = _plane_point(page, 2.7, -2.7)
    page.mouse.click(x, y)
    _settle(page)
    assert page.evaluate("lab.points.length") == n + 1
    assert page.evaluate("lab.points.at(-1)") == [
        pytest.approx(2.7, abs=0.01),
        pytest.approx(-2.7, abs=0.01),
        1,
        0,
    ]
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 20, y - 20, steps=4)
    page.mouse.up()
    _settle(page)
    assert page.evaluate("lab.points.at(-1)[0]") < 2.6
    x2, y2 = _plane_point(page, *page.evaluate("lab.points.at(-1).slice(0, 2)"))
    page.mouse.dblclick(x2, y2)
    _settle(page)
    assert page.evaluate("lab.points.length") == n
    assert page.evaluate("lab.result.scores.length") == n


def test_a_points_circuit_shows_its_loss_and_gradients(page):
    page.open("loss=softmax")
    page.click("#points-table tr[data-index='4']")
    page.click("#open-circuit")
    page.wait_for_selector("#circuit svg")
    body = page.evaluate("playground.body()")
    want = _api("circuit", dict(body, point=4))
    loss = _api("evaluate", body)["point_loss"][4]
    out = want["nodes"][want["output"]]
    assert out["value"] == pytest.approx(loss)
    assert f"L = {fmt(loss)}" in page.inner_text("#circuit-title")
    grads = page.locator("#circuit .input-grad").all_text_contents()  # shown once all is done
    assert len(grads) == sum(n["kind"] == "input" for n in want["nodes"])
    # step through it: nothing computed, then gate by gate
    page.click("#clear")
    assert page.locator("#circuit .wire-grad").count() == 0
    values = page.locator("#circuit .wire-value").count()
    page.click("#fwd")
    assert page.locator("#circuit .wire-value").count() > values
    page.click("#bwd")  # finishes the forward pass, then one gate back
    assert page.locator("#circuit .wire-grad").count() >= 1
    assert "backward: 1 of" in page.inner_text("#circuit-title")
    page.click("#all")
    page.hover("#circuit g.gate >> nth=0")
    assert "local" in page.inner_text("#tooltip") and "×" in page.inner_text("#tooltip")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "playground-circuit.png"), full_page=True)


def test_a_typed_expression_is_drawn_and_a_hostile_one_refused(page):
    page.open("tab=circuit")
    page.wait_for_selector("#circuit svg")
    assert page.locator("#circuit .input-grad").all_text_contents() == ["∂=-4", "∂=-4", "∂=3"]
    page.fill("#expr", "__import__('os').system('touch /tmp/pwned')")
    page.click("#draw-expr")
    page.wait_for_function("() => document.getElementById('status').textContent.length > 0")
    assert "not allowed" in page.inner_text("#status")
    assert not os.path.exists("/tmp/pwned")
    page.fill("#expr", "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))")
    page.fill("#values", "w0=2 x0=-1 w1=-3 x1=-2 w2=-3")
    page.press("#values", "Enter")
    page.wait_for_function(
        "() => document.getElementById('circuit-title').textContent.includes('0.7311')"
    )
    texts = page.locator("#circuit .input-grad").all_text_contents()
    assert "∂=-0.1966" in texts and "∂=0.3932" in texts  # the lecture's sigmoid neuron


def test_the_url_reproduces_the_picture(page, browser, site):
    page.open("kind=spiral&classes=4&seed=7&loss=crammer_singer&features=xy")
    for _ in range(3):
        page.click("#step")
        _settle(page)
    x, y = _plane_point(page, -2.5, 2.5)
    page.mouse.click(x, y)  # a hand-made point goes into the link too
    _settle(page)
    page.click("#points-table tr[data-index='2']")
    _settle(page)
    url = page.url
    assert "points=" in url and "W=" in url and "point=2" in url
    picture = page.evaluate("document.getElementById('plane').toDataURL()")
    state = page.evaluate("[lab.W, lab.b, lab.points, lab.t, lab.selected, playground.settings()]")

    other = browser.new_page(viewport={"width": 1500, "height": 1000})
    other.goto(url)
    other.wait_for_selector("body[data-ready='1']", timeout=20_000)
    _settle(other)
    assert (
        other.evaluate("[lab.W, lab.b, lab.points, lab.t, lab.selected, playground.settings()]")
        == state
    )
    assert other.evaluate("document.getElementById('plane').toDataURL()") == picture
    other.close()


def test_classroom_flags_hide_controls(page):
    page.open("hide=optimizer,table,circuit")
    for selector in ("[data-panel='optimizer']", "[data-panel='table']", "#tab-circuit"):
        assert not page.is_visible(selector)
    assert page.is_visible("[data-panel='data']")
    assert "hide=optimizer" in page.url  # kept when the state is saved again


def test_export_and_import_state_and_points(page, tmp_path):
    page.open("seed=3")
    page.click("#step")
    _settle(page)
    with page.expect_download() as download:
        page.click("#export-json")
    state_file = tmp_path / "state.json"
    download.value.save_as(state_file)
    saved = json.loads(state_file.read_text())
    assert saved["format"] == "linclass-playground" and saved["W"] == page.evaluate("lab.W")
    with page.expect_download() as download:
        page.click("#export-csv")
    csv_file = tmp_path / "points.csv"
    download.value.save_as(csv_file)
    assert csv_file.read_text().startswith("x,y,class,held_out\n")

    page.click("#reset")
    _settle(page)
    page.set_input_files("#import-json", str(state_file))
    page.wait_for_function(f"() => lab.t === {saved['t']}")
    _settle(page)
    assert page.evaluate("lab.W") == saved["W"]
    assert page.evaluate("lab.points") == saved["points"]

    bad = tmp_path / "bad.csv"
    bad.write_text("x,y,class\n1,2,7\n")
    page.set_input_files("#import-csv", str(bad))
    page.wait_for_function(
        "() => document.getElementById('status').textContent.includes('cannot import')"
    )
    assert page.evaluate("lab.points") == saved["points"]  # nothing changed
    page.set_input_files("#import-csv", str(csv_file))
    _settle(page)
    assert len(page.evaluate("lab.points")) == len(saved["points"])


def test_redraw_times_are_measured(page):
    """The issue's figure: a drag or a step shown within 50 ms on this 2-core machine. Measured
    here and written to build/test-artifacts/playground-timings.json (never asserted: a test
    does not time the machine)."""
    page.open()
    for _ in range(15):
        page.click("#step")
        _settle(page)
    foot = page.evaluate("handles(1).foot")
    x, y = _plane_point(page, *foot)
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 31):
        page.mouse.move(x + 2 * i, y - i)
        page.wait_for_timeout(30)
    page.mouse.up()
    _settle(page)
    timings = page.evaluate("lab.timings")
    figures = {}
    for what in ("step", "drag"):
        ms = sorted(t["ms"] for t in timings if t["what"] == what)
        assert ms, what
        figures[what] = {
            "n": len(ms),
            "median_ms": round(statistics.median(ms), 1),
            "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1),
        }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "playground-timings.json").write_text(json.dumps(figures, indent=1) + "\n")
    page.screenshot(path=str(ARTIFACTS / "playground-loss.png"))
