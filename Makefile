# Two entry points: `make book` builds the book, `make test` runs every check CI runs. Both install into .venv.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: book test

$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $@

book: $(VENV)/.installed
	$(BIN)/jupyter-book build --all -W -n .

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest
