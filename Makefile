# The two commands a newcomer needs: `make local` (run the platform) and `make test` (the whole gate).
# Both bootstrap .venv first.
VENV := .venv/bin

.PHONY: bootstrap local test lint types unit integration e2e bench package simulate clean

bootstrap:
	@scripts/bootstrap

local: bootstrap
	$(VENV)/voltway local

simulate: bootstrap
	$(VENV)/voltway simulate

test: bootstrap
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/pytest

bench: bootstrap
	$(VENV)/python -m bench

package: bootstrap
	$(VENV)/voltway package

clean:
	rm -rf .venv build .aws-sam .mypy_cache .ruff_cache .pytest_cache
