"""Real series shipped with the package as CSV files, for the guides and for trying the CLI.

Each is described, with its source and licence, in `PROVENANCE.md` beside this module.
"""

import pathlib
from importlib import resources

# name -> (file, what it holds)
EXAMPLE_FILES = {
    "nino12_monthly": (
        "nino12_monthly.csv",
        "monthly sea surface temperature of the Nino 1+2 region, 1950-2010 (month,temperature)",
    ),
    "sunspots_yearly": (
        "sunspots_yearly.csv",
        "yearly mean sunspot numbers, 1700-2008 (YEAR,SUNACTIVITY)",
    ),
}


def example_csv(name):
    """The path of an example CSV file shipped with the package.

    Args:
        name: One of `EXAMPLE_FILES`: `"nino12_monthly"` or `"sunspots_yearly"`.

    Returns:
        A `pathlib.Path` of the installed file (read it; do not write to it).

    Example:

    >>> from keras_rnnkit.data import example_csv
    >>> example_csv("nino12_monthly").read_text().splitlines()[:2]
    ['month,temperature', '1950-01,23.110']
    """
    if name not in EXAMPLE_FILES:
        choices = ", ".join(EXAMPLE_FILES)
        raise ValueError(f"example_csv: `name` must be one of {choices}. Received: name={name!r}")
    return pathlib.Path(str(resources.files(__package__).joinpath(EXAMPLE_FILES[name][0])))
