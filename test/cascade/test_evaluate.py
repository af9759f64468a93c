"""``wildcam eval`` on generated images (with a corrupt one) and on the real labelled photos."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from wildcam import cli
from wildcam.cascade import loader
from wildcam.cascade.base import FakeModel, LabelledBox, RegionResult, ScoredBox
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.evaluate import (
    CoreWatts,
    LabelledImage,
    average_precision,
    evaluate,
    load_coco,
    load_csv,
    read_image,
)
from wildcam.cascade.objects import PeopleVehicles
from wildcam.errors import InputError, ModelError
from wildcam.types import Box, Image

ANIMAL = Box(40, 30, 50, 40)


def redness(image: np.ndarray, region: Box) -> float:
    """Share of strongly red pixels in the region, scaled so an animal square scores high."""
    patch = image[region.y : region.y + region.h, region.x : region.x + region.w].astype(int)
    red = (patch[..., 2] > 150) & (patch[..., 1] < 80)
    return float(min(1.0, red.mean() * 8))


class RedDetector:
    """A stage-3 fake that boxes the red pixels of the region when there are enough."""

    model_id, stage, c_low, c_high = "red_det", 3, 0.3, 0.6

    def predict(self, image: np.ndarray, regions: list[Box]) -> list[RegionResult]:
        out = []
        for region in regions:
            red = (image[..., 2] > 150) & (image[..., 1] < 80)
            ys, xs = np.nonzero(red)
            if len(xs) < 20:
                out.append(RegionResult(region, 0.01))
                continue
            box = ScoredBox(
                Box(int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1), 0.95
            )
            out.append(RegionResult(region, 0.95, (box,)))
        return out


def fake_models() -> dict[int, object]:
    # Scores: animal 8 * 2000 / 19200 = 0.83, smudge 8 * 9 / 19200 = 0.004, empty 0. Stage 1 is
    # unsure about anything a little red, stage 2 is sure of the animals only, stage 3 ignores
    # the smudge.
    return {
        1: FakeModel("t", 1, redness, 0.001, 0.99),
        2: FakeModel("m", 2, redness, 0.002, 0.8),
        3: RedDetector(),
    }


def scene(animal: bool, smudge: bool = False, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.integers(60, 120, (120, 160, 3), dtype=np.uint8)
    image[..., 2] //= 2
    if animal:
        image[ANIMAL.y : ANIMAL.y + ANIMAL.h, ANIMAL.x : ANIMAL.x + ANIMAL.w] = (20, 20, 220)
    if smudge:  # a few red pixels: stage 1 and 2 unsure or wrong, stage 3 not
        image[5:8, 5:8] = (20, 20, 220)
    return image


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    """6 animals (2 with boxes), 4 empty frames (1 smudged), a corrupt and a missing file."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    rows = ["path,animal,x,y,w,h"]
    for i in range(6):
        cv2.imwrite(str(folder / f"a{i}.png"), scene(True, seed=i))
        box = ",".join(map(str, ANIMAL)) if i < 2 else ",,,"
        rows.append(f"imgs/a{i}.png,1,{box}")
    for i in range(4):
        cv2.imwrite(str(folder / f"e{i}.png"), scene(False, smudge=i == 0, seed=10 + i))
        rows.append(f"imgs/e{i}.png,0,,,,")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    rows += ["imgs/broken.png,1,,,,", "imgs/missing.png,0,,,,"]
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    return csv_path


def test_csv_labels_resolve_paths_and_merge_boxes(tmp_path: Path) -> None:
    (tmp_path / "l.csv").write_text(
        "path,animal,x,y,w,h\na.png,1,1,2,3,4\na.png,1,5,6,7,8\nb.png,0,,,,\n"
    )
    items = load_csv(tmp_path / "l.csv")
    assert items == [
        LabelledImage(tmp_path / "a.png", True, (Box(1, 2, 3, 4), Box(5, 6, 7, 8))),
        LabelledImage(tmp_path / "b.png", False, ()),
    ]
    (tmp_path / "plain.csv").write_text("path,animal\nx.jpg,1\n")
    assert load_csv(tmp_path / "plain.csv", Path("/data")) == [
        LabelledImage(Path("/data/x.jpg"), True, None)
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,label\na,1\n", "columns"),
        ("path,animal\na,maybe\n", "1/0"),
        ("path,animal\n,1\n", "empty path"),
    ],
)
def test_bad_csv_is_an_input_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "l.csv").write_text(text)
    with pytest.raises(InputError, match=message):
        load_csv(tmp_path / "l.csv")


def test_unreadable_images_are_none(tmp_path: Path) -> None:
    (tmp_path / "t.jpg").write_bytes(b"")
    assert read_image(tmp_path / "t.jpg") is None
    assert read_image(tmp_path / "nope.jpg") is None


def test_evaluate_rows_counts_and_costs(labelled: Path) -> None:
    items = load_csv(labelled)
    report = evaluate(items, fake_models(), CascadeConfig(), CoreWatts(1.0))  # type: ignore[arg-type]
    assert report.images == 10 and report.animals == 6
    assert sorted(Path(p).name for p in report.unreadable) == ["broken.png", "missing.png"]
    names = [r.name for r in report.rows]
    assert names == ["stage1 alone", "stage2 alone", "stage3 alone", "cascade <= 2", "cascade"]
    cascade = report.row("cascade")
    assert (cascade.tp, cascade.fp, cascade.fn, cascade.tn) == (6, 0, 0, 4)
    # animals and the smudge are unsure at stage 1; stage 2 settles the animals, the smudge
    # goes on to stage 3.
    assert cascade.fraction_reaching(1) == 1.0
    assert cascade.fraction_reaching(2) == pytest.approx(0.7)
    assert cascade.fraction_reaching(3) == pytest.approx(0.1)
    capped = report.row("cascade <= 2")
    assert capped.fraction_reaching(3) == 0.0 and capped.recall == 1.0  # 0.004 < 0.5
    alone1 = report.row("stage1 alone")
    assert alone1.fraction_reaching(2) == 0.0 and alone1.tp == 6  # capped: 0.83 >= 0.5
    alone3 = report.row("stage3 alone")
    assert alone3.ap50 == pytest.approx(1.0) and alone3.precision == 1.0
    assert cascade.joules == pytest.approx(cascade.cpu_s) and cascade.cpu_s > 0
    assert (
        cascade.wall_s
        < report.row("stage3 alone").wall_s
        + report.row("stage2 alone").wall_s
        + report.row("stage1 alone").wall_s
        + 1e-9
    )
    assert cascade.ap50 == pytest.approx(0.0)  # stage-2 boxes are the whole frame


def test_average_precision_matches_hand_computation() -> None:
    truth = [(0, [Box(0, 0, 10, 10)]), (1, [Box(0, 0, 10, 10), Box(50, 50, 10, 10)])]
    preds = {
        0: [(0.9, Box(0, 0, 10, 10)), (0.8, Box(30, 30, 5, 5))],
        1: [(0.7, Box(51, 50, 10, 10))],
        2: [(0.99, Box(0, 0, 1, 1))],
    }
    # ranks: hit (P=1, R=1/3), miss, hit (P=2/3, R=2/3); image 2 takes no part.
    assert average_precision(preds, truth) == pytest.approx(1 / 3 + (1 / 3) * (2 / 3))
    assert average_precision({}, [(0, [])]) != average_precision({}, [(0, [])])  # nan


def test_cli_eval_prints_and_writes_json(
    labelled: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(loader, "load_stages", lambda config: fake_models())
    out = tmp_path / "out" / "report.json"
    code = cli.main(
        [
            "eval",
            "--labels",
            str(labelled),
            "--json",
            str(out),
            "--watts-per-core",
            "0.88",
            "--band",
            "1",
            "-1",
            "0.5",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "cascade" in text and "broken.png" in text and "2 unreadable" in text
    report = json.loads(out.read_text())
    assert report["unreadable"] == 2 and report["images"] == 10
    row = next(r for r in report["rows"] if r["name"] == "cascade")
    # stage 1 now confirms the animals (0.83 >= 0.5); only the smudge goes on
    assert row["recall"] == 1.0 and row["fraction_reaching"]["2"] == pytest.approx(0.1)
    assert report["config"]["stage1_c_high"] == 0.5
    assert cli.main(["eval", "--labels", str(labelled), "--band", "4", "0", "1"]) == 2


def test_cli_eval_refuses_missing_labels(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main(["eval", "--images", str(tmp_path)]) == 2
    assert cli.main(["eval", "--labels", str(tmp_path / "none.csv")]) == 2
    assert "cannot read labels" in capsys.readouterr().err


def test_eval_on_real_labelled_photos(shared_data: Path) -> None:
    traps = shared_data / "camera_traps"
    items = load_coco(traps / "ena24" / "coco_annotations.json")
    assert len(items) == 21 and all(i.animal and i.boxes for i in items)
    items += [LabelledImage(p, True) for p in sorted((traps / "misc").iterdir())]
    report = evaluate(items, {1: FakeModel("t", 1, lambda _i, _b: 0.9)})
    assert report.images == 26 and not report.unreadable  # the WebP decodes too
    # every photo was decided (the fake is sure of an animal everywhere) and reported in the
    # batch output under its own path, failure-free
    assert report.row("cascade").tp == 26 and report.row("cascade").fn == 0
    assert [m.file for m in report.per_image] == [str(i.path) for i in items]
    assert not any(m.failure for m in report.per_image)


def test_a_model_failing_on_one_image_is_counted_not_fatal(labelled: Path) -> None:
    def score(image: np.ndarray, region: Box) -> float:
        if image[6, 6, 2] > 150:  # the smudged frame
            raise ModelError("inference failed")
        return redness(image, region)

    report = evaluate(load_csv(labelled), {1: FakeModel("t", 1, score)})
    assert report.images == 9 and len(report.unreadable) == 3
    assert any("e0.png (inference failed)" in u for u in report.unreadable)


def test_cli_eval_with_the_shipped_models(shared_data: Path, tmp_path: Path) -> None:
    from wildcam.cascade.manifest import default_manifest_path

    if not default_manifest_path().is_file():
        pytest.skip("no models/manifest.json (make models)")
    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "empty.png"), scene(False))
    (folder / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    traps = shared_data / "camera_traps"
    rows = [
        "path,animal",
        "imgs/empty.png,0",
        "imgs/bad.jpg,1",
        *(f"{p},1" for p in sorted((traps / "misc").iterdir())),
    ]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "report.json"
    assert cli.main(["eval", "--labels", str(tmp_path / "labels.csv"), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["images"] == 6 and report["unreadable"] == 1
    assert report["models"] == {"1": "tiny_int8", "2": "coarse_int8", "3": "large_int8"}
    cascade = next(r for r in report["rows"] if r["name"] == "cascade")
    assert cascade["images"] == 6 and cascade["energy_mj"] > 0 and cascade["latency_ms"] > 0
    assert cascade["fraction_reaching"]["1"] == 1.0


def test_eval_uses_a_students_night_band_on_grey_images(tmp_path: Path) -> None:
    grey, colour = tmp_path / "grey.png", tmp_path / "colour.png"
    cv2.imwrite(str(grey), np.full((60, 80, 3), 70, np.uint8))
    day = np.dstack([np.full((60, 80), v, np.uint8) for v in (0, 70, 200)])
    day[:, 40:] = day[:, 40:, ::-1]  # an orange half and a blue one: a day frame's colours vary
    cv2.imwrite(str(colour), day)
    student = FakeModel("tiny", 1, lambda _img, _box: 0.5, 0.2, 0.8, c_high_night=0.4)
    large = FakeModel("large", 3, lambda _img, _box: 0.1, 0.3, 0.3)
    items = [LabelledImage(grey, True), LabelledImage(colour, True)]
    report = evaluate(items, {1: student, 3: large}, CascadeConfig())
    cascade = report.row("cascade")
    # the grey image is decided at stage 1 (animal), the colour one by stage 3 (missed)
    assert (cascade.tp, cascade.fn) == (1, 1)
    assert cascade.fraction_reaching(3) == 0.5


def test_eval_lends_the_people_and_vehicles_check_to_the_students(tmp_path: Path) -> None:
    walker, deer, fox = tmp_path / "walker.png", tmp_path / "deer.png", tmp_path / "fox.png"
    for path, grey in ((walker, 200), (deer, 20), (fox, 120)):
        cv2.imwrite(str(path), np.full((60, 80, 3), grey, np.uint8))
    looked: list[int] = []

    def look(image: Image, region: Box) -> list[LabelledBox]:
        looked.append(1)
        bright = image.mean() > 150  # the walker's frame: a person fills it
        return [LabelledBox(Box(0, 0, 80, 60), 0.9, "person")] if bright else []

    def unsure_of_the_fox(image: Image, _box: Box) -> float:
        return 0.5 if 100 < image.mean() < 150 else 0.95

    student = FakeModel("tiny", 1, unsure_of_the_fox, 0.2, 0.8)
    stage3 = FakeModel("large", 3, lambda image, _b: 0.9 if 100 < image.mean() < 150 else 0.1)
    large = PeopleVehicles(stage3, lambda image: [], 0.5, look=look)
    items = [LabelledImage(walker, False), LabelledImage(deer, True), LabelledImage(fox, True)]
    report = evaluate(items, {1: student, 3: large}, CascadeConfig())
    row = report.row("cascade")
    assert (row.tp, row.fp, row.tn, row.fn) == (2, 0, 1, 0)
    assert row.fraction_reaching(3) == pytest.approx(1 / 3)  # the fox, decided by stage 3
    alone = report.row("stage1 alone")  # the fox is unsure: the decision threshold says animal
    assert (alone.tp, alone.fp, alone.tn, alone.fn) == (2, 0, 1, 0)
    # the students' animals are looked at once per image however many rows ask; the fox, an
    # animal of stage 3 (checked by its own wrapper), is not looked at again
    assert len(looked) == 3
