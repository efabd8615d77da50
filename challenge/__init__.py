"""The Job Queue Challenge: prompts, suites, extraction, scoring rules and canned answers.

Pure: no network, no Celery, no Docker. This file imports nothing on purpose, because the
in-container runner (`challenge/runner/`) may be imported where only the standard library
exists; import the submodules you need (e.g. `from challenge.bundle import build_bundle`).
"""
