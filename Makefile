# make demo: the push_sim graph, headless, over real DDS.  make test: the test suite.
# Both create .venv with the pinned dependencies first (Python 3.10+ is all a fresh machine needs).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
EPISODES ?= 10

.PHONY: demo test bench clean

$(STAMP): requirements/*.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements/dev.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rpl-ros launch push_sim --episodes $(EPISODES)

test: $(STAMP)
	$(VENV)/bin/python -m pytest

clean:
	rm -rf $(VENV) build install log *.egg-info
