"""The report's charts, as PNG images (matplotlib, the ``insights`` extra).

Each chart is drawn from the report's document (gateway/insights/document.py)
and shows only what the tables show: suppressed cells are left out, and an
empty chart says why instead of drawing nothing.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Final

CHARTS: Final = ("strategies", "lift", "findings", "dormant")
COLOURS: Final = {"in use": "#2b7a4b", "kept": "#7a7a7a", "dormant": "#c0392b", "none": "#cccccc"}


class ChartsUnavailable(RuntimeError):
    """matplotlib is not installed: ``pip install 'tightrope[insights]'``."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # the optional extra
        raise ChartsUnavailable(
            "the charts need matplotlib: pip install 'tightrope[insights]'"
        ) from exc
    return plt


def _png(draw: Callable[[Any, Any], None], size: tuple[float, float] = (7.0, 3.6)) -> bytes:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=size, dpi=100)
    try:
        draw(figure, axes)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(figure)


def _empty(axes: Any, why: str) -> None:
    axes.axis("off")
    axes.text(0.5, 0.5, why, ha="center", va="center", wrap=True)


def strategies(doc: dict[str, Any]) -> bytes:
    """Click-through rate and revenue per thousand impressions, per strategy."""
    rows = [r for r in doc["performance"] if r["dimension"] == "strategy" and not r["suppressed"]]

    def draw(figure: Any, axes: Any) -> None:
        if not rows:
            _empty(axes, "No strategy was shown to enough shoppers yet.")
            return
        names = [r["name"] for r in rows]
        axes.bar(names, [100 * (r["ctr"] or 0) for r in rows], color="#34607f")
        axes.set_ylabel("click-through rate, %")
        axes.set_title("Per strategy: clicks per impression (bars), revenue per 1,000 (dots)")
        other = axes.twinx()
        other.plot(names, [r["rpm"] or 0 for r in rows], "o", color="#c27c0e")
        other.set_ylabel("revenue per 1,000 impressions")
        axes.tick_params(axis="x", labelrotation=20)

    return _png(draw)


def lift(doc: dict[str, Any]) -> bytes:
    """Conversion rate per group of each comparison, with its 95 % interval."""
    groups = []
    for comparison in doc["lift"]:
        for side in ("treatment", "control"):
            g = comparison[side]
            if g["rate"] is not None:
                groups.append((f"{g['name']}\n({g['shoppers']})", g))

    def draw(figure: Any, axes: Any) -> None:
        if not groups:
            _empty(axes, "No group has shoppers yet.")
            return
        rates = [100 * g["rate"] for _, g in groups]
        below = [100 * (g["rate"] - g["rate_low"]) for _, g in groups]
        above = [100 * (g["rate_high"] - g["rate"]) for _, g in groups]
        axes.bar([n for n, _ in groups], rates, yerr=[below, above], capsize=6, color="#34607f")
        axes.set_ylabel("shoppers who bought, %")
        axes.set_title("Conversion per group (shoppers), with 95 % intervals")

    return _png(draw)


def findings(doc: dict[str, Any]) -> bytes:
    """How far the top insights are from what popularity says."""
    top = doc["findings"][:10]

    def draw(figure: Any, axes: Any) -> None:
        if not top:
            _empty(axes, "No insight stands out from popularity yet.")
            return
        labels = [f"{f['rank']}. {f['kind']}: {f['subject'].split(':', 1)[1]}" for f in top]
        axes.barh(labels[::-1], [f["distance"] for f in top][::-1], color="#6b4c9a")
        axes.set_xlabel("distance from popularity (log of the interval's nearest bound)")
        axes.set_title("Insights, farthest from popularity first")

    return _png(draw, (7.0, 4.2))


def dormant(doc: dict[str, Any]) -> bytes:
    """What the shop holds, kind by kind: in use, kept, or dormant."""
    rows = [r for r in doc["dormant"]["rows"] if r["held"]]

    def state(r: dict[str, Any]) -> str:
        if r["why"].startswith("kept"):
            return "kept"
        return "dormant" if r["dormant"] else "in use"

    def draw(figure: Any, axes: Any) -> None:
        if not rows:
            _empty(axes, "The graph holds nothing yet.")
            return
        axes.barh(
            [r["kind"] for r in rows][::-1],
            [r["held"] for r in rows][::-1],
            color=[COLOURS[state(r)] for r in rows][::-1],
        )
        axes.set_xscale("log")
        axes.set_xlabel("items held (log scale)")
        axes.set_title(
            f"In use (green), kept (grey), unread for {doc['dormant']['days']} days (red)"
        )

    return _png(draw, (7.0, 4.2))


def draw_all(doc: dict[str, Any]) -> dict[str, bytes]:
    """Every chart of the report, by name."""
    makers = {"strategies": strategies, "lift": lift, "findings": findings, "dormant": dormant}
    return {name: makers[name](doc) for name in CHARTS}
