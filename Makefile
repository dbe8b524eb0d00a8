# The project's commands. Each sets up .venv first when something is missing (tools/setup-env): `make train`
# only the library and what training needs, the others the dev, docs and spark extras as well (see pyproject.toml):
# building the docs runs every notebook's import cells (nbdev does), so it needs what the notebooks import.
PY := .venv/bin/python
.PHONY: train test test-slow docs browser-check bench bench-quick readme sync lab env env-train env-docs dist release

env:
	@tools/setup-env dev,docs,spark

env-train:
	@tools/setup-env

env-docs:
	@tools/setup-env docs

train: env-train
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
	$(PY) tools/docs.py --refresh
	.venv/bin/nbdev-export
	.venv/bin/nbdev-clean
	$(PY) tools/readme.py

readme: env-docs
	$(PY) tools/readme.py

lab: env
	.venv/bin/jupyter lab nbs

# the offline docs preview, then every page of it opened in headless Chromium (also part of `make test`)
browser-check: env docs
	$(PY) tools/browser_check.py

# collab_learner against the fast path, and the scaling curve: writes bench/ (about 5 minutes on 2 cores)
bench: env-train
	$(PY) tools/bench.py

# the seconds-long version run by `make test`: asserts the fast path's MSE, not its speed
bench-quick: env-train
	$(PY) tools/bench.py --quick

# the sdist and wheel in dist/, checked by twine (what `make release` uploads)
dist: env
	rm -rf dist
	$(PY) -m build --outdir dist
	$(PY) -m twine check --strict dist/*

# publish to PyPI: needs credentials (TWINE_USERNAME=__token__ and TWINE_PASSWORD=<a PyPI API token>, or ~/.pypirc)
release: dist
	$(PY) -m twine upload dist/*
