"""Write the README's Performance section from ``bench/results/*.json`` (run by ``make bench``).

Each row is one figure beside its baseline from the same run and its target.
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
BEGIN, END = "<!-- performance:begin -->", "<!-- performance:end -->"

# (benchmark, figure key, baseline key or None, baseline name, target)
ROWS: list[tuple[str, str, str | None, str, str]] = [
    (
        "motion_speed",
        "vga_us_median",
        "mog2_quarter_vga_us_median",
        "OpenCV MOG2, quarter-scale grey",
        "≤ 50 µs and ≥ 2.5× faster than MOG2",
    ),
    (
        "motion_speed",
        "hd720_us_median",
        "mog2_quarter_hd720_us_median",
        "OpenCV MOG2, quarter-scale grey",
        "≤ 100 µs and ≥ 2.5× faster than MOG2",
    ),
    (
        "motion_quality",
        "synthetic_event_recall",
        "mog2_synthetic_event_recall",
        "MOG2 gate",
        "≥ 0.98",
    ),
    (
        "motion_quality",
        "synthetic_false_events_per_hour",
        "mog2_synthetic_false_events_per_hour",
        "MOG2 gate",
        "≤ ⅓ of MOG2's",
    ),
    (
        "stack_idle",
        "cpu_fraction_of_one_core",
        "always_full_frames_cpu_fraction",
        "same graph shipping every full frame",
        "≤ 0.05",
    ),
    ("cascade", "large_int8_ms", "large_fp32_ms", "large model fp32", "≥ 2× faster than fp32"),
    ("cascade", "tiny_int8_ms", None, "", "≤ 0.5 ms per region"),
    ("cascade", "medium_int8_ms", None, "", "≤ 3 ms per region"),
    (
        "cascade",
        "cascade_recall",
        "large_only_recall",
        "large model alone",
        "≥ 0.90 on the held-back real split",
    ),
    ("cascade", "cascade_precision", "large_only_precision", "large model alone", "≥ 0.90"),
    (
        "cascade",
        "large_call_fraction",
        "lever_medium_student_large_call_fraction",
        "stage 2 the medium student",
        "≤ 0.30 of still images",
    ),
    (
        "cascade",
        "cascade_mj_per_image_rpi4b",
        "lever_medium_student_cascade_mj_per_image_rpi4b",
        "stage 2 the medium student",
        "",
    ),
    ("cascade", "clip_large_call_fraction", None, "", "≤ 0.25 of motion events (real clips)"),
    (
        "cascade",
        "cascade_empty_false_alarm_rate",
        "large_only_empty_false_alarm_rate",
        "large model alone",
        "≤ 0.05 of empty real frames",
    ),
    ("cascade", "clip_road_cascade_animal_share", None, "", "≤ 0.10 of the road clips' events"),
    ("cascade", "clip_zamba_cascade_animal_share", None, "", "≥ 0.90 of the zamba clips' events"),
    (
        "uploader",
        "items_per_s",
        "items_per_s_no_fsync_baseline",
        "same queue, fsync off",
        "≥ 200 items/s, durable",
    ),
    ("uploader", "rss_mb_after_10k_items", "rss_mb_start", "RSS at start", "flat within 10 %"),
    (
        "uploader",
        "lost",
        "kill9_trials",
        "kill -9 trials; poison and full-disk trials too",
        "0 lost",
    ),
    (
        "uploader",
        "duplicates",
        "kill9_trials",
        "kill -9 trials; poison and full-disk trials too",
        "0 duplicates",
    ),
    (
        "uploader",
        "dead_lettered",
        "poison_trials",
        "kill -9 trials with poison items",
        "every poison item dead-lettered, none delivered",
    ),
    ("uploader", "full_disk_trials", None, "", "≥ 20 trials, each drained (0 lost)"),
    (
        "gateway_abuse",
        "authorised_rps_under_abuse",
        "authorised_rps_alone",
        "same client, no attack",
        "≥ 0.8 × alone",
    ),
    ("gateway_abuse", "peak_rss_mb", None, "", "≤ 300 MB under concurrent bombs"),
    (
        "fleet",
        "broker_p99_ms",
        "broker_p99_ms_alone",
        "one trap alone",
        "< 1000 ms with 1,000 traps",
    ),
    (
        "fleet",
        "gateway_p99_ms",
        "gateway_p99_ms_alone",
        "one trap alone",
        "< 1000 ms with 1,000 traps",
    ),
    ("fleet", "lost", "messages", "messages sent", "0 lost, 0 duplicates stored"),
    (
        "energy",
        "joules_per_day",
        "baseline_joules_per_day",
        "always-on: large model on every frame",
        "≥ 20× less than the baseline",
    ),
    (
        "energy",
        "analysis_joules_per_day",
        "baseline_analysis_joules_per_day",
        "always-on large model, analysis only",
        "—",
    ),
    (
        "energy",
        "event_recall",
        "baseline_event_recall",
        "always-on large model",
        "≥ 0.95 × the baseline's",
    ),
    (
        "energy",
        "projected_battery_days",
        "baseline_projected_battery_days",
        "always-on large model",
        "—",
    ),
    (
        "energy",
        "states_board_average_w",
        "always_warm_board_average_w",
        "same day held warm (board power by state, idle included)",
        "—",
    ),
    ("energy", "states_event_recall", "event_recall", "same day held warm", "—"),
    (
        "lifetime",
        "days_88wh_17ev_no_solar",
        "always_warm_pi4b_days_88wh",
        "always-warm Pi 4B, same workload",
        "≥ 365 days",
    ),
    ("lifetime", "capture_vs_always_warm_88wh", None, "", "≥ 0.95"),
    ("lifetime", "median_alert_s_88wh", None, "", "≤ 300 s"),
    ("lifetime", "capture_vs_always_warm_10w_52n", None, "", "≥ 0.95, energy-neutral"),
    ("lifetime", "sim_wall_s", None, "", "≤ 30 s for 365 days"),
    (
        "memory",
        "composed_rss_mb",
        "before_composed_rss_mb",
        "code before the memory work",
        "≤ 200 MB peak RSS",
    ),
    (
        "memory",
        "bringup_total_rss_mb",
        "before_bringup_total_rss_mb",
        "code before the memory work",
        "≤ 450 MB RSS, all processes",
    ),
    (
        "memory",
        "bringup_total_pss_mb",
        "before_bringup_total_pss_mb",
        "code before the memory work",
        "—",
    ),
    ("wake", "trigger_to_frame_ms_warm", None, "", "≤ 100 ms"),
    (
        "wake",
        "trigger_to_frame_ms_watch",
        "trigger_to_frame_ms_warm",
        "warm, camera open",
        "≤ 400 ms",
    ),
    (
        "wake",
        "cold_start_to_frame_s",
        "os_boot_to_first_frame_s_modelled",
        "OS boot to first frame, modelled: profile boot_s",
        "—",
    ),
    ("wake", "cold_start_to_decision_s", None, "", "≤ 3 s"),
]


def _fmt(value: object) -> str:
    """Numbers as a reader wants them: three decimals at most, none for large values."""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def section() -> str:
    """The Markdown table of every figure found in the results."""
    lines = [
        "| benchmark | figure | wildcam | baseline (same run) | target | measured |",
        "|---|---|---|---|---|---|",
    ]
    for bench, key, base_key, base_name, target in ROWS:
        path = RESULTS / f"{bench}.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        if key not in data:
            continue
        base = f"{_fmt(data[base_key])} ({base_name})" if base_key and base_key in data else "—"
        lines.append(
            f"| `bench/{bench}.py` | `{key}` | {_fmt(data[key])} | {base} "
            f"| {target} | {data.get('generated', '?')[:10]}, "
            f"{data.get('machine_cores', '?')} cores |"
        )
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
