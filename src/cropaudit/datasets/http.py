"""Polite, resumable HTTP for fetching a dataset from a public service.

Wikimedia (and most public archives) ask scripts to name themselves with a contact in the
User-Agent, to keep concurrency and bandwidth low, to wait as long as ``Retry-After`` says on
429/503, and to back off exponentially on errors. A download is only trusted once its body has
the announced length and decodes (an HTML error page served with status 200 is not an image).
A file appears under its final name only when complete (temporary ``.part`` sibling, then an
atomic rename), so an interrupted run leaves nothing that looks done, and a rerun verifies the
files already present instead of fetching them again.

Stopping is part of politeness: when a server asks every client to wait longer than
``retry_after_max_s``, when a host fails ``host_failures_max`` connections in a row (it is
down: retrying each remaining file would take hours), or the user presses Ctrl-C, no worker
sends another request; files already complete stay on disk and the next run resumes from
them. Workers are daemon threads that check a shared stop flag between chunks and during every
wait, so the process can exit within seconds instead of draining a queue of pending downloads.
"""

from __future__ import annotations

import email.utils
import logging
import os
import queue
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from cropaudit import __version__
from cropaudit.datasets.params import HttpParams
from cropaudit.errors import ConfigError, DownloadError
from cropaudit.outputs import file_mode

log = logging.getLogger(__name__)

T = TypeVar("T")

ENV_CONTACT = "CROPAUDIT_CONTACT"
#: Answers worth another try (server busy or failing); everything else 4xx is final.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Answers that mean "the whole client is too fast": every worker pauses, not just this one.
PAUSE_STATUSES = frozenset({429, 503})
PART_SUFFIX = ".part"
#: How much unused bandwidth budget may be saved up for a burst (seconds at the cap).
THROTTLE_WINDOW_S = 10.0
#: How long an interrupted download waits for in-flight workers to remove their ``.part`` files.
STOP_GRACE_S = 1.0
#: Longest excerpt of an error body quoted in a message (servers explain failures there).
BODY_EXCERPT_CHARS = 200


class RetryLater(Exception):
    """This attempt failed for a reason that may pass; ``wait`` is the server's Retry-After."""

    def __init__(self, reason: str, wait: float | None = None, *, pause_all: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.pause_all = pause_all


class Rejected(Exception):
    """This request (or its content) failed for good; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Stopped(Exception):
    """The client was stopped (Ctrl-C, or a server asked for too long a pause) mid-request."""


class StopAll(DownloadError):
    """A reason for the whole client to stop sending requests (not just to fail one file)."""


class ServiceBusy(StopAll):
    """A server asked every client to wait longer than ``retry_after_max_s``: stop, resume later.

    Waiting for hours would hang the run; failing the file and going on would keep sending
    requests to a server that asked us to stop (the pattern that gets a client blocked).
    """

    def __init__(self, host: str, reason: str, wait: float, cap: float) -> None:
        super().__init__(
            f"{host}: the server asked to wait {wait:.0f} s ({reason}, Retry-After), more than "
            f"dataset.wikiceleb.http.retry_after_max_s {cap:.0f} s; stopped without sending more "
            "requests, complete files are kept: run the same command again later to resume"
        )
        self.host, self.wait = host, wait


class HostDown(StopAll):
    """A host failed ``host_failures_max`` connections in a row: it is down, not one file.

    Going on would retry every remaining file with backoff (about 15 s each at the defaults,
    hours for a few thousand images) only to fail them all.
    """

    exit_code = 3  # the environment failed (README, "Errors and exit codes")

    def __init__(self, host: str, failures: int, reason: str) -> None:
        super().__init__(
            f"{host}: {failures} connection failures in a row (last: {reason}; "
            "dataset.wikiceleb.http.host_failures_max), the host looks down; stopped without "
            "sending more requests, complete files are kept: run the same command again "
            "later to resume"
        )
        self.host, self.failures = host, failures


#: Failures of the connection itself (not an HTTP answer): what counts toward a host's
#: circuit breaker.
CONNECTION_FAILURES = ("connection error", "timeout", "truncated body")


def user_agent(params: HttpParams) -> str:
    """``cropaudit/0.1.0 (contact) python-requests/2.x``, as Wikimedia's User-Agent policy asks."""
    if params.user_agent:
        return params.user_agent
    contact = params.contact.strip() or os.environ.get(ENV_CONTACT, "").strip()
    if not contact:
        raise ConfigError(
            "dataset.wikiceleb.http.contact: set an e-mail or URL to put in the User-Agent "
            f"(Wikimedia's User-Agent policy requires one), or set {ENV_CONTACT}"
        )
    return f"cropaudit/{__version__} ({contact}) python-requests/{requests.__version__}"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def body_excerpt(body: bytes) -> str:
    """The first words of an error body, on one line (servers say *why* there)."""
    text = " ".join(body[: BODY_EXCERPT_CHARS * 4].decode("utf-8", "replace").split())
    return text[:BODY_EXCERPT_CHARS] + ("…" if len(text) > BODY_EXCERPT_CHARS else "")


@dataclass(frozen=True)
class DownloadJob:
    """One file to fetch: ``key`` identifies it to the caller, ``stem`` names it on disk."""

    key: str
    url: str
    stem: str


@dataclass(frozen=True)
class Downloaded(Generic[T]):
    """A verified file on disk; ``fetched`` is False when it was already there (resume)."""

    key: str
    path: Path
    payload: T
    fetched: bool


@dataclass
class DownloadReport(Generic[T]):
    """Outcome of a batch: verified files by key, and failure reasons by key."""

    done: dict[str, Downloaded[T]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def downloaded(self) -> int:
        return sum(d.fetched for d in self.done.values())

    @property
    def skipped(self) -> int:
        return sum(not d.fetched for d in self.done.values())

    def summary(self) -> str:
        reasons = Counter(r.split(" (after", 1)[0] for r in self.failed.values())
        why = ", ".join(f"{k}: {v}" for k, v in reasons.most_common())
        return (
            f"downloaded {self.downloaded}, skipped {self.skipped} (already present), "
            f"failed {len(self.failed)}" + (f" ({why})" if why else "")
        )


Verify = Callable[[Path], tuple[str, T]]
"""Checks a complete temporary file; returns (file suffix, payload) or raises :class:`Rejected`."""

#: Inspects a failed answer (status, body) and returns a final reason, or None to retry as usual.
Explain = Callable[[requests.Response, bytes], str | None]


class PoliteClient:
    """A ``requests`` session with Wikimedia-style etiquette, shared by worker threads."""

    def __init__(self, params: HttpParams) -> None:
        self.params = params
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent(params)
        adapter = HTTPAdapter(
            pool_connections=params.concurrency, pool_maxsize=params.concurrency
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._lock = threading.Lock()
        self._host_failures: Counter[str] = Counter()
        self._pause_until = 0.0
        self._bytes = 0
        self._t0: float | None = None
        self._stop = threading.Event()

    def close(self) -> None:
        self._stop.set()
        self.session.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- etiquette ------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        p = self.params
        return min(p.backoff_max_s, p.backoff_initial_s * 2 ** (attempt - 1))

    def _sleep(self, seconds: float) -> None:
        """Wait, but wake at once (raising :class:`Stopped`) when the client is stopped."""
        if self._stop.wait(max(0.0, seconds)):
            raise Stopped()

    def _check_stopped(self) -> None:
        if self._stop.is_set():
            raise Stopped()

    def _wait_for_pause(self) -> None:
        while True:
            with self._lock:
                delay = self._pause_until - time.monotonic()
            if delay <= 0:
                self._check_stopped()
                return
            self._sleep(delay)

    def _pause_all(self, seconds: float) -> None:
        with self._lock:
            self._pause_until = max(self._pause_until, time.monotonic() + seconds)

    def _throttle(self, nbytes: int) -> None:
        """Keep the total rate of all workers under ``max_mbps``."""
        if self.params.max_mbps is None:
            return
        rate = self.params.max_mbps * 1e6 / 8  # bytes per second
        with self._lock:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            self._bytes += nbytes
            ahead = self._bytes / rate - (now - self._t0)
            if ahead < -THROTTLE_WINDOW_S:  # idle for long: don't save up an unbounded burst
                self._t0, self._bytes = now, 0
        if ahead > 0:
            self._sleep(ahead)

    def _connection_failed(self, url: str, reason: str) -> None:
        """Count a failed connection to ``url``'s host; trip the breaker at the limit."""
        host = urlsplit(url).netloc
        with self._lock:
            self._host_failures[host] += 1
            failures = self._host_failures[host]
        if failures >= self.params.host_failures_max:
            self._stop.set()  # nobody sends another request
            raise HostDown(host, failures, reason)

    def _answered(self, url: str) -> None:
        """The host answered (any HTTP status): it is up, its count starts again."""
        host = urlsplit(url).netloc
        with self._lock:
            self._host_failures.pop(host, None)

    def _check_status(self, r: requests.Response, detail: str = "") -> None:
        code = r.status_code
        if code == 200:
            return
        reason = f"HTTP {code}" + (f": {detail}" if detail else "")
        if code in RETRY_STATUSES:
            wait = parse_retry_after(r.headers.get("Retry-After"))
            raise RetryLater(reason, wait, pause_all=code in PAUSE_STATUSES)
        raise Rejected(reason)

    def _with_retries(self, url: str, attempt_fn: Callable[[], T]) -> T:
        """Run ``attempt_fn`` until it succeeds, fails for good, or attempts run out.

        A pause asked for by the server (429/503, maxlag) holds every worker, not just this
        one; a pause longer than ``retry_after_max_s`` stops the whole client
        (:class:`ServiceBusy`) instead of failing this file while the others carry on.
        """
        p = self.params
        last = ""
        for attempt in range(1, p.max_attempts + 1):
            self._wait_for_pause()
            try:
                out = attempt_fn()
                self._answered(url)
                return out
            except RetryLater as exc:
                last, wait, pause_all = exc.reason, exc.wait, exc.pause_all
            except Rejected:
                self._answered(url)
                raise
            except requests.exceptions.ChunkedEncodingError:
                last, wait, pause_all = "truncated body", None, False
            except requests.exceptions.Timeout:
                last, wait, pause_all = "timeout", None, False
            except requests.exceptions.ConnectionError:
                last, wait, pause_all = "connection error", None, False
            except requests.exceptions.RequestException as exc:  # bad URL, redirect loop, ...
                raise Rejected(type(exc).__name__) from None
            if last.startswith(CONNECTION_FAILURES):
                self._connection_failed(url, last)
            else:
                self._answered(url)
            if wait is not None and wait > p.retry_after_max_s:
                self._stop.set()  # nobody sends another request
                raise ServiceBusy(urlsplit(url).netloc, last, wait, p.retry_after_max_s)
            if wait is None:
                wait = self._backoff(attempt)
            if pause_all:
                self._pause_all(wait)
                if wait >= 5:
                    log.warning("%s: %s; every download pauses for %.0f s as the server asks",
                                urlsplit(url).netloc, last, wait)
            if attempt == p.max_attempts:
                break
            log.debug("%s: %s; retry %d in %.1f s", url, last, attempt + 1, wait)
            self._sleep(wait)
        raise Rejected(f"{last} (after {p.max_attempts} attempts)")

    # -- small documents ------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: Callable[[requests.Response, bytes], None] | None = None,
        explain: Explain | None = None,
    ) -> bytes:
        """GET a small document (JSON from an API) with retries; one-line error on failure.

        ``check`` may inspect a 200 answer and raise :class:`RetryLater` (e.g. MediaWiki's
        ``maxlag`` error, which comes with status 200) or :class:`Rejected`. ``explain`` may
        turn a failed answer into a final reason (a query that timed out on the server will
        time out again: retrying it only adds load). Error messages quote the body's start.
        """

        def attempt() -> bytes:
            self._check_stopped()
            with self.session.get(
                url, params=params, headers=headers, timeout=timeout or self.params.timeout_s
            ) as r:
                body = r.content
                if r.status_code != 200:
                    final = explain(r, body) if explain is not None else None
                    if final:
                        raise Rejected(final)
                    self._check_status(r, body_excerpt(body))
                expected = r.headers.get("Content-Length")
                if (expected and not r.headers.get("Content-Encoding")
                        and len(body) != int(expected)):
                    raise RetryLater(f"truncated body ({len(body)} of {expected} bytes)")
                if check is not None:
                    check(r, body)
                return body

        try:
            return self._with_retries(url, attempt)
        except Rejected as exc:
            raise DownloadError(f"{url}: {exc.reason}") from None
        except Stopped:
            raise DownloadError(f"{url}: stopped") from None

    # -- files ----------------------------------------------------------------------------

    def _download_once(
        self, job: DownloadJob, dest_dir: Path, verify: Verify[T], accept: str
    ) -> Downloaded[T]:
        self._check_stopped()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{job.stem}.", suffix=PART_SUFFIX, dir=dest_dir)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f, self.session.get(
                job.url, stream=True, timeout=self.params.timeout_s
            ) as r:
                self._check_status(r)
                ctype = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if not ctype.startswith(accept):
                    raise Rejected(f"not an image: Content-Type {ctype or 'missing'}")
                length = r.headers.get("Content-Length")
                expected = int(length) if length and not r.headers.get("Content-Encoding") else None
                received = 0
                for chunk in r.iter_content(1 << 16):
                    self._check_stopped()
                    f.write(chunk)
                    received += len(chunk)
                    self._throttle(len(chunk))
            if expected is not None and received != expected:
                raise RetryLater(f"truncated body ({received} of {expected} bytes)")
            suffix, payload = verify(tmp)
            final = dest_dir / f"{job.stem}{suffix}"
            os.chmod(tmp, file_mode())  # mkstemp makes 0600; images get the usual output mode
            os.replace(tmp, final)
            return Downloaded(job.key, final, payload, fetched=True)
        finally:
            tmp.unlink(missing_ok=True)

    def _one(
        self, job: DownloadJob, dest_dir: Path, present: Sequence[Path], verify: Verify[T],
        accept: str,
    ) -> Downloaded[T]:
        for path in present:  # resume: a complete file is verified, not fetched again
            try:
                _, payload = verify(path)
                return Downloaded(job.key, path, payload, fetched=False)
            except Rejected as exc:
                log.warning("%s: %s; fetching it again", path, exc.reason)
                path.unlink(missing_ok=True)
        return self._with_retries(
            job.url, lambda: self._download_once(job, dest_dir, verify, accept)
        )

    def _worker(
        self, todo: queue.SimpleQueue[DownloadJob | None], results: queue.SimpleQueue[Any],
        run: Callable[[DownloadJob], Downloaded[T]],
    ) -> None:
        """Take jobs until the queue is empty or the client stops; report every outcome."""
        while not self._stop.is_set():
            job = todo.get()
            if job is None:
                break
            try:
                outcome: Any = run(job)
            except BaseException as exc:  # Rejected, Stopped, ServiceBusy, or a bug: the caller
                outcome = exc             # decides; nothing is lost in a thread
            results.put((job, outcome))

    def download_many(
        self,
        jobs: Sequence[DownloadJob],
        dest_dir: str | os.PathLike[str],
        verify: Verify[T],
        *,
        accept: str = "image/",
        desc: str = "downloading",
    ) -> DownloadReport[T]:
        """Fetch ``jobs`` into ``dest_dir`` with bounded concurrency; never raises per file.

        Files named ``<stem>.*`` already in ``dest_dir`` are verified and kept (resume).
        Leftover ``.part`` files of an interrupted run are removed first. Raises
        :class:`ServiceBusy` when a server asks for a pause beyond ``retry_after_max_s``,
        :class:`HostDown` when a host fails ``host_failures_max`` connections in a row, and
        lets ``KeyboardInterrupt`` through within seconds; complete files stay in all cases.
        """
        dest = Path(dest_dir)
        present = _files_to_resume(dest)

        def run(job: DownloadJob) -> Downloaded[T]:
            return self._one(job, dest, present.get(job.stem, []), verify, accept)

        workers, results = self._workers(jobs, run)
        report: DownloadReport[T] = DownloadReport()
        try:
            busy = self._collect(jobs, workers, results, report, desc)
        except KeyboardInterrupt:
            self._stop.set()
            self._join(workers)
            log.warning(
                "%s: interrupted; %d of %d files complete and kept in %s: run the same command "
                "again to resume", desc, len(report.done), len(jobs), dest,
            )
            raise
        except BaseException:  # a bug in verify: no worker may carry on alone
            self._stop.set()
            raise
        if busy is not None or len(report.done) + len(report.failed) < len(jobs):
            self._join(workers)
            log.warning("%s: stopped, %d of %d files complete and kept in %s",
                        desc, len(report.done), len(jobs), dest)
            raise busy or DownloadError(f"{dest}: the download was stopped")
        log.info("%s: %s", desc, report.summary())
        return report

    def _workers(
        self, jobs: Sequence[DownloadJob], run: Callable[[DownloadJob], Downloaded[T]],
    ) -> tuple[list[threading.Thread], queue.SimpleQueue[Any]]:
        """The download threads (not started; at most ``concurrency``, one per job at most)
        and the queue they report ``(job, outcome)`` on. Their own queue holds every job and
        one end marker per thread, so each stops when the work is done."""
        todo: queue.SimpleQueue[DownloadJob | None] = queue.SimpleQueue()
        results: queue.SimpleQueue[Any] = queue.SimpleQueue()
        n_workers = min(self.params.concurrency, len(jobs))
        for job in jobs:
            todo.put(job)
        for _ in range(n_workers):
            todo.put(None)
        workers = [
            threading.Thread(target=self._worker, args=(todo, results, run), daemon=True,
                             name=f"download-{i}")
            for i in range(n_workers)
        ]
        return workers, results

    def _collect(
        self, jobs: Sequence[DownloadJob], workers: Sequence[threading.Thread],
        results: queue.SimpleQueue[Any], report: DownloadReport[T], desc: str,
    ) -> StopAll | None:
        """Start the workers and file each outcome in ``report`` as it comes, under a progress
        bar. Returns the :class:`StopAll` that ended the run early, if one did; re-raises any
        other error a worker met (a bug). Returns early, too, when every worker has stopped."""
        from tqdm import tqdm

        with tqdm(total=len(jobs), desc=desc, unit="file", disable=None) as bar:
            for w in workers:
                w.start()
            while len(report.done) + len(report.failed) < len(jobs):
                try:
                    job, outcome = results.get(timeout=0.2)
                except queue.Empty:
                    if not any(w.is_alive() for w in workers) and results.empty():
                        break  # every worker stopped early (StopAll)
                    continue
                if isinstance(outcome, StopAll):
                    return outcome
                _file_outcome(report, job, outcome)
                bar.update(1)
                bar.set_postfix(failed=len(report.failed), refresh=False)
        return None

    @staticmethod
    def _join(workers: Sequence[threading.Thread]) -> None:
        """Give in-flight workers a moment to remove their ``.part`` files (never longer:
        a worker blocked on a slow server must not hold up Ctrl-C)."""
        deadline = time.monotonic() + STOP_GRACE_S
        for w in workers:
            w.join(max(0.0, deadline - time.monotonic()))


def _files_to_resume(dest: Path) -> dict[str, list[Path]]:
    """Complete files already in ``dest`` by stem, after removing the ``.part`` files an
    interrupted run left (creates ``dest``)."""
    dest.mkdir(parents=True, exist_ok=True)
    present: dict[str, list[Path]] = {}
    for p in sorted(dest.iterdir()):
        if p.name.startswith(".") and p.name.endswith(PART_SUFFIX):
            p.unlink(missing_ok=True)
        elif p.is_file() and not p.name.startswith("."):
            present.setdefault(p.stem, []).append(p)
    return present


def _file_outcome(report: DownloadReport[T], job: DownloadJob, outcome: Any) -> None:
    """One worker's outcome into the report: a file done, a file refused, or a bug raised
    (:class:`Stopped` is neither: the client was told to stop)."""
    if isinstance(outcome, Downloaded):
        report.done[job.key] = outcome
    elif isinstance(outcome, Rejected):
        report.failed[job.key] = outcome.reason
        log.debug("%s: %s", job.url, outcome.reason)
    elif isinstance(outcome, BaseException) and not isinstance(outcome, Stopped):
        raise outcome
