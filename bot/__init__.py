"""coursebot: a channel-neutral course assistant. `import bot` stays light: no boto3, slack or onnxruntime."""

import os

# Requests are served by many threads at once and each matrix product here is small: a multi-threaded
# OpenBLAS called from several threads at the same time spins or hangs on two cores, so numpy's BLAS
# runs one thread per call (set before numpy is first imported; an operator's own setting wins).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
