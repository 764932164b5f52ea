"""The learning notebook's slider callbacks (notebooks/learn/learn_staggered_did.py): CPU seconds of
each on the default 337-city panel, for settings not seen before (no cache), against the budget the
README promises (a redraw in under a second). CPU time, not wall time: on a shared machine the wall
clock measures the other processes too (and even CPU time grows under load, which is why this is a
benchmark, not a test). Ratio = budget / ours (> 1: within the budget).

    python benchmarks/bench_learn.py            # three settings
    python benchmarks/bench_learn.py --quick    # one setting (tests/test_benchmarks.py)
"""

from __future__ import annotations

import time

from _bench import quick

from analysis.figures.learn import png
from analysis.figures.style import use_house_style
from analysis.studies import learn

BUDGET = 1.0  # seconds for the whole redraw a slider triggers (README, "Learn")


def _rendered(figure):
    """A figure callback as a reader gets it: drawn and encoded as PNG."""
    return lambda k, lang: png(figure(k, lang))


CALLBACKS = {
    "scene (panel + every estimator)": lambda k, lang: learn.scene(k),
    "estimates vs truth figure (PNG)": _rendered(learn.estimates_figure),
    "event-study figure (PNG)": _rendered(learn.event_study_figure),
    "Bacon figure (PNG)": _rendered(learn.bacon_figure),
    "dashboard as shown (PNG)": lambda k, lang: learn.redraw(k, lang)[0],
    "sentence": learn.sentence,
}
# what one slider move runs: the scene, the dashboard and the verdict
WHOLE = ("scene (panel + every estimator)", "dashboard as shown (PNG)", "sentence")
SETTINGS = [
    learn.Knobs(growth=0.045),
    learn.Knobs(anticipation=1, controls=False),
    learn.Knobs(never_treated=120, spacing=0.75),
]


def main() -> None:
    use_house_style()  # as the notebook: the CJK fonts of the Chinese figures
    learn.redraw(learn.Knobs(), "en")  # warm: imports, first-call costs, the untreated panel
    settings = SETTINGS[:1] if quick() else SETTINGS
    times: dict[str, list[float]] = {name: [] for name in CALLBACKS}
    for i, k in enumerate(settings):
        for name, callback in CALLBACKS.items():
            t0 = time.process_time()
            callback(k, "zh" if i == 1 else "en")
            times[name].append(time.process_time() - t0)
    whole = [sum(times[n][i] for n in WHOLE) for i in range(len(settings))]
    print(f"learning notebook callbacks: CPU seconds, max over {len(settings)} setting(s)")
    print(f"  {'callback':40s} {'ours':>7s} {'budget':>7s} {'ratio':>6s}")
    for name, values in [*times.items(), ("whole redraw (scene, PNG, sentence)", whole)]:
        ours = max(values)
        print(f"  {name:40s} {ours:7.3f} {BUDGET:7.1f} {BUDGET / ours:6.1f}x")


if __name__ == "__main__":
    main()
