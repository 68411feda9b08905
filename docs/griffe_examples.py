"""A griffe extension for the API reference (mkdocs.yml loads it).

Our docstrings title their doctests "Example:", as Keras's do, some with a blank line after it and
the doctest unindented; griffe's Google parser takes as the section of doctests only "Examples:"
followed directly by the indented doctest, and would render the `>>>` lines as quoted prose.
"""

import re

import griffe


def _examples_section(match):
    body = match.group(1)
    if not body.startswith(" "):
        body = "".join(f"    {line}" for line in body.splitlines(keepends=True))
    return f"Examples:\n{body}"


class ExampleSections(griffe.Extension):
    def on_object(self, *, obj, **kwargs):
        if obj.docstring is not None:
            value = obj.docstring.value
            # The section runs to the first blank line, where a doctest's output ends.
            pattern = r"^Example:\n+((?:.+\n?)+)"
            obj.docstring.value = re.sub(pattern, _examples_section, value, flags=re.M)
