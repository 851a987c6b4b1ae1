"""The challenge catalog: spec files on disk, loaded into frozen dataclasses.

See FORMAT.md for the file format. This package imports no Django.
"""

from .loader import ScanResult, load_spec, scan_catalog
from .spec import (
    BindMount,
    ChallengeSpec,
    DynamicScoring,
    FileRef,
    FlagSpec,
    Hint,
    InstanceSpec,
    QuestionSpec,
    ServiceSpec,
    SpecProblem,
    SpecRejected,
    SpecWarning,
    normalize_name,
)

__all__ = [
    "BindMount",
    "ChallengeSpec",
    "DynamicScoring",
    "FileRef",
    "FlagSpec",
    "Hint",
    "InstanceSpec",
    "QuestionSpec",
    "ScanResult",
    "ServiceSpec",
    "SpecProblem",
    "SpecRejected",
    "SpecWarning",
    "load_spec",
    "normalize_name",
    "scan_catalog",
]
