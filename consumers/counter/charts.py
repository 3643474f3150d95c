"""The cut as a picture: an SVG drawn server-side with matplotlib, for the office head's report page.

One horizontal bar per service and measure (documents, steps, time), the cut in per cent, with the cabinet's
30-50 % target band shaded. Text is drawn as outlines of Sarabun (``svg.fonttype = path``): a
picture shown by <img> cannot load the page's web font, and a browser without a Thai font would show boxes.
Long service names wrap between Thai words (typeset.thai_words). matplotlib is imported on the first chart, not
when the counter starts.
"""

from __future__ import annotations

import io
import threading

from consumers.counter.cut import TARGET_HIGH, TARGET_LOW, Cut
from consumers.counter.typeset import FAMILY, FONT_DIR, thai_words

__all__ = ["cut_chart"]

_COLOURS = ("#1f5f8b", "#e07b00", "#2e8b57")
_FONTS = [FAMILY]  # Sarabun, the pages' font: matplotlib measures the Thai with it, the browser sets it


_LOCK = threading.Lock()


def cut_chart(cuts: list[Cut], names: dict[str, str], lang: str) -> bytes:
    """The SVG. ``names``: each service's name in the page's language. Safe from several threads (one at a time:
    matplotlib's settings are global)."""
    with _LOCK:
        return _draw(cuts, names, lang)


def _draw(cuts: list[Cut], names: dict[str, str], lang: str) -> bytes:
    from matplotlib import font_manager, rcParams
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    if FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(FONT_DIR / "Sarabun-Regular.ttf"))
    rcParams["svg.fonttype"] = "path"
    rcParams["svg.hashsalt"] = "linkage"  # the same picture for the same figures
    th = lang == "th"
    labels = ((("เอกสาร", "documents"), ("ขั้นตอน", "steps"), ("ระยะเวลา", "time")))
    rows = max(len(cuts), 1)
    fig = Figure(figsize=(9, 1.1 + 0.75 * rows), dpi=96)
    FigureCanvasSVG(fig)
    ax = fig.add_subplot()
    ax.axvspan(TARGET_LOW, TARGET_HIGH, color="#cfe8cf", zorder=0,
               label="เป้าหมาย 30-50 %" if th else "target 30-50 %")
    height = 0.25
    for i, (metric, colour, label) in enumerate(zip(("documents", "steps", "days"), _COLOURS, labels, strict=True)):
        values = [c.cut(metric) or 0.0 for c in cuts]
        ys = [r + (i - 1) * height for r in range(len(cuts))]
        ax.barh(ys, values, height=height, color=colour, label=label[0] if th else label[1], zorder=2)
        for y, v, c in zip(ys, values, cuts, strict=True):
            if c.cut(metric) is not None:
                ax.text(v + (1 if v >= 0 else -1), y, f"{v:.0f}%", va="center", ha="left" if v >= 0 else "right",
                        fontsize=8, family=_FONTS)
    ax.set_yticks(range(len(cuts)))
    ax.set_yticklabels([_wrap(names.get(c.service_id, c.service_id)) for c in cuts], family=_FONTS, fontsize=9)
    ax.invert_yaxis()
    ax.axvline(0, color="#444", linewidth=0.8)
    low = min([0.0, *(c.cut(m) or 0.0 for c in cuts for m in ("documents", "steps", "days"))])
    ax.set_xlim(min(low - 10, -5), 100)
    ax.set_xlabel("ลดลง (ร้อยละ)" if th else "cut (per cent)", family=_FONTS)
    ax.legend(loc="lower right", prop={"family": _FONTS, "size": 8}, framealpha=0.9)
    ax.grid(axis="x", color="#ddd", zorder=1)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _wrap(name: str, width: int = 30, lines: int = 2) -> str:
    """The name on at most two lines, broken between words, shortened with "…" past that."""
    out, line = [], ""
    for word in (w for part in name.split(" ") for w in (*thai_words(part), " ")):
        if len(line) + len(word) > width and line.strip():
            out.append(line.strip())
            line = ""
        line += word
    out.append(line.strip())
    if len(out) > lines:
        out = [*out[:lines - 1], out[lines - 1] + "…"]
    return "\n".join(out)
