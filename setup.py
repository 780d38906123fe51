"""Build of the optional C accelerator; everything else is in pyproject.toml.

``ftpush.formats._speedups`` (decision 0105) is ``optional``: without a compiler
the build only warns, and the parsers run their pure-Python implementation.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ftpush.formats._speedups",
            ["src/ftpush/formats/_speedups.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
