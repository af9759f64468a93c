"""Missing, damaged and foreign bags raise BagError naming the file; the CLI exits 2 (no ROS)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rosbags.rosbag2 import Writer
from rosbags.typesys import Stores, get_typestore

from wildcam.bags import info, typestore
from wildcam.bags.__main__ import main
from wildcam.bags.generate import GenerateResult
from wildcam.bags.play import play
from wildcam.bags.record import record
from wildcam.bags.storage import BAG_VERSION, STORAGES
from wildcam.bags.typestore import ensure_type
from wildcam.errors import BagError, ConfigError


def _storage_file(bag: Path) -> Path:
    (path,) = [p for p in bag.iterdir() if p.suffix in (".db3", ".mcap")]
    return path


@pytest.fixture
def copy(generated: GenerateResult, tmp_path: Path) -> Path:
    """A private copy of a generated bag (sqlite3 and mcap), free to damage."""
    target = tmp_path / "bag"
    shutil.copytree(generated.path, target)
    return target


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(BagError, match=f"not found: {tmp_path / 'nope'}"):
        info(tmp_path / "nope")
    with pytest.raises(BagError, match="not found"):
        play(tmp_path / "nope")


def test_directory_without_metadata(tmp_path: Path) -> None:
    with pytest.raises(BagError, match=r"no metadata\.yaml"):
        info(tmp_path)


@pytest.mark.parametrize("keep", [0.97, 0.5, 0.05])
def test_truncated_storage(copy: Path, keep: float) -> None:
    storage = _storage_file(copy)
    with storage.open("r+b") as handle:
        handle.truncate(int(storage.stat().st_size * keep))
    with pytest.raises(BagError, match=storage.name):
        info(copy)
    with pytest.raises(BagError, match=storage.name):
        play(copy)


def test_overwritten_storage(copy: Path) -> None:
    """Garbage over the middle of a .db3, or over the first chunk's framing of an .mcap."""
    storage = _storage_file(copy)
    offset = storage.stat().st_size // 2 if storage.suffix == ".db3" else 64
    with storage.open("r+b") as handle:
        handle.seek(offset)
        handle.write(b"\xa5" * 8192)
    with pytest.raises(BagError, match=storage.name):
        info(copy)


@pytest.mark.parametrize(
    "text",
    [
        "::: [not yaml",
        "just: a mapping\n",
        "rosbag2_bagfile_information: {version: 9}\n",
        "rosbag2_bagfile_information: 17\n",
        "\xff\xfe binary",
    ],
)
def test_garbage_metadata(copy: Path, text: str) -> None:
    (copy / "metadata.yaml").write_text(text, encoding="latin-1")
    with pytest.raises(BagError, match="metadata"):
        info(copy)


def test_metadata_naming_a_missing_storage_file(copy: Path) -> None:
    _storage_file(copy).unlink()
    with pytest.raises(BagError, match="missing"):
        info(copy)


def test_metadata_promising_more_messages_than_stored(copy: Path) -> None:
    meta = copy / "metadata.yaml"
    meta.write_text(meta.read_text().replace("message_count: 50", "message_count: 51"))
    with pytest.raises(BagError, match="truncated or inconsistent"):
        info(copy)
    assert info(copy, verify=False).message_count > 0


def _foreign_bag(path: Path) -> Path:
    with Writer(path, version=9) as writer:
        conn = writer.add_connection(
            "/thing", "nope_msgs/msg/Thing", msgdef="int32 x\n", rihs01="RIHS01_" + "0" * 64
        )
        writer.write(conn, 1, b"\x00\x01\x00\x00\x05\x00\x00\x00")
    return path


def test_unknown_message_type(tmp_path: Path) -> None:
    bag = _foreign_bag(tmp_path / "foreign")
    assert info(bag).topic("/thing").msgtype == "nope_msgs/msg/Thing"  # info needs no types
    with pytest.raises(BagError, match="nope_msgs/msg/Thing"):
        play(bag)
    with pytest.raises(BagError, match="nope_msgs/msg/Thing"):
        ensure_type("nope_msgs/msg/Thing")
    assert ensure_type("wildcam/msg/MotionEvent") is typestore()


def test_types_missing_from_the_store_load_from_installed_msg_files() -> None:
    empty = get_typestore(Stores.EMPTY)
    ensure_type("sensor_msgs/msg/CameraInfo", empty)
    assert {
        "sensor_msgs/msg/RegionOfInterest",
        "std_msgs/msg/Header",
        "builtin_interfaces/msg/Time",
    } <= set(empty.fielddefs)  # dependencies too
    kilted = get_typestore(Stores.ROS2_KILTED)
    assert empty.hash_rihs01("sensor_msgs/msg/CameraInfo") == kilted.hash_rihs01(
        "sensor_msgs/msg/CameraInfo"
    )


def test_play_rejects_unknown_topics_and_bad_settings(generated: GenerateResult) -> None:
    with pytest.raises(BagError, match="/not/there"):
        play(generated.path, topics=["/not/there"])
    with pytest.raises(ConfigError, match="rate"):
        play(generated.path, rate=0.0)


def test_ros_tools_refuse_wide_discovery(
    generated: GenerateResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET")
    with pytest.raises(ConfigError, match="ROS_AUTOMATIC_DISCOVERY_RANGE"):
        play(generated.path)
    with pytest.raises(ConfigError, match="ROS_AUTOMATIC_DISCOVERY_RANGE"):
        record(tmp_path / "rec", ["/x"], duration_s=1.0)
    assert not (tmp_path / "rec").exists()


def test_record_refuses_an_existing_output(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="exists"):
        record(tmp_path, ["/x"], duration_s=1.0)


def test_cli_reports_bag_errors_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "wildcam bag info:" in err and str(tmp_path / "nope") in err


def test_cli_generate_and_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli_bag"
    assert (
        main(
            [
                "generate",
                "-o",
                str(out),
                "--preset",
                "empty",
                "--duration",
                "1",
                "--width",
                "64",
                "--height",
                "48",
                "--fps",
                "5",
                "--storage",
                "mcap",
                "--full-frames",
            ]
        )
        == 0
    )
    assert (out / "ground_truth.json").is_file()
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "mcap" in text and "/camera/image_raw" in text
    assert info(out).counts() == {
        "/camera/camera_info": 5,
        "/camera/image_raw": 5,
        "/camera/small/camera_info": 5,
        "/camera/small/image_raw": 5,
    }
    assert main(["generate", "-o", str(out)]) == 2  # exists already


def test_cli_record_needs_topics_or_all(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record"]) == 2
    assert "--all" in capsys.readouterr().err


def test_flipped_bytes_inside_message_data_fail_info_check_and_play(copy: Path) -> None:
    """A bit flip in the middle of the storage (image data) is caught: MCAP by the chunk CRCs
    the generator adds, sqlite3 (no checksums) by decoding every row when the row is broken."""
    storage = _storage_file(copy)
    assert info(copy, check=True).message_count > 0  # sound before
    if storage.suffix == ".mcap":
        data = bytearray(storage.read_bytes())
        data[len(data) // 2] ^= 0x01
        storage.write_bytes(bytes(data))
    else:
        import sqlite3

        db = sqlite3.connect(storage)
        db.execute("UPDATE messages SET data = X'0001' WHERE id = 3")
        db.commit()
        db.close()
    with pytest.raises(BagError, match=storage.name):
        info(copy, check=True)
    if storage.suffix == ".mcap":
        with pytest.raises(BagError, match="checksum mismatch"):
            play(copy)


def test_an_mcap_without_crcs_cannot_pass_the_check(tmp_path: Path) -> None:
    store = get_typestore(Stores.ROS2_KILTED)
    with Writer(tmp_path / "bag", version=BAG_VERSION, storage_plugin=STORAGES["mcap"]) as writer:
        conn = writer.add_connection("/x", "std_msgs/msg/String", typestore=store)
        writer.write(
            conn,
            1,
            store.serialize_cdr(
                store.types["std_msgs/msg/String"](data="a"), "std_msgs/msg/String"
            ),
        )
    info(tmp_path / "bag")  # readable
    with pytest.raises(BagError, match="without a CRC"):
        info(tmp_path / "bag", check=True)
