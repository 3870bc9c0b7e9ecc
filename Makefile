# Two commands for a newcomer: `make run` and `make test`. Everything else is a step they call.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.11 for knowledge/, feedback_api/ and the tests; Python 3.10 for Rasa (bot/, actions/).
PY311 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.11*/bin/python3.11) $(shell command -v python3.11))
PY310 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10) $(shell command -v python3.10))
VENV := .venv
RASA_VENV := .venv-rasa
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check
MODEL := models/multilingual-e5-small
INDEX := models/index
HOST ?= 127.0.0.1
PORT ?= 8000
# What `make index` passes to `python -m knowledge build`, e.g. to index only the province's own
# documents: make run INDEX_ARGS="--no-default-corpus --docs THƯ_MỤC"
INDEX_ARGS ?=

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help laws install run test lint index model bench clean browser rasa-model

help:
	@echo "make run   - cài những gì còn thiếu, xây chỉ mục và huấn luyện trợ lý nếu cần, chạy toàn bộ sản phẩm (trò chuyện: http://$(HOST):$(PORT)/chat)"
	@echo "make test  - cài những gì còn thiếu và chạy toàn bộ kiểm thử (ruff + pytest)"
	@echo "make bench - chạy các phép đo trong benchmarks/"

$(VENV)/.installed: requirements/py311.lock
	@test -n "$(PY311)" || { echo "Cần Python 3.11 (python3.11)"; exit 1; }
	@echo "==> Cài môi trường Python 3.11 ($(VENV))"
	test -x $(PY) || $(PY311) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) torch==2.13.0
	$(PY) -m pip install $(PIP_QUIET) -r requirements/py311.lock
	touch $@

$(RASA_VENV)/.installed: requirements/rasa.lock
	@test -n "$(PY310)" || { echo "Cần Python 3.10 (python3.10) cho Rasa 3.6"; exit 1; }
	@echo "==> Cài môi trường Rasa trên Python 3.10 ($(RASA_VENV))"
	test -x $(RASA_VENV)/bin/python || $(PY310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install $(PIP_QUIET) -r requirements/rasa.lock
	$(RASA_VENV)/bin/rasa --version > /dev/null
	touch $@

install: $(VENV)/.installed $(RASA_VENV)/.installed

# The default laws are third-party data beside the clone (knowledge/sources.py): if they are
# missing, say so before installing anything.
laws:
	@test -n "$(PY311)" || { echo "Cần Python 3.11 (python3.11)"; exit 1; }
	@$(PY311) -m knowledge.sources $(INDEX_ARGS)

model: $(VENV)/.installed
	$(PY) -m knowledge model

index: model
	$(PY) -m knowledge build $(INDEX_ARGS)

# Trains the Rasa model only when bot/ changed (models/rasa/caunoi-<fingerprint>.tar.gz), then
# starts the API (+ worker), the action server and Rasa; the chat page is at /chat.
run: laws install index
	$(PY) -m scripts.stack run --host $(HOST) --port $(PORT)

rasa-model: laws install index
	$(PY) -m scripts.stack train

# actions/ and bot/addons/ run on Python 3.10 (pyproject.toml excludes them from the 3.11 pass).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff check --target-version py310 actions bot/addons vietnamese

# Browser tests drive Debian's Chromium (never a downloaded browser); install it if missing.
browser:
	@test -x /usr/bin/chromium || { echo "==> Cài Chromium (Debian) cho kiểm thử trình duyệt"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	  || echo "Không cài được Chromium: các kiểm thử trình duyệt sẽ báo lỗi"; }

test: laws install index lint browser
	$(PY) -m pytest -q

bench: index
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(RASA_VENV) $(MODEL) $(INDEX) models/rasa bot/.rasa
