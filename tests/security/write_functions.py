"""Find the domain functions that write or check roles, by reading annotation/'s source (no list kept by hand)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from types import FunctionType, ModuleType

import annotation

ROLE_CHECKS = ("require", "_require")  # `require(...)` and the modules' own `_require_*` helpers


def modules() -> Iterator[ModuleType]:
    for info in pkgutil.walk_packages(annotation.__path__, prefix="annotation."):
        yield importlib.import_module(info.name)


def _tree(fn: FunctionType) -> ast.FunctionDef | None:
    try:
        source = inspect.getsource(inspect.unwrap(fn))
    except (OSError, TypeError):
        return None
    node = ast.parse(inspect.cleandoc("\n" + source) if source.startswith((" ", "\t")) else source).body[0]
    return node if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None


def _called_names(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            if isinstance(call.func, ast.Name):
                names.add(call.func.id)
            elif isinstance(call.func, ast.Attribute):
                names.add(call.func.attr)
    return names


def _own(fn: object) -> bool:
    return isinstance(fn, FunctionType) and inspect.unwrap(fn).__module__.startswith("annotation.")


def writes(fn: FunctionType) -> bool:
    """A unit of work of its own: decorated with `unit_of_work`, or opening `write_transaction`."""
    node = _tree(fn)
    if node is None:
        return False
    decorators = {ast.unparse(d) for d in node.decorator_list}
    return "unit_of_work" in decorators or "write_transaction" in _called_names(node)


@cache
def _checks_role(fn: FunctionType, depth: int = 3) -> bool:
    node = _tree(fn)
    if node is None:
        return False
    called = _called_names(node)
    if any(name == ROLE_CHECKS[0] or name.startswith(ROLE_CHECKS[1]) for name in called):
        return True
    if depth == 0:
        return False
    namespace = inspect.unwrap(fn).__globals__
    return any(_checks_role(namespace[name], depth - 1) for name in called
               if _own(namespace.get(name)) and namespace[name] is not fn)


def checks_role(fn: FunctionType) -> bool:
    """Calls a role check itself, or through a function of annotation/ that it calls (three calls deep)."""
    return _checks_role(fn)


def checks_role_itself(fn: FunctionType) -> bool:
    node = _tree(fn)
    return node is not None and any(n == ROLE_CHECKS[0] or n.startswith(ROLE_CHECKS[1]) for n in _called_names(node))


def public_functions() -> dict[str, Callable]:
    """`module:name` -> function, for every public function defined in a module of annotation/."""
    found = {}
    for module in modules():
        for name, value in vars(module).items():
            if name.startswith("_") or not isinstance(value, FunctionType):
                continue
            if inspect.unwrap(value).__module__ != module.__name__:
                continue  # imported from elsewhere: listed under its own module
            found[f"{module.__name__}:{name}"] = value
    return found


def guarded_functions() -> dict[str, Callable]:
    """The functions the role table must cover: every public write (its own unit of work) and every public
    function that checks a role itself (writes that run inside a job's unit of work, file writers, reads)."""
    return {key: fn for key, fn in public_functions().items() if writes(fn) or checks_role_itself(fn)}


ROOT = Path(__file__).resolve().parents[2]
