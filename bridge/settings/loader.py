"""From a YAML file and the environment to a validated pydantic model.

The steps, in order (``models.py`` binds them to :class:`~bridge.settings.Settings`):

1. :func:`read_yaml` reads the file. A missing file, bad YAML or a duplicate key is a
   :class:`~bridge.errors.ConfigError` naming the file and line; the line of every setting is
   kept for later messages.
2. :class:`_Expander` replaces ``${NAME}``, ``${NAME:-default}``, ``${file:/path}`` and ``$${``
   in every string value, from the environment given. Relative paths (``${file:…}`` and every
   path setting, such as ``tls.ca_file``) in a file are taken relative to its directory.
3. ``BRIDGE_…`` variables override the result: pydantic-settings' own parser reads them against
   the model's fields (``__`` between levels, JSON for lists and mappings, ``null`` for None)
   and :func:`_merge` lays them over the file, where a mapping of numbers changes list items.
4. The model validates the merged mapping. A :class:`~pydantic.ValidationError` becomes one
   ConfigError whose ``field`` is the dotted path of the first bad setting and whose message has
   a line per error, each naming the setting and where it came from (file:line or variable),
   without the values of secrets.

Nothing here knows a particular setting: the root model is a parameter, so the models can
import this module without a cycle.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError
from pydantic_settings import EnvSettingsSource, SettingsError

from bridge.errors import ConfigError

try:  # pydantic-settings >= 2.5
    from pydantic_settings.sources.utils import parse_env_vars as _parse_env_vars
except ImportError:  # pragma: no cover - older layout
    from pydantic_settings.sources import parse_env_vars as _parse_env_vars  # type: ignore

__all__ = ["ENV_NESTED_DELIMITER", "ENV_PREFIX", "build", "invalid", "load", "read_yaml"]

ENV_PREFIX = "BRIDGE_"
ENV_NESTED_DELIMITER = "__"
# An override value meaning None (``BRIDGE_SCHEMA_REGISTRY__URL=null``).
ENV_NONE = "null"

_SECRET_NAME = re.compile(r"secret|passw|passphrase|token|api_?key|private", re.IGNORECASE)
_ERROR_TYPE = "bridge_config"

Model = TypeVar("Model", bound=BaseModel)
# A setting's place: keys and list indexes, as strings (("connections", "0", "url")).
SettingPath = tuple[str, ...]


def invalid(message: str, *subpath: str | int) -> PydanticCustomError:
    """For validators: an error at ``<where the validator runs>.<subpath>`` whose message is
    shown as it is, without the value (a model validator sees whole sections, secrets too)."""
    return PydanticCustomError(
        _ERROR_TYPE, "{message}", {"message": message, "subpath": [str(p) for p in subpath]}
    )


def load(model: type[Model], path: str | Path | None, environ: Mapping[str, str]) -> Model:
    """Steps 1 to 4 for the file at ``path``; None: no file, the defaults and the environment."""
    if path is None:
        return build(model, {}, environ)
    file = Path(path)
    data, lines = read_yaml(file)
    return build(
        model, data, environ, source=str(file), base_dir=file.resolve().parent, lines=lines
    )


def build(
    model: type[Model],
    data: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    source: str | None = None,
    base_dir: Path | None = None,
    lines: Mapping[SettingPath, int] | None = None,
) -> Model:
    """Steps 2 to 4 on ``data`` (shaped like the file): expand, override, validate.

    ``source`` names the file for messages (None: no file); ``base_dir`` anchors relative paths;
    ``lines`` maps settings to their lines in the file (from :func:`read_yaml`).
    """
    where = _Where(source, lines or {}, environ)
    for key in data:
        # Keys reach the model as keyword arguments: only names can be settings.
        if not isinstance(key, str) or key.startswith("_"):
            raise ConfigError(f"{where.prefix((str(key),))}{key}: unknown setting", field=str(key))
    expander = _Expander(environ, base_dir, where)
    expanded = expander.expand(dict(data), ())
    if base_dir is not None:
        _anchor_paths(model, expanded, base_dir)
    merged = _merge(expanded, _environment_overrides(model, environ), (), where)
    try:
        return model(**merged)
    except ValidationError as exc:
        raise _config_error(model, exc, where, expander.secret_paths) from None


# -- step 1: the file ------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]
    """SafeLoader that refuses duplicate keys (the last one would silently win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key_node.value!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def read_yaml(file: Path) -> tuple[dict[str, Any], dict[SettingPath, int]]:
    """The file's top-level mapping ({} for an empty file) and the line of each setting."""
    try:
        text = file.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text (byte {exc.start})") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        # Only problem/context: str(exc) quotes the source line, which may hold a secret.
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        what = exc.problem or "cannot parse"
        if exc.context:
            what += f"; {exc.context}"
            if exc.context_mark is not None and exc.context_mark is not mark:
                what += f" (started on line {exc.context_mark.line + 1})"
        raise ConfigError(f"{where}: invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: invalid YAML: {type(exc).__name__}") from None
    finally:
        loader.dispose()
    if data is None or node is None:  # an empty file
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{file}:{node.start_mark.line + 1}: the top level must be a mapping of settings, "
            f"not {_kind(data)}"
        )
    lines: dict[SettingPath, int] = {}
    _collect_lines(node, (), lines, set())
    return data, lines


def _collect_lines(
    node: yaml.Node, path: SettingPath, lines: dict[SettingPath, int], active: set[int]
) -> None:
    """Map each setting's path to the line it is on (best effort: a hint for error messages)."""
    if id(node) in active:  # recursive anchors
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                sub = (*path, key_node.value)
                lines[sub] = key_node.start_mark.line + 1
                _collect_lines(value_node, sub, lines, active)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = (*path, str(i))
            lines[sub] = item.start_mark.line + 1
            _collect_lines(item, sub, lines, active)
    active.discard(id(node))


# -- step 2: ${…} references ---------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\$\{|\$\{([^{}]*)\}|\$\{")
_VARIABLE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


class _Expander:
    """Replaces references in every string; remembers which settings now hold a secret."""

    def __init__(self, environ: Mapping[str, str], base_dir: Path | None, where: _Where) -> None:
        self.environ = environ
        self.base_dir = base_dir
        self.where = where
        self.secret_paths: set[SettingPath] = set()
        self._active: set[int] = set()

    def expand(self, value: Any, path: SettingPath) -> Any:
        if isinstance(value, str):
            return self._expand_string(value, path)
        if not isinstance(value, dict | list):
            return value
        if id(value) in self._active:
            self._fail(path, "a YAML alias refers to itself")
        self._active.add(id(value))
        try:
            if isinstance(value, dict):
                return {k: self.expand(v, (*path, str(k))) for k, v in value.items()}
            return [self.expand(v, (*path, str(i))) for i, v in enumerate(value)]
        finally:
            self._active.discard(id(value))

    def _expand_string(self, text: str, path: SettingPath) -> str:
        if "${" not in text:
            return text

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            inner = match.group(1)
            if inner is None:
                self._fail(path, "unterminated or nested ${...} reference")
            assert inner is not None
            if inner.startswith("file:"):
                self.secret_paths.add(path)
                return self._read_secret(inner[len("file:") :], path)
            var = _VARIABLE.fullmatch(inner)
            if var is None:
                self._fail(
                    path,
                    f"bad reference ${{{inner}}}: use ${{NAME}}, ${{NAME:-default}} "
                    "or ${file:/path}",
                )
            assert var is not None
            name, default = var.group(1), var.group(2)
            if _SECRET_NAME.search(name):
                self.secret_paths.add(path)
            value = self.environ.get(name)
            if default is not None:
                return value if value else default
            if value is None:
                self._fail(
                    path,
                    f"environment variable {name} is not set "
                    f"(write ${{{name}:-default}} to give a default)",
                )
            assert value is not None
            return value

        return _REFERENCE.sub(replace, text)

    def _read_secret(self, name: str, path: SettingPath) -> str:
        file = Path(name).expanduser()
        if not file.is_absolute() and self.base_dir is not None:
            file = self.base_dir / file
        try:
            content = file.read_bytes().decode("utf-8")
        except OSError as exc:
            self._fail(path, f"cannot read secret file {file}: {exc.strerror or exc}")
        except UnicodeDecodeError:
            self._fail(path, f"secret file {file} is not UTF-8 text")
        if content.endswith("\r\n"):
            return content[:-2]
        return content[:-1] if content.endswith("\n") else content

    def _fail(self, path: SettingPath, message: str) -> None:
        raise ConfigError(
            f"{self.where.prefix(path)}{'.'.join(path)}: {message}", field=".".join(path)
        )


def _anchor_paths(model: Any, data: Any, base_dir: Path) -> None:
    """Make every relative path setting in ``data`` (a file's) relative to ``base_dir``, in
    place: found by walking the model's fields, so a new ``Path`` setting is covered too."""
    if isinstance(data, dict) and _is_model(model):
        for key, value in data.items():
            field = model.model_fields.get(key) if isinstance(key, str) else None
            if field is None:
                continue
            annotation = _unwrap(field.annotation)
            if annotation is Path:
                if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                    data[key] = str(base_dir / value)
            else:
                _anchor_paths(annotation, value, base_dir)
    elif isinstance(data, list) and get_origin(model) is list:
        item = _unwrap(get_args(model)[0])
        for value in data:
            _anchor_paths(item, value, base_dir)


# -- step 3: environment overrides ---------------------------------------------------------------


def _environment_overrides(model: type[BaseModel], environ: Mapping[str, str]) -> dict[str, Any]:
    # pydantic-settings' parser reads only the model's fields and the options given here, so a
    # plain model will do (its signature asks for the BaseSettings subclass it usually serves).
    source = EnvSettingsSource(
        model,  # type: ignore[arg-type]
        case_sensitive=False,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        env_parse_none_str=ENV_NONE,
    )
    # The environment given, not os.environ (which the source reads by default).
    source.env_vars = _parse_env_vars(environ, False, False, ENV_NONE)
    try:
        return source()
    except SettingsError as exc:
        field = re.search(r'field "([^"]+)"', str(exc))
        name = field.group(1) if field else ""
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ConfigError(
            f"environment variable {ENV_PREFIX}{name.upper()} is not valid JSON{cause}",
            field=name or None,
        ) from None


_MISSING: Any = object()


def _merge(base: Any, override: Any, path: SettingPath, where: _Where) -> Any:
    """Deep-merge ``override`` (from the environment) into ``base`` (from the file).
    A mapping whose keys are all numbers updates the items of a list."""
    if not isinstance(override, dict):
        return override
    if isinstance(base, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key, _MISSING), value, (*path, str(key)), where)
        return merged
    if (
        (base is _MISSING or isinstance(base, list))
        and override
        and all(isinstance(k, str) and k.isdigit() for k in override)
    ):
        items = [] if base is _MISSING else list(base)
        for key, value in override.items():
            index = int(key)
            if index >= len(items):
                dotted = ".".join((*path, key))
                raise ConfigError(
                    f"{dotted}: {where.env_variable((*path, key))} overrides item {index} of "
                    f"{'.'.join(path)}, which has {len(items)} item(s); "
                    f"set {_env_name(path)} to a JSON list to replace the whole list",
                    field=dotted,
                )
            items[index] = _merge(items[index], value, (*path, key), where)
        return items
    return override


def _env_name(path: SettingPath) -> str:
    return ENV_PREFIX + ENV_NESTED_DELIMITER.join(path).upper()


# -- step 4: error messages ----------------------------------------------------------------------


class _Where:
    """Says where a setting came from, for error messages."""

    def __init__(
        self,
        source: str | None,
        lines: Mapping[SettingPath, int],
        environ: Mapping[str, str],
    ) -> None:
        self.source = source
        self.lines = lines
        self.env_paths: dict[SettingPath, str] = {}
        for name in environ:
            if name.upper().startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
                parts = name[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER)
                self.env_paths[tuple(parts)] = name

    def env_variable(self, path: SettingPath) -> str | None:
        """The BRIDGE_… variable that set ``path`` (or the part of it that failed)."""
        best: tuple[int, str] | None = None
        for env_path, name in self.env_paths.items():
            n = min(len(env_path), len(path))
            if n and env_path[:n] == path[:n] and (best is None or len(env_path) > best[0]):
                best = (len(env_path), name)
        return best[1] if best else None

    def prefix(self, path: SettingPath) -> str:
        if self.source is None:
            return ""
        for n in range(len(path), 0, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return f"{self.source}:{line}: "
        return f"{self.source}: "


def _config_error(
    model: type[BaseModel],
    exc: ValidationError,
    where: _Where,
    secret_paths: set[SettingPath],
) -> ConfigError:
    messages: list[str] = []
    first: str | None = None
    for error in exc.errors(include_url=False):
        path: SettingPath = tuple(str(p) for p in error["loc"])
        ctx = error.get("ctx") or {}
        if error["type"] == _ERROR_TYPE:
            path = (*path, *ctx.get("subpath", ()))
        dotted = ".".join(path) or "(top level)"
        first = first or dotted
        text = _describe(model, error, path, _is_secret(path, secret_paths))
        env_var = where.env_variable(path)
        if env_var is not None:
            messages.append(f"{dotted}: {text} (from environment variable {env_var})")
        else:
            messages.append(f"{where.prefix(path)}{dotted}: {text}")
    return ConfigError("\n".join(messages), field=first)


def _is_secret(path: SettingPath, secret_paths: set[SettingPath]) -> bool:
    if "credentials" in path or any(_SECRET_NAME.search(p) for p in path):
        return True
    return any(path[: len(s)] == s or s[: len(path)] == path for s in secret_paths)


def _describe(model: type[BaseModel], error: Any, path: SettingPath, secret: bool) -> str:
    kind: str = error["type"]
    message: str = error["msg"]
    if kind == "extra_forbidden":
        return _unknown_key(model, path)
    if kind == "missing":
        return "required setting is missing"
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if kind == _ERROR_TYPE or secret:
        return message
    value = error.get("input")
    if value is None or isinstance(value, str | int | float | bool):
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        if shown not in message:
            message += f" (got {shown})"
    elif kind.endswith("_type"):
        message += f" (got {_kind(value)})"
    return message


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _unknown_key(model: type[BaseModel], path: SettingPath) -> str:
    section = _model_at(model, path[:-1])
    if section is None:
        return "unknown setting"
    names = list(section.model_fields)
    close = difflib.get_close_matches(path[-1], names, n=1, cutoff=0.6)
    if close:
        return f"unknown setting (did you mean {close[0]!r}?)"
    return f"unknown setting (expected one of: {', '.join(names)})"


def _model_at(model: type[BaseModel], path: SettingPath) -> type[BaseModel] | None:
    """The model of the section at ``path`` below ``model``; None if it is not a section."""
    current: Any = model
    for part in path:
        if _is_model(current):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = _unwrap(field.annotation)
        elif get_origin(current) is list and part.isdigit():
            current = _unwrap(get_args(current)[0])
        else:
            return None
    return current if _is_model(current) else None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X``; ``Annotated[X, …]`` → ``X``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        for arg in get_args(annotation):
            if arg is not type(None):
                return _unwrap(arg)
    return annotation
