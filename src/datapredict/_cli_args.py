"""The ``datapredict`` command line: its parser, each option checked before any work."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from datapredict import __version__
from datapredict.compression import resolve_compressor
from datapredict.coordinators.merger import SEED_MERGE_TYPES
from datapredict.errors import DataPredictError
from datapredict.merge import MERGE_RULES, SERVER_OPTIMIZERS

__all__ = ["DEFAULT_MERGES", "MERGES", "check_children", "check_privacy", "parser"]

DESCRIPTION = """datapredict demo: the main distributed-training job on a bundled real dataset.

It splits the data among children (IID and by a Dirichlet label split), trains the
main model with DistributedGradients and with DistributedModelParameters under each
merge type, and a centralised model as the reference, then prints a table of score and
time per strategy (and draws the cost per round with --plot).
"""

_NOT_FOR_CLASSIFICATION = {
    "regression_mean": "it merges linear regression children; the demo runs it on diabetes "
    "in a table of its own"
}
SEED_MERGES = ("average", *(t for t in SEED_MERGE_TYPES if t not in _NOT_FOR_CLASSIFICATION))
"""The seed's merge types the classification jobs can use."""
MERGES = tuple(dict.fromkeys((*SEED_MERGES, *MERGE_RULES)))
"""Every merge type ``--merge`` accepts: the seed's and :data:`datapredict.merge.MERGE_RULES`."""
DEFAULT_MERGES = (*SEED_MERGES, "fedavg", "median", "trimmed_mean", "geometric_median")
"""The merge types compared without ``--merge`` (Krum needs more than 4 children)."""


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the description's paragraphs and appends each option's default to its help.

    An option whose default is None says in its own help what happens without it.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


class _NameList(argparse.Action):
    """Collects the names of a repeatable option taking comma-separated names.

    The first use replaces the default; a name given twice is kept once.
    """

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        current = getattr(namespace, self.dest)
        names = [] if current is self.default else list(current)
        names += [name for name in values if name not in names]
        setattr(namespace, self.dest, names)


def _names(valid: Sequence[str], hints: dict[str, str]) -> Callable[[str], list[str]]:
    """An argparse ``type``: comma-separated names from ``valid`` (any case), as a list."""

    def parse(text: str) -> list[str]:
        names = [name.strip().lower() for name in text.split(",")]
        for name in names:
            if name not in valid:
                why = f" ({hints[name]})" if name in hints else ""
                raise argparse.ArgumentTypeError(
                    f"{name!r} is not one of {', '.join(valid)}{why}; got {text!r}"
                )
        return names

    return parse


def _number(kind: type, minimum: float, open_low: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a ``kind`` number above ``minimum`` (or at least it)."""
    bound = f"> {minimum}" if open_low else f">= {minimum}"
    label = "an integer" if kind is int else "a number"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {label} {bound}; got {text!r}") from None
        if value < minimum or (open_low and value == minimum):
            raise argparse.ArgumentTypeError(f"expected {label} {bound}; got {text!r}")
        return value

    return parse


def _compression(text: str) -> str:
    """An argparse ``type``: a compressor's name (``int8``, ``int4``, ``topk:<fraction>``)."""
    try:
        resolve_compressor(text)
    except DataPredictError:
        raise argparse.ArgumentTypeError(
            f"expected int8, int4 or topk:<fraction in (0, 1]>; got {text!r}"
        ) from None
    return text.strip().lower()


def parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``datapredict`` parser and its ``demo`` sub-parser."""
    parser = argparse.ArgumentParser(
        prog="datapredict", description=DESCRIPTION.splitlines()[0], formatter_class=_Formatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run the distributed-training demo",
        description=DESCRIPTION,
        formatter_class=_Formatter,
    )
    _data_options(demo)
    _job_options(demo)
    _privacy_options(demo)
    _output_options(demo)
    return parser, demo


def _data_options(demo: argparse.ArgumentParser) -> None:
    """The dataset and how it is split among children."""
    demo.add_argument(
        "--dataset",
        default="digits",
        choices=("digits", "breast_cancer", "wine", "iris"),
        help="the classification dataset",
    )
    demo.add_argument("--children", type=_number(int, 1), default=5, help="number of child models")
    demo.add_argument(
        "--seed", type=_number(int, 0), default=0, help="seed of the splits and of every model"
    )


def _job_options(demo: argparse.ArgumentParser) -> None:
    """How the jobs train: rounds, merges, server optimizers, backend, mode."""
    positive = _number(int, 1)
    demo.add_argument("--rounds", type=positive, default=30, help="training rounds")
    demo.add_argument(
        "--local-iterations",
        type=positive,
        default=10,
        help="each child's steps per round with DistributedModelParameters",
    )
    demo.add_argument(
        "--split",
        default="both",
        choices=("iid", "dirichlet", "quantity", "both"),
        help="how the data is split among children (both: iid and dirichlet)",
    )
    demo.add_argument(
        "--alpha",
        type=_number(float, 0, open_low=True),
        default=0.3,
        help="Dirichlet concentration of the non-IID splits (smaller: more skewed)",
    )
    demo.add_argument(
        "--merge",
        action=_NameList,
        type=_names(MERGES, _NOT_FOR_CLASSIFICATION),
        default=",".join(DEFAULT_MERGES),
        metavar="NAME[,NAME...]",
        help=f"merge types to compare, comma-separated or repeated; any of: {', '.join(MERGES)}",
    )
    demo.add_argument(
        "--server-optimizer",
        action=_NameList,
        type=_names(tuple(SERVER_OPTIMIZERS), {}),
        default=None,
        metavar="NAME[,NAME...]",
        help="server optimizers to add, each a fedavg job, comma-separated or repeated; any "
        f"of: {', '.join(SERVER_OPTIMIZERS)} (default: none)",
    )
    demo.add_argument(
        "--backend",
        default="inline",
        choices=("inline", "threads", "ray"),
        help="where the children run",
    )
    demo.add_argument(
        "--address",
        default=None,
        help="with --backend ray: 'auto' joins the Ray cluster running on this machine, "
        "HOST:PORT or ray://HOST:PORT the one there (default: a new local Ray instance, "
        "shut down at the end)",
    )
    demo.add_argument(
        "--mode",
        default="sync",
        choices=("sync", "async"),
        help="sync rounds wait for every child; async applies each push as it arrives",
    )
    demo.add_argument(
        "--secure-aggregation",
        action="store_true",
        help="add a fedavg job whose server sees only masked updates (SecAgg+; sync mode)",
    )
    demo.add_argument(
        "--compress",
        type=_compression,
        default=None,
        metavar="int8|int4|topk:FRACTION",
        help="compress what each child sends: unbiased stochastic quantisation to 8 or 4 "
        "bits, or the top FRACTION of values with error feedback; the table shows the "
        "kB sent per round (default: none, pushes travel as floats)",
    )


def _fraction(text: str) -> float:
    """An argparse ``type``: a number in (0, 1)."""
    value = _number(float, 0, open_low=True)(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1); got {text!r}")
    return value


def _privacy_options(demo: argparse.ArgumentParser) -> None:
    """Client-level differential privacy: extra private jobs and their ε."""
    demo.add_argument(
        "--dp-epsilon",
        type=_number(float, 0, open_low=True),
        default=None,
        metavar="EPSILON",
        help="add jobs trained with client-level differential privacy (DP-FedAvg), the "
        "noise calibrated so that ε after the last round is at most this; the table "
        "shows each job's ε. DP needs many children per round, so these jobs train on "
        "the training rows split among up to 500 children, a fifth of them a round, "
        "beside the same jobs without privacy (sync mode) (default: no private jobs)",
    )
    demo.add_argument(
        "--dp-delta",
        type=_fraction,
        default=None,
        metavar="DELTA",
        help="with --dp-epsilon: the δ of the (ε, δ) guarantee (default: 1e-5)",
    )
    demo.add_argument(
        "--dp-clip",
        type=_number(float, 0, open_low=True),
        default=None,
        metavar="NORM",
        help="with --dp-epsilon: the L2 bound on each child's update (default: 1.0)",
    )


def _output_options(demo: argparse.ArgumentParser) -> None:
    """What the demo shows."""
    demo.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw the cost per round to this PNG file (default: no plot)",
    )
    demo.add_argument("--quiet", action="store_true", help="hide the progress bar")


def check_children(demo: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse a merge rule that cannot merge ``--children`` children, and secure
    aggregation in async mode, before any work."""
    if args.secure_aggregation and args.mode == "async":
        demo.error("--secure-aggregation needs --mode sync (rounds are unmasked whole)")
    for name in args.merge:
        if name in MERGE_RULES:
            try:
                MERGE_RULES[name]().check_num_children(args.children, f"--merge {name}")
            except DataPredictError as error:
                demo.error(f"{error} (--children {args.children})")


def check_privacy(demo: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse --dp-delta or --dp-clip without --dp-epsilon, and --dp-epsilon in async mode."""
    if args.dp_epsilon is None:
        for flag, value in (("--dp-delta", args.dp_delta), ("--dp-clip", args.dp_clip)):
            if value is not None:
                demo.error(f"{flag} needs --dp-epsilon")
    elif args.mode != "sync":
        demo.error("--dp-epsilon needs --mode sync (DP-FedAvg releases one update per round)")
