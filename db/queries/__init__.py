"""Keyword-only query functions, `session` first, one module per area.

Pages, the CLI and jobs share these; nothing else writes SQL.
"""
