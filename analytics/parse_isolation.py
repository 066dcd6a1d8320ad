"""Parsing in a child process with memory and time limits, so no file can take the server or the CLI down.

A workbook can make the reader abort the whole process (a sheet spanning A1:XFD1048576 asks for
512 GiB and Rust aborts), loop for ever, or exhaust memory. `prepare` runs the importer's parse
(analytics.importer.pipeline.prepare) in a worker process whose address space is capped
(resource.RLIMIT_AS = Limits.parse_memory_bytes) and waits at most Limits.parse_seconds; an abort,
a memory failure or a timeout ends only that worker, and the caller gets a UserError saying so in
Chinese and English. The worker is started once (spawn: a fresh interpreter, safe beside the
server's threads) and reused while it stays healthy, so only the first parse pays its start-up.
"""

from __future__ import annotations

import atexit
import concurrent.futures as futures
import dataclasses
import multiprocessing
import multiprocessing.util
import os
import resource
import shutil
import tempfile
import threading
import time
import uuid

from analytics.errors import UserError
from analytics.upload_guard import DEFAULT_LIMITS, Limits, check_upload

MB = 1024 * 1024
_pools: dict[int, futures.ProcessPoolExecutor] = {}
_lock = threading.Lock()


def _close_pools() -> None:
    """Idle workers end with the process, quietly (no "Exception ignored" at interpreter exit)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        # Idle workers leave at once; one still parsing (the process is ending anyway) is killed, not awaited.
        if getattr(pool, "_pending_work_items", None):
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.kill()
        pool.shutdown(wait=True, cancel_futures=True)


# At interpreter exit, and also when this process is itself a multiprocessing worker (the benchmark
# runs imports in one): its exit joins child processes, so idle parse workers must be told to leave first.
atexit.register(_close_pools)
multiprocessing.util.Finalize(None, _close_pools, exitpriority=100)


def _limit_memory(limit: int) -> None:
    """Runs first in the worker: cap its address space (it cannot raise the cap again), and keep a dying
    reader's Rust backtrace off the user's terminal (the parent reports what happened)."""
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _prepare_in_worker(content, file_name: str, kind: str | None, limits: Limits, options, spill: str | None):
    from analytics.importer.pipeline import for_parent, prepare

    try:
        prepared = for_parent(prepare(_bytes(content), file_name, kind, limits, options))
        return _swap_frames(prepared, lambda frame: _Spilled(frame, spill)) if spill else prepared
    except MemoryError:
        raise UserError(_out_of_memory(file_name, limits)) from None


def _raw_rows_in_worker(content, file_name: str, reread: tuple, wanted, spill: str | None):
    """The source rows `wanted` (sheet, row) of a file parsed before, read again with the same choices."""
    from analytics.importer.pipeline import prepare, raw_rows

    kind, limits, options = reread
    again = prepare(_bytes(content), file_name, kind, limits, options)
    found = raw_rows(again, wanted)
    return _Spilled(found, spill) if spill else found


class _Content:
    """A file's bytes handed to the worker as a file in the spill folder: through the worker's pipe they
    are pickled and copied in chunks (0.35 s for an 80 MB CSV); in RAM-backed /dev/shm the file costs 0.04 s."""

    def __init__(self, content: bytes, folder: str):
        self.path = os.path.join(folder, "content")
        with open(self.path, "wb") as out:
            out.write(content)


def _bytes(content) -> bytes:
    if isinstance(content, _Content):
        with open(content.path, "rb") as source:
            return source.read()
    return content


class _Spilled:
    """A frame the worker wrote to an Arrow IPC file, in place of the frame in its answer.

    Sending frames back through the worker's pipe pickles them: 6 s and 460 MB for a 50k-people CSV's facts
    and cut sheet, most of it system time. Written to a file they cost ~1 s, and the parent maps them in.
    """

    def __init__(self, frame, folder: str):
        self.path = os.path.join(folder, f"{uuid.uuid4().hex}.arrow")
        frame.write_ipc(self.path, compression="uncompressed")

    def load(self):
        import polars as pl

        # Mapped, not copied: the pages stay readable after the folder is removed (POSIX unlink semantics).
        return pl.read_ipc(self.path, memory_map=True)


def _swap_frames(value, swap):
    """`value` with every Polars frame in it (in dataclass fields, lists, tuples and dicts) replaced by swap(frame)."""
    import polars as pl

    if isinstance(value, pl.DataFrame | _Spilled):
        return swap(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: _swap_frames(getattr(value, f.name), swap) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changed)
    if isinstance(value, list | tuple):
        return type(value)(_swap_frames(v, swap) for v in value)
    if isinstance(value, dict):
        return {k: _swap_frames(v, swap) for k, v in value.items()}
    return value


def _pool(limits: Limits) -> futures.ProcessPoolExecutor:
    with _lock:
        pool = _pools.get(limits.parse_memory_bytes)
        if pool is None:
            pool = futures.ProcessPoolExecutor(
                max_workers=2,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_limit_memory,
                initargs=(limits.parse_memory_bytes,),
            )
            _pools[limits.parse_memory_bytes] = pool
        return pool


def _ready() -> None:
    import analytics.importer.pipeline  # noqa: F401 (Polars and the readers, imported while the caller starts)


def start_worker(limits: Limits = DEFAULT_LIMITS) -> None:
    """Start a worker now, so its interpreter and libraries load while the caller does its own start-up
    (the CLI's import: 0.6 s of the worker's first parse)."""
    if os.environ.get("KAOHE_PARSE_IN_PROCESS") != "1":
        _pool(limits).submit(_ready)


def _discard(limits: Limits, pool: futures.ProcessPoolExecutor) -> None:
    """Kill the pool's workers (a runaway parse) and forget it; the next parse starts a fresh one."""
    with _lock:
        if _pools.get(limits.parse_memory_bytes) is pool:
            del _pools[limits.parse_memory_bytes]
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.kill()
    # Waited for: with its workers dead the pool's manager thread ends at once, and one still ending at
    # interpreter exit races concurrent.futures' own exit hook ("Bad file descriptor" printed by a CLI).
    pool.shutdown(wait=True, cancel_futures=True)


def prepare(content: bytes, file_name: str, kind: str | None = None, limits: Limits = DEFAULT_LIMITS, options=None):
    """The importer's `prepare` (a file's checked facts, as pipeline.for_parent keeps them) run in a limited
    worker process.

    Size, type, zip-bomb and sheet-dimension checks run here first (cheap, no parser involved).
    """
    from analytics.importer.pipeline import refuse_word

    refuse_word(content, file_name)  # a Word document is named as one, not called a damaged workbook
    check_upload(content, file_name, limits)
    return _through_files(_prepare_in_worker, content, (file_name, kind, limits, options), file_name, limits)


def raw_rows(content: bytes, prepared, wanted):
    """(sheet, row, RAW) of the source rows `wanted` names, for rows prepare() did not look up (refused later)."""
    args = (prepared.file_name, prepared.reread, wanted.select("sheet", "row"))
    return _through_files(_raw_rows_in_worker, content, args, prepared.file_name, prepared.reread[1])


def _through_files(job, content: bytes, args: tuple, file_name: str, limits: Limits):
    """job(content, *args, spill) in the worker, the bytes and the frames it answers with passed as files."""
    if os.environ.get("KAOHE_PARSE_IN_PROCESS") == "1":
        return run_limited(job, (content, *args, None), file_name, limits)
    spill = tempfile.mkdtemp(prefix="kaohe-parse-", dir=_spill_parent(len(content)))
    try:
        answer = run_limited(job, (_Content(content, spill), *args, spill), file_name, limits)
        return _swap_frames(answer, lambda spilled: spilled.load())
    finally:
        shutil.rmtree(spill, ignore_errors=True)


SHM = "/dev/shm"


def _spill_parent(size: int) -> str | None:
    """RAM-backed /dev/shm when it has room for the file and what the parse makes of it (about 8x its size;
    containers often give it 64 MB), else the system's temporary folder."""
    try:
        free = os.statvfs(SHM)
    except OSError:
        return None
    room = free.f_bavail * free.f_frsize
    if not (os.access(SHM, os.W_OK) and room > 8 * size + 256 * MB):
        return None
    _sweep(SHM)
    return SHM


STALE_S = 6 * 3600  # longer than any parse may run (FILE_LIMITS.parse_seconds is one hour)


def _sweep(folder: str) -> None:
    """Remove spill folders a killed process left in RAM-backed storage (they would hold memory until reboot)."""
    now = time.time()
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("kaohe-parse-") and now - entry.stat().st_mtime > STALE_S:
                shutil.rmtree(entry.path, ignore_errors=True)


def run_limited(job, args: tuple, file_name: str, limits: Limits = DEFAULT_LIMITS):
    """`job(*args)` in a worker within limits.parse_memory_bytes and limits.parse_seconds (UserError otherwise).

    `job` must be importable by name (a module-level function): the worker is a fresh interpreter.
    Set KAOHE_PARSE_IN_PROCESS=1 to run it in this process (debugging only: no limits then).
    """
    if os.environ.get("KAOHE_PARSE_IN_PROCESS") == "1":
        return job(*args)
    # A worker that dies takes every job of its pool with it: a file whose parse was only a bystander
    # succeeds on the second try in a fresh pool; the file that kills its worker twice is reported.
    for attempt in (1, 2):
        pool = _pool(limits)
        try:
            return pool.submit(job, *args).result(timeout=limits.parse_seconds)
        except futures.TimeoutError:
            _discard(limits, pool)
            raise UserError(
                f"{file_name}: 读取超过 {limits.parse_seconds:g} 秒仍未完成，已中止；文件可能已损坏或异常庞大 / "
                f"reading the file took over {limits.parse_seconds:g} s and was stopped; it may be damaged or unusually large"
            ) from None
        except futures.process.BrokenProcessPool:
            _discard(limits, pool)
            if attempt == 2:
                raise UserError(_out_of_memory(file_name, limits)) from None
    raise AssertionError("unreachable")


def _out_of_memory(file_name: str, limits: Limits) -> str:
    gib = limits.parse_memory_bytes / (1024 * MB)
    return (
        f"{file_name}: 读取时超出内存上限（{gib:g} GiB）或读取程序异常退出，已中止；工作表可能在远离数据的位置"
        f"（如 XFD1048576）有单元格或格式，或文件已损坏。请在 Excel 中删除多余的行列后另存再试 / "
        f"reading the file exceeded its memory allowance ({gib:g} GiB) or the reader crashed, and was stopped; a sheet may "
        f"hold cells or formatting far from its data (such as XFD1048576), or the file is damaged. Delete the stray rows "
        f"and columns in Excel and save it again"
    )
