"""Sphinx configuration of the vascular_sklearn documentation.

Build with ``make docs`` (``sphinx-build -W --keep-going -b html docs
docs/_build/html``): warnings are errors, and the gallery runs every script in
``examples/``, so an example that fails fails the build.
"""

import os
import re
import sys
from pathlib import Path

import vascular_sklearn

HERE = Path(__file__).resolve().parent
# the gallery's ordering key lives beside this file
sys.path.insert(0, str(HERE))
os.environ.setdefault("MPLBACKEND", "Agg")
# The gallery runs in this process and in the command-line example's
# subprocesses (which inherit the environment). One OpenMP thread per process
# keeps the unseeded numerical work fast on a busy machine: a thread per core
# spin-waits when other jobs share the cores (one example fit measured 3 s with
# one thread, 61 s with two, on a loaded 2-core CI machine). A seeded network
# (every example's) still trains on min(8, cores) threads, which
# ResNetClassifier pins so that a seed gives one model everywhere. Set before
# anything imports torch; an OMP_NUM_THREADS already in the environment wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

project = "vascular_sklearn"
author = "vascular_sklearn developers"
copyright = "2026, vascular_sklearn developers"
release = vascular_sklearn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    # the benchmark sections are assembled into benchmarks.md, which the site shows
    "benchmarks/*.md",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "**/*.zip",
    "**/*.md5",
]

# -- API reference -----------------------------------------------------------
autosummary_generate = True
# numpydoc's Parameters sections carry the types; signatures stay readable
autodoc_typehints = "none"
autodoc_member_order = "groupwise"
# a method without a docstring of its own is left out rather than shown with the
# text of the torch or scikit-learn method it overrides
autodoc_inherit_docstrings = False
# class pages list methods through autodoc; numpydoc's own member tables would
# list them a second time (and as autosummary stubs that are never generated)
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# unresolved cross-references (to numpy, scipy, torch...) are not errors
nitpicky = False


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document a class's own and inherited members, but only this package's.

    Class pages list inherited members too (``transform`` of the signal steps
    comes from their shared private base), but not those that scikit-learn
    (``get_params``, ``set_output``, the generated ``set_<method>_request``
    methods of metadata routing...) or torch (``nn.Module``) define: those are
    documented there, and their docstrings point into their own sites.
    """
    if what not in ("class", "exception"):
        return None
    if re.fullmatch(r"set_\w+_request", name):
        return True
    target = getattr(obj, "fget", obj)  # a property's getter
    target = getattr(target, "__func__", target)  # a classmethod's function
    module = getattr(target, "__module__", None) or ""
    if module and not module.startswith("vascular_sklearn"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)


# -- MyST (Markdown pages, and the generated benchmarks.md) -------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- Gallery -------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "gallery_order.ByReadingOrder",
    # an example that raises fails the build
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "plot_gallery": "True",
    "remove_config_comments": True,
    "doc_module": ("vascular_sklearn",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"vascular_sklearn": None},
    "show_memory": False,
    "matplotlib_animations": False,
}

# -- HTML ------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"vascular_sklearn {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
