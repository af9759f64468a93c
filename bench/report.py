"""Write the README's Performance section from ``bench/results/*.json`` (run by ``make bench``).

Each row is one figure beside its baseline from the same run and its target.
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
BEGIN, END = "<!-- performance:begin -->", "<!-- performance:end -->"

# (benchmark, figure key, baseline key, baseline name, target)
ROWS = [
    ("motion_speed", "vga_us_median", "mog2_quarter_vga_us_median", "OpenCV MOG2, quarter-scale grey",
     "≤ 50 µs and ≥ 2.5× faster than MOG2"),
    ("motion_speed", "hd720_us_median", "mog2_quarter_hd720_us_median",
     "OpenCV MOG2, quarter-scale grey", "≤ 100 µs and ≥ 2.5× faster than MOG2"),
    ("motion_quality", "synthetic_event_recall", "mog2_synthetic_event_recall", "MOG2 gate",
     "≥ 0.98"),
    ("motion_quality", "synthetic_false_events_per_hour", "mog2_synthetic_false_events_per_hour",
     "MOG2 gate", "≤ ⅓ of MOG2's"),
    ("stack_idle", "cpu_fraction_of_one_core", "always_full_frames_cpu_fraction",
     "same graph shipping every full frame", "≤ 0.05"),
]


def section() -> str:
    """The Markdown table of every figure found in the results."""
    lines = ["| benchmark | figure | wildcam | baseline (same run) | target | measured |",
             "|---|---|---|---|---|---|"]
    for bench, key, base_key, base_name, target in ROWS:
        path = RESULTS / f"{bench}.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        if key not in data:
            continue
        base = data.get(base_key, "—")
        lines.append(f"| `bench/{bench}.py` | `{key}` | {data[key]} | {base} ({base_name}) "
                     f"| {target} | {data.get('generated', '?')[:10]}, "
                     f"{data.get('machine_cores', '?')} cores |")
    return "\n".join(lines)


def main() -> None:
    readme = REPO / "README.md"
    text = readme.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{BEGIN}\n{section()}\n{END}{tail}")
    print(section())


if __name__ == "__main__":
    main()
