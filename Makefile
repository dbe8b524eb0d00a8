# The project's commands. Each sets up .venv first when something is missing (tools/setup-env).
PY := .venv/bin/python
.PHONY: train test test-slow docs browser-check bench bench-quick readme sync lab env

env:
	@tools/setup-env

train: env
	.venv/bin/collab-book-quickstart

test: env
	$(PY) tools/check.py

test-slow: env
	$(PY) tools/check.py --flags slow

docs: env
	$(PY) tools/docs.py

# after editing notebooks: regenerate the library, clean the notebooks, rebuild the README
sync: env
	$(PY) tools/colab.py
	.venv/bin/nbdev-export
	.venv/bin/nbdev-clean
	$(PY) tools/readme.py

readme: env
	$(PY) tools/readme.py

lab: env
	.venv/bin/jupyter lab nbs

# the offline docs preview, then every page of it opened in headless Chromium (also part of `make test`)
browser-check: docs
	$(PY) tools/browser_check.py

# collab_learner against the fast path, and the scaling curve: writes bench/ (about 5 minutes on 2 cores)
bench: env
	$(PY) tools/bench.py

# the seconds-long version run by `make test`: asserts the fast path's MSE, not its speed
bench-quick: env
	$(PY) tools/bench.py --quick
