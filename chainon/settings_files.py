"""``CHAINON_<NAME>_FILE``: a setting read from a file, the way container platforms hand
secrets over (Docker and Kubernetes secrets are files; the official PostgreSQL image reads
``POSTGRES_PASSWORD_FILE`` the same way).

A secret in an environment variable leaks into ``/proc/<pid>/environ``, crash reports and
``docker inspect``; a file with mode 0600 does not. Any setting may be given so (an SMPP
link list with its passwords, the PostgreSQL DSN, the SMTP password, the reply secret);
the file's content is the value, without its final newline. Setting a variable and its
``_FILE`` twin at once is refused: which one wins would be a guess.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsError

PREFIX = "CHAINON_"
SUFFIX = "_FILE"


def file_variable(field: str) -> str:
    return f"{PREFIX}{field.upper()}{SUFFIX}"


class FileVariables(PydanticBaseSettingsSource):
    """Reads ``CHAINON_<NAME>_FILE`` for every setting that is not itself named ``…_file``."""

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings_cls)
        self.environ = os.environ if environ is None else environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # every value is read in __call__

    def __call__(self) -> dict[str, Any]:
        fields = self.settings_cls.model_fields
        found: dict[str, Any] = {}
        for name, field in fields.items():
            variable = file_variable(name)
            path = self.environ.get(variable)
            if path is None or f"{name}_file" in fields:
                continue
            direct = f"{PREFIX}{name.upper()}"
            if direct in self.environ:
                raise SettingsError(f'field "{name}": {direct} and {variable} are both set')
            try:
                text = Path(path).read_text(encoding="utf-8").removesuffix("\n")
            except OSError as exc:
                raise SettingsError(
                    f'field "{name}": {variable}: cannot read {path} ({exc.strerror})'
                ) from None
            if self.field_is_complex(field):
                try:
                    found[name] = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise SettingsError(
                        f'field "{name}": {variable}: {path} is not JSON ({exc.msg})'
                    ) from None
            else:
                found[name] = text
        return found
