# Entry points, each installing what it needs into .venv:
#   make book     execute every chapter fresh and build the HTML book (strict: fails on any warning or cell error)
#   make test     every check CI runs: lint, unit tests, stored-output policy, rendered book in Chromium, nbval
#   make outputs  re-execute the chapters in place to refresh their stored outputs (commit the result)
#   make test-oldest  the unit tests on the oldest PyTorch the library supports (torch 2.11 / torchvision 0.26, what
#                 the GPU machines carry), in .venv/oldest; part of make test
VENV ?= .venv
BIN := $(VENV)/bin
OLDEST := $(VENV)/oldest
OLDEST_TORCH := torch==2.11.0
OLDEST_TORCHVISION := torchvision==0.26.0
# Matplotlib's font cache and settings live with the environment: a cache shared through ~/.cache lists the font
# files of whichever environment built it, and a user's matplotlibrc would change the chapters' figures.
export MPLCONFIGDIR := $(abspath $(VENV))/matplotlib

.PHONY: book test test-oldest outputs

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
	$(MAKE) test-oldest

# The same pins with PyTorch swapped for the oldest supported release. The book (-m "not book") and the chapters'
# stored outputs are checked on the pinned versions only.
$(OLDEST)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	sed -e 's/^torch==.*/$(OLDEST_TORCH)/' -e 's/^torchvision==.*/$(OLDEST_TORCHVISION)/' requirements.txt \
		> $(OLDEST)/requirements.txt
	$(OLDEST)/bin/python -m pip install --quiet -r $(OLDEST)/requirements.txt -e .
	touch $@

test-oldest: $(OLDEST)/.installed
	$(OLDEST)/bin/python -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)'
	$(OLDEST)/bin/python -m pytest -m "not book" -p no:cacheprovider
