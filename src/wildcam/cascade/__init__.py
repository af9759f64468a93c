"""Cascade detector logic: model interface, manifest, ONNX backends, stage runner, evaluation."""
