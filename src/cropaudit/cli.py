"""The ``cropaudit`` command line.

Every pipeline stage is a sub-command with explicit input and output paths, so Snakemake, DVC,
a notebook and a user at the shell all run the same code. Each sub-command lives in
``cropaudit/commands/<name>.py`` and defines ``HELP``, ``configure(parser)`` and ``run(args)``;
those modules import heavy libraries (TensorFlow, MLflow) inside ``run`` so that ``--help``
stays instant.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

from cropaudit import __version__
from cropaudit.errors import CropauditError
from cropaudit.untrusted import terminal

#: Modules of ``cropaudit.commands`` that are not sub-commands (what the commands share).
HELPERS = frozenset({"declared"})


def _command_table() -> dict[str, str]:
    """Sub-command name -> module under ``cropaudit.commands``, one per module there (its name
    with ``-`` for ``_``), read from the folder, so a new command is a new module and nothing
    else; sorted by name, as ``--help`` lists them. Listing a folder imports nothing."""
    from cropaudit import commands

    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__)
                   if not m.ispkg and m.name not in HELPERS)
    return {name.replace("_", "-"): name for name in names}


#: sub-command name -> module under ``cropaudit.commands``
COMMANDS: dict[str, str] = _command_table()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser with one sub-parser per registered command.

    With ``command`` (the sub-command about to run) only that sub-parser gets its options:
    some ``configure`` functions import params schemas, and a one-image ``cropaudit
    saliency`` should not pay for the other commands' options.
    """
    parser = argparse.ArgumentParser(
        prog="cropaudit",
        description="Audit saliency-based image cropping for demographic bias.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cropaudit {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debug messages (and tracebacks)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"cropaudit.commands.{module_name}")
        doc = (module.__doc__ or "").strip()
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=doc or module.HELP,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if command is None or name == command:
            module.configure(p)
        p.set_defaults(_run=module.run, _name=name,
                       _fast_exit=getattr(module, "FAST_EXIT", False))
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (its first non-option word), if it is a known one."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


#: Exit codes (also in README "Exit codes" and ``cropaudit --help``).
EXIT_OK, EXIT_SOME_FAILED, EXIT_INPUT, EXIT_ENVIRONMENT, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141
EXIT_CODES_HELP = """exit codes:
  0    success
  1    some images failed (the others were processed; each failure is one line on stderr)
  2    usage error or bad input (a file, a parameter): one line naming it
  3    the environment failed: disk full, permission denied, a server unreachable
  4    internal error (a bug: run with -v for the traceback and please report it)
  130  interrupted (Ctrl-C)
  141  the reader of standard output went away (e.g. `| head`): nothing more is printed"""


#: errno values of a write that failed for lack of room or a broken device.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


class OneLineFormatter(logging.Formatter):
    """Log records as one line each: a file name or server answer quoted in a message cannot
    start a line of its own (tracebacks under ``-v`` keep their lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return terminal(super().formatMessage(record))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _environment_error(exc: OSError) -> str:
    """One line for an OSError: what failed on which file, without Python's repr."""
    what = exc.strerror or _first_line(exc)
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{what}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run one sub-command; every failure becomes one line on stderr.

    Input errors (:class:`CropauditError`) exit 2, environment errors (disk full, permission
    denied) 3, anything unexpected 4 with the traceback only under ``-v``; see
    :data:`EXIT_CODES_HELP`.
    """
    # TensorFlow's C++ logging (oneDNN notices, CUDA probing) is noise for users; must be set
    # before TensorFlow is first imported.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    argv_given = argv
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        handlers=[handler])

    def fail(message: str, code: int) -> int:
        if args.verbose:
            logging.exception("failed")
        print(f"cropaudit {args._name}: error: {terminal(message)}", file=sys.stderr)
        return code

    try:
        code = int(args._run(args) or 0)
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not at interpreter exit
        if argv_given is None and args._fast_exit:
            _exit_now(code)
        return code
    except CropauditError as exc:
        return fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        print(f"cropaudit {args._name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        if exc.filename is None and _is_stdout_error():
            _silence_stdout()
            return fail(f"cannot write to standard output: {exc.strerror or exc}",
                        EXIT_ENVIRONMENT)
        if exc.filename is None and exc.errno in _WRITE_ERRNOS:
            return fail(f"cannot write output: {exc.strerror}", EXIT_ENVIRONMENT)
        return fail(_environment_error(exc), EXIT_ENVIRONMENT)
    except MemoryError:
        return fail("out of memory (try fewer images per batch or smaller images)",
                    EXIT_ENVIRONMENT)
    except Exception as exc:  # a bug: still one line, the traceback under -v
        return fail(f"internal error: {type(exc).__name__}: {_first_line(exc)} "
                    "(run with -v for the traceback; please report it)", EXIT_INTERNAL)


def _exit_now(code: int) -> None:
    """End the process without the interpreter's teardown (≈ 0.1 s of freeing modules and the
    LiteRT interpreter), for commands that declare ``FAST_EXIT``: they hold no files, runs or
    threads open once ``run`` returns, so nothing is lost. Only for the process's own command
    line (``argv`` not given); a caller of :func:`main` gets its return value as usual."""
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _is_stdout_error() -> bool:
    """Whether stdout refuses writes (e.g. /dev/full), probed with a zero-byte write."""
    try:
        os.write(sys.stdout.fileno(), b"")
    except (OSError, ValueError):
        return True
    return False


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
