"""Which private ms-swift internals geoaug_train may patch, decided once from the installed ms-swift version.

geoaug_train patches private ms-swift code (template methods, `BatchSamplerShard.__iter__`,
`LazyLLMDataset.__getitem__`, `TrainArgumentsMixin._init_callbacks`). Those patches are verified against
TESTED_SWIFT_VERSION only. On any other version:

- the template fast paths (geoaug_train.swift_fastpath, the array hand-off, the fixed-point `replace_tag`)
  are pure speed, so they are skipped and ms-swift's stock steps run;
- the per-epoch fetch-stats callback is skipped, with a notice;
- epoch tracking, which correctness needs (each epoch must draw new augmentations), is kept when
  `BatchSamplerShard` still keeps the epoch as `curr_seed - base_seed`, else startup stops with an error
  naming both versions.
"""

from __future__ import annotations

import sys

TESTED_SWIFT_VERSION = '4.6.0'

_noticed: set[str] = set()


def installed_version() -> str:
    """The installed ms-swift version ('' when it cannot be read)."""
    from importlib import metadata

    try:
        return metadata.version('ms-swift')
    except metadata.PackageNotFoundError:
        try:
            import swift

            return str(getattr(swift, '__version__', ''))
        except ImportError:
            return ''


def is_tested(version: str | None = None) -> bool:
    """Is the installed (or the given) ms-swift the version geoaug_train's patches were verified on?"""
    return (installed_version() if version is None else version) == TESTED_SWIFT_VERSION


def notice(what: str) -> None:
    """Print once per process what is switched off because ms-swift is not the tested version."""
    if what in _noticed:
        return
    _noticed.add(what)
    print(
        f'[geoaug-train] ms-swift {installed_version() or "(unknown version)"} is installed; geoaug_train is '
        f'tested on {TESTED_SWIFT_VERSION}: {what}',
        file=sys.stderr,
        flush=True,
    )


class UnsupportedSwiftError(RuntimeError):
    """The installed ms-swift lacks an internal that geoaug_train needs for correct training."""


def unsupported(what: str) -> UnsupportedSwiftError:
    return UnsupportedSwiftError(
        f'ms-swift {installed_version() or "(unknown version)"} is installed, but geoaug_train is tested on '
        f'ms-swift {TESTED_SWIFT_VERSION} and cannot run on this one: {what}. '
        f'Install the tested version: pip install "ms-swift=={TESTED_SWIFT_VERSION}"'
    )
