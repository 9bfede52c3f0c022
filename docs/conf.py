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

# -- cross-references -------------------------------------------------------------------
# ``sphinx -n`` (nitpicky) must resolve every name of this project. Names of the standard
# library and of dependencies stay plain text: there is no intersphinx (no network).
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(collections|contextlib|typing|ssl|pathlib|datetime|enum|socket)(\..+)?"),
    (r"py:.*", r"(anyio|pamqp|trio|pytest|trustme)(\..+)?"),
    (r"py:class", r"AbstractContextManager|BlockingPortal|Self|Any"),
    # private helpers that appear in signatures (a context manager type, a TypeVar)
    (r"py:class", r"async_amqp(_testing)?(\.\w+)*\._[A-Za-z]\w*"),
    # connect_robust's internal parts, in the (hidden) constructors of its classes
    (r"py:class", r"Endpoints|Link|Topology"),
    # a channel's and a consumer's internal parts, in their (hidden) constructors
    (r"py:class", r"ChannelPort|ConsumerTable"),
]

#: Private modules whose classes are exported, and documented, by a public package.
_PUBLIC_HOMES = {
    "async_amqp._": "async_amqp",
    "async_amqp_testing._": "async_amqp_testing",
}


def _public_reference(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """Resolve ``async_amqp._results.X`` as ``async_amqp.X`` (where it is documented)."""
    target = node.get("reftarget", "")
    for prefix, package in _PUBLIC_HOMES.items():
        if target.startswith(prefix):
            public = f"{package}.{target.rsplit('.', 1)[-1]}"
            domain = env.get_domain("py")
            return domain.resolve_xref(
                env, node.get("refdoc"), app.builder, node["reftype"], public, node, contnode
            )
    return None


def setup(app):  # type: ignore[no-untyped-def]
    """Register the resolver of private module paths."""
    app.connect("missing-reference", _public_reference)
