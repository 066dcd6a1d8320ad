# One command each: make run (app on the demo city), make test, make check, make bench.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt constraints.txt | sha1sum | cut -c1-12)
DEMO   := data/demo.duckdb
PORT   ?= 8501

.PHONY: setup run demo test check format bench clean

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	rm -f $(VENV)/.installed-* && touch $@

# The demo city is built once (a few seconds) and reused; `make demo` rebuilds it.
$(DEMO): | $(STAMP)
	$(BIN)/python -m analytics demo --db $(DEMO)

demo: $(STAMP)
	rm -f $(DEMO) && $(BIN)/python -m analytics demo --db $(DEMO)

# KAOHE_DB=data/kaohe.duckdb make run  serves your own imported store instead of the demo.
run: $(STAMP) $(if $(KAOHE_DB),,$(DEMO))
	KAOHE_DB=$(or $(KAOHE_DB),$(DEMO)) $(BIN)/streamlit run app.py --server.port $(PORT)

# Lint first: a merge that repeats a dict key or leaves an unused import fails here, not in review.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2

check: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m analytics bench

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
