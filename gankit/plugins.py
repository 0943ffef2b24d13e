"""Plug-ins: your own modules that register names (architectures, data sets, losses, metrics,
penalties) with gankit, made known where the configs are read.

- `--plugin MODULE` (repeatable, on `gankit train/resume/eval/sample`) imports MODULE: you named
  it on the command line, as you may name an import path there.
- The entry points of the group `gankit.plugins` of the installed packages are loaded at the
  first look-up of a name, in every process (the command line and Python alike). An entry point
  names a module (importing it registers its names) or a function (called once, with no
  arguments). Installing a package is the trust you give its code.
- A run records the `--plugin` modules it was trained with (gankit.runinfo); `gankit
  resume/eval/sample` import a recorded one you did not name only with `--trust-code`, the rule
  for import paths in a run folder's config: a run folder must not run code by being opened.

The current directory is on the module search path, as with `python -m`, but after the installed
packages, so a file there never hides one: `--plugin mynets` finds ./mynets.py, and
`model.g_arch=mynets:build` works without setting PYTHONPATH.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterable
from importlib import metadata

from gankit.errors import GankitError

GROUP = "gankit.plugins"
#: What an unknown name's error adds: how a name registered in your own module gets here.
HINT = ("a name your own module registers reaches the command line with --plugin MODULE "
        f"(or an installed package's entry point in the group {GROUP}); in Python, import the "
        "module first")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")

#: The modules --plugin imported in this process, in order (recorded with a run).
LOADED: list[str] = []
_entry_points_loaded = False


def use_working_directory() -> None:
    """The current directory on the module search path, after the installed packages."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.append(here)


def load(modules: Iterable[str], option: str = "--plugin") -> list[str]:
    """Import each named module (its registrations run); a one-line GankitError when one cannot
    be found or fails while importing."""
    use_working_directory()
    done = []
    for name in modules:
        name = name.strip()
        if not _MODULE.match(name):
            raise GankitError(f"{option} {name!r} is not a module name: give a dotted module "
                              "name such as mynets or mypkg.nets (no .py, no path)")
        _import(name, option)
        if name not in LOADED:
            LOADED.append(name)
        done.append(name)
    return done


def _import(name: str, option: str) -> None:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and not name.startswith(e.name) and not e.name.startswith(name):
            raise GankitError(f"{option} {name}: importing it needs the module {e.name!r}, which "
                              "is not installed") from e
        raise GankitError(f"{option} {name}: no such module; give a module on the search path: "
                          f"{name.replace('.', '/')}.py (or a package) in the current directory "
                          f"({os.getcwd()}), or an installed package") from e
    except GankitError as e:
        raise GankitError(f"{option} {name}: {e}") from e
    except Exception as e:  # the user's module failed while running: its error, in one line
        raise GankitError(f"{option} {name} failed while importing: {type(e).__name__}: "
                          f"{' '.join(str(e).split())[:200]}") from e


def load_entry_points() -> None:
    """Load the `gankit.plugins` entry points of the installed packages (once per process)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for point in metadata.entry_points(group=GROUP):
        where = f"the {GROUP} entry point {point.name!r} ({point.value})"
        try:
            target = point.load()
            if callable(target) and not inspect.ismodule(target):
                target()
        except Exception as e:
            _entry_points_loaded = False  # tried again at the next look-up
            raise GankitError(f"{where} failed to load: {type(e).__name__}: "
                              f"{' '.join(str(e).split())[:200]}; fix or uninstall the package "
                              "that declares it") from e


def missing(modules: Iterable[str]) -> list[str]:
    """Those of `modules` not imported in this process."""
    return [m for m in modules if m not in sys.modules]
