"""The people-and-vehicles build's pure parts (wildcam.training.objects): the threshold rule,
a frame's veto score and the MAC count."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from wildcam.cascade.base import LabelledBox, RegionResult, ScoredBox
from wildcam.training.objects import MIN_SCORE, choose_threshold, count_macs, frame_veto
from wildcam.types import Box


def test_the_threshold_takes_at_most_three_percent_of_the_animal_frames() -> None:
    vetoes = [0.61, 0.46, 0.3] + [0.0] * 36  # 39 frames: one may be taken
    threshold = choose_threshold(vetoes)
    assert threshold == pytest.approx(0.4601)
    assert sum(v >= threshold for v in vetoes) == 1
    assert choose_threshold([0.7, 0.5] + [0.0] * 8) == pytest.approx(0.7001)  # none of 10
    assert choose_threshold([0.0] * 40) == MIN_SCORE  # never below the decoding floor


def test_a_frame_is_vetoed_at_the_weakest_match_of_its_animal_boxes() -> None:
    a, b = ScoredBox(Box(0, 0, 40, 40), 0.9), ScoredBox(Box(100, 0, 40, 40), 0.8)
    faint = ScoredBox(Box(200, 0, 40, 40), 0.01)  # below the large model's threshold
    on_a = LabelledBox(Box(2, 2, 38, 38), 0.7, "person")
    on_b = LabelledBox(Box(100, 2, 40, 38), 0.5, "vehicle")
    result = RegionResult(Box(0, 0, 300, 100), 0.9, (a, b, faint))
    assert frame_veto(result, 0.1, [on_a, on_b]) == 0.5
    assert frame_veto(result, 0.1, [on_a]) == 0.0  # b matches nothing: never vetoed
    assert frame_veto(RegionResult(Box(0, 0, 300, 100), 0.01, (faint,)), 0.1, [on_a]) == 0.0


def test_a_box_around_a_group_is_vetoed_at_the_weaker_of_its_two_best_members() -> None:
    road = ScoredBox(Box(0, 0, 300, 100), 0.6)  # one box around the whole scene
    cars = [LabelledBox(Box(x, 10, 30, 20), s, "vehicle") for x, s in ((10, 0.7), (90, 0.4))]
    beside = LabelledBox(Box(290, 90, 40, 40), 0.9, "vehicle")  # its centre is outside the box
    result = RegionResult(Box(0, 0, 300, 100), 0.6, (road,))
    assert frame_veto(result, 0.1, [*cars, beside]) == 0.4  # both cars from 0.4
    assert frame_veto(result, 0.1, [cars[0], beside]) == 0.0  # one car is no group
    assert frame_veto(result, 0.1, [*cars, LabelledBox(Box(0, 0, 300, 100), 0.3, "car")]) == 0.4


def test_macs_count_every_output_of_every_convolution() -> None:
    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])],
        "one_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    assert count_macs(model) == 4 * 8 * 8 * 3 * 3 * 3
