"""Sphinx configuration for the async_amqp documentation.

Built in CI with ``python -m sphinx -W -q -b html docs docs/_build/html``:
warnings are errors. Nothing here needs the network (no intersphinx).
"""

from __future__ import annotations

import async_amqp

project = "async_amqp"
author = "the async_amqp authors"
copyright = "the async_amqp authors"
release = async_amqp.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

# Reference entries come from the docstrings, which use :param:/:raises: field lists.
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"undoc-members": False}

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

default_role = "py:obj"
highlight_language = "python3"
pygments_style = "sphinx"

html_theme = "alabaster"
html_title = f"async_amqp {release}"
html_static_path: list[str] = []
