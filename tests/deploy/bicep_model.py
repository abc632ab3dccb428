"""Read pycep-parser's JSON of the Bicep templates: resources by type, bodies through ``if`` and
``for`` wrappers, and the value of a name or setting for given parameters.

pycep keeps interpolated strings as text (``'${prefix}-server'``) and turns other expressions
into ``{"function": ...}`` / ``{"operator": ...}`` trees; a bare identifier and a string literal
are both plain strings, so a string that names a known symbol is read as that symbol.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "UNIQUE",
    "body",
    "decorator",
    "deployment",
    "evaluate",
    "module_scope",
    "one",
    "resources",
    "template_scope",
]

UNIQUE = "u" * 13  # uniqueString(): 13 lower-case base-32 characters (ARM template functions)
Template = dict[str, Any]


def body(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's or module's declared body, through any ``if`` or ``for`` wrapper."""
    config: dict[str, Any] = resource["config"]
    while "condition" in config or "loop_type" in config:
        config = config["config"]
    return config


def resources(template: Template, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(symbol, body) of every resource of ``kind`` the template creates (not ``existing``)."""
    for name, resource in template.get("resources", {}).items():
        if resource["type"] == kind and not resource["existing"]:
            yield name, body(resource)


def one(template: Template, kind: str) -> dict[str, Any]:
    [(_, found)] = list(resources(template, kind))
    return found


def decorator(spec: Mapping[str, Any], kind: str) -> Any:
    """A parameter's decorator argument (``maxLength``, ``minValue``, ...), or None."""
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), kind)  # as pycep names them
    for item in spec.get("decorators", []):
        if item["type"] == snake:
            return item["argument"]
    return None


def template_scope(template: Template, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter defaults with ``overrides`` on top, then the variables, evaluated in order."""
    scope: dict[str, Any] = {}
    for name, spec in template.get("parameters", {}).items():
        if name in overrides:
            scope[name] = overrides[name]
        elif spec.get("default") is not None:
            scope[name] = _try(spec["default"], scope)
    for name, spec in template.get("variables", {}).items():
        scope[name] = _try(spec["value"], scope)
    return scope


def module_scope(
    caller: Mapping[str, Any], module: Mapping[str, Any], called: Template
) -> dict[str, Any]:
    """The scope of a module's template as the caller (scope ``caller``) deploys it."""
    params = {name: _try(value, caller) for name, value in body(module)["params"].items()}
    return template_scope(called, {k: v for k, v in params.items() if v is not _UNKNOWN})


def deployment(
    templates: Mapping[str, Template], overrides: Mapping[str, Any]
) -> dict[str, tuple[Template, dict[str, Any]]]:
    """main.bicep with ``overrides`` for its parameters, and each module it deploys: module
    symbol (``"main"`` for main.bicep) -> (template, scope)."""
    main = templates["main.bicep"]
    scope = template_scope(main, overrides)
    result = {"main": (main, scope)}
    for name, module in main.get("modules", {}).items():
        called = templates[module["detail"]["path"]]
        result[name] = (called, module_scope(scope, module, called))
    return result


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown>"


_UNKNOWN: Any = _Unknown()  # a runtime value (a resource property, an output): not evaluated


def _try(value: Any, scope: Mapping[str, Any]) -> Any:
    try:
        return evaluate(value, scope)
    except (KeyError, ValueError, TypeError):
        return _UNKNOWN


def evaluate(value: Any, scope: Mapping[str, Any]) -> Any:
    """The value of a pycep expression; ValueError for what this reader does not model."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list):
        return [evaluate(item, scope) for item in value]
    if isinstance(value, str):
        if "${" in value:
            parts = re.split(r"\$\{([^}]*)\}", value)  # literal, expression, literal, ...
            return "".join(
                str(_expression(part, scope)) if odd else _unescape(part)
                for odd, part in zip(itertools.cycle([False, True]), parts, strict=False)
            )
        return _known(scope[value]) if value in scope else _unescape(value)
    if "function" in value:
        return _function(value["function"], scope)
    if "operator" in value:
        return _operator(value["operator"], scope)
    if "loop_type" in value:
        return _loop(value, scope)
    return {key: evaluate(item, scope) for key, item in value.items()}


def _unescape(literal: str) -> str:
    """Bicep string escapes, which pycep keeps: \\' \\\\ \\$ \\n."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), literal)


def _operator(operator: Mapping[str, Any], scope: Mapping[str, Any]) -> Any:
    kind, operands = operator["type"], operator["operands"]
    if kind == "conditional":
        chosen = "true_value" if evaluate(operands["condition"], scope) else "false_value"
        return evaluate(operands[chosen], scope)
    if kind == "add":
        return evaluate(operands["operand_1"], scope) + evaluate(operands["operand_2"], scope)
    if kind == "property_accessor":  # symbol.path: kept as a reference, "@symbol.path"
        return "@" + _dotted(operator)
    if kind == "index_accessor":
        base, index = operands["operand_1"], operands["operand_2"]
        if isinstance(base, str) and isinstance(index, str) and base not in scope:
            return f"{base}[{index}]"  # a resource loop's element: kept as a reference
        return evaluate(base, scope)[evaluate(index, scope)]
    raise ValueError(f"operator not modelled: {kind}")


def _dotted(operator: Mapping[str, Any]) -> str:
    operands = operator["operands"]
    right = operands["operand_2"]
    tail = _dotted(right["operator"]) if isinstance(right, dict) else str(right)
    return f"{operands['operand_1']}.{tail}"


def _loop(value: Mapping[str, Any], scope: Mapping[str, Any]) -> list[Any]:
    """``[for (item, i) in array: body]``, expanded."""
    loop = value["loop_type"]
    if loop["type"] not in {"array", "array_index"}:
        raise ValueError(f"loop not modelled: {loop['type']}")
    detail = loop["detail"]
    array = detail["array_name"]
    if isinstance(array, str) and array.startswith("{"):  # pycep keeps an expression's repr
        array = ast.literal_eval(array)
    items = evaluate(array, scope)
    if not isinstance(items, list):
        raise ValueError(f"not an array: {items!r}")
    expanded = []
    for index, item in enumerate(items):
        inner = {**scope, detail["item_name"]: item}
        if detail.get("index_name"):
            inner[detail["index_name"]] = index
        expanded.append(evaluate(value["config"], inner))
    return expanded


def _function(function: Mapping[str, Any], scope: Mapping[str, Any]) -> Any:
    kind, params = function["type"], function.get("parameters", {})
    if kind == "unique_string":  # its inputs (resource group ID, ...) are not modelled
        return UNIQUE
    args = [evaluate(v, scope) for v in params.values()]
    if kind == "split":
        parts = str(args[0]).split(str(args[1]))
        return parts[function["index"]] if "index" in function else parts
    if kind == "concat":
        return [item for arg in args for item in arg]
    if kind == "union":
        merged: list[Any] = []
        for arg in args:
            merged += [item for item in arg if item not in merged]
        return merged
    if kind == "to_lower":
        return str(args[0]).lower()
    if kind == "empty":
        return not args[0]
    if kind == "string":
        return str(args[0]).lower() if isinstance(args[0], bool) else str(args[0])
    raise ValueError(f"function not modelled: {kind}")


_TOKEN = re.compile(r"\s*(?:(\d+)|'([^']*)'|(\w+)|(.))")


def _expression(text: str, scope: Mapping[str, Any]) -> Any:
    """An interpolation's expression: identifiers, integers, 'strings', + and -, calls of
    toLower, take, string and uniqueString."""
    tokens = [m.groups() for m in _TOKEN.finditer(text) if m.group(0).strip()]
    value, rest = _sum(tokens, scope)
    if rest:
        raise ValueError(f"not modelled: {text!r}")
    return value


Tokens = list[tuple[str | None, ...]]


def _sum(tokens: Tokens, scope: Mapping[str, Any]) -> tuple[Any, Tokens]:
    value, tokens = _atom(tokens, scope)
    while tokens and tokens[0][3] in {"+", "-"}:
        sign = tokens[0][3]
        right, tokens = _atom(tokens[1:], scope)
        value = value + right if sign == "+" else value - right
    return value, tokens


def _atom(tokens: Tokens, scope: Mapping[str, Any]) -> tuple[Any, Tokens]:
    number, string, word, _ = tokens[0]
    if number is not None:
        return int(number), tokens[1:]
    if string is not None:
        return string, tokens[1:]
    if word is None:
        raise ValueError(f"not modelled: {tokens!r}")
    if len(tokens) > 1 and tokens[1][3] == "(":
        args: list[Any] = []
        tokens = tokens[2:]
        while tokens[0][3] != ")":
            arg, tokens = _sum(tokens, scope)
            args.append(arg)
            if tokens[0][3] == ",":
                tokens = tokens[1:]
        return _call(word, args), tokens[1:]
    return _known(scope[word]), tokens[1:]


def _known(value: Any) -> Any:
    if value is _UNKNOWN:
        raise ValueError("a runtime value")
    return value


def _call(name: str, args: list[Any]) -> Any:
    if name == "toLower":
        return str(args[0]).lower()
    if name == "replace":
        return str(args[0]).replace(args[1], args[2])
    if name == "take":
        return args[0][: args[1]]
    if name == "string":
        return str(args[0])
    if name == "uniqueString":
        return UNIQUE
    raise ValueError(f"function not modelled: {name}")
