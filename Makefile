# Developer shortcuts. The test suite runs with `bash scripts/test`.

PYTHON ?= .venv/bin/python
SIZES ?= small,large

.PHONY: benchmark benchmark-page

# Time full and incremental refreshes per sample size; rewrites docs/benchmarks.md.
benchmark:
	$(PYTHON) -m benchmarks.run --sizes $(SIZES)

# Rewrite docs/benchmarks.md from benchmarks/results.json without running anything.
benchmark-page:
	$(PYTHON) -m benchmarks.run --page-only
