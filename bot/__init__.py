"""coursebot: a channel-neutral course assistant. `import bot` stays light: no boto3, slack or onnxruntime."""

__version__ = "0.1.0"
