"""Canonical roles and structure: what each tensor of a model does, in any format.

* :class:`Role` / :class:`RoleRef`: a role, and where its values live;
* :class:`RoleMap` and :func:`role_map`: all roles of a model (HF, GGUF or ONNX names);
* :func:`read_role`: a role's values as float32 in HF orientation;
* :class:`StructuralSignature` and :func:`structure`: depth, widths, heads, vocabulary...
"""

from __future__ import annotations

from modelkin.arch.rolemap import RoleMap, read_role, role_map, role_shape
from modelkin.arch.roles import GLOBAL_KINDS, KINDS, LAYER_KINDS, Role, RoleRef
from modelkin.arch.structure import StructuralSignature, structure

__all__ = [
    "GLOBAL_KINDS",
    "KINDS",
    "LAYER_KINDS",
    "Role",
    "RoleMap",
    "RoleRef",
    "StructuralSignature",
    "read_role",
    "role_map",
    "role_shape",
    "structure",
]
