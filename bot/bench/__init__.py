"""Benchmarks behind `coursebot bench`: one module per area, their data in ``data/``, their settings in ``settings``.

``core`` holds the registry (BENCHES), the row type, the table printer and the NLU, turn, summarize, speech
and Lex benches; ``kb``, ``vision``, ``slack`` and ``web`` hold one area each. Nothing here is imported by
the product at request time.
"""
