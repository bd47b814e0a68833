# Entry points, each installing what it needs into .venv:
#   make book     execute every chapter fresh and build the HTML book (strict: fails on any warning or cell error)
#   make test     every check CI runs: lint, unit tests, stored-output policy, rendered book in Chromium, nbval
#   make outputs  re-execute the chapters in place to refresh their stored outputs (commit the result)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: book test outputs

$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $@

book: $(VENV)/.installed
	$(BIN)/jupyter-book build --all -W -n .

outputs: $(VENV)/.installed
	$(BIN)/python tools/run_notebooks.py

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --nbval --nbval-current-env book/
