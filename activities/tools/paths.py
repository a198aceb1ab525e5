"""Workspace paths as the file tools, the code tools and a submit's files all judge them:
relative, normalised, inside the workspace, of bounded length; files of at most 1 MiB."""

from __future__ import annotations

import posixpath

from activities.tools.errors import ToolError

MAX_FILE_BYTES = 1024 * 1024
MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255  # one path component, as on common file systems


def normal_path(path: str) -> str:
    """What an approval rule and the tool both judge: no surrounding blanks, `//`, `.` and
    `..` folded (`" secrets/./k"` is `secrets/k` to both)."""
    text = path.strip()
    return posixpath.normpath(text) if text else text


def checked_path(path: str) -> str:
    """The normalised relative path, or a ToolError that says what is wrong with it."""
    text = path.strip()
    if not text:
        raise ToolError("path is empty; give a file path relative to the workspace")
    if "\x00" in text:
        raise ToolError("path contains a NUL character")
    if posixpath.isabs(text):
        raise ToolError(f"path {path!r} is absolute; give a path relative to the workspace")
    normal = posixpath.normpath(text)
    if normal == ".." or normal.startswith("../"):
        raise ToolError(f"path {path!r} leads outside the workspace")
    if normal == ".":
        raise ToolError(f"path {path!r} names the workspace itself, not a file")
    if len(normal) > MAX_PATH_CHARS:
        raise ToolError(f"path is {len(normal)} characters; paths are limited to {MAX_PATH_CHARS}")
    for name in normal.split("/"):
        try:
            size = len(name.encode())
        except UnicodeEncodeError:
            raise ToolError(f"{name[:40]!r} is not a UTF-8 name") from None
        if size > MAX_NAME_BYTES:
            raise ToolError(
                f"{name[:40]!r}... is longer than {MAX_NAME_BYTES} bytes; use a shorter name"
            )
    return normal
