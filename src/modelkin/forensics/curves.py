"""Training-loss curves as lineage evidence: do two runs share their training history?

Two runs that share batches (a run and its resumed or copied continuation, or a model
re-trained from the same checkpoint and data stream) share the batch-to-batch wiggles of
their loss: spikes on hard batches, plateaus, dips. Independent runs share only the
smooth downward trend. So the test removes the trend and correlates what is left:

1. read each curve (CSV, JSON or TensorBoard event file — :func:`read_curve`);
2. align them on their overlap by ``step`` or ``tokens``, interpolating the denser curve
   onto the sparser one's points;
3. detrend ``log(loss)`` with a running median (robust to the spikes we want to keep)
   and standardise the residuals;
4. statistic = Pearson correlation of the residuals; null = the same correlation after
   circular shifts of one residual series (keeps each series' autocorrelation, breaks the
   alignment — the circular-shift / "toroidal" null used for autocorrelated series). The
   p-value is the Monte Carlo one, never below ``1/(#shifts + 1)``; a normal tail fitted
   to the shifted correlations is reported beside it as an asymptotic extrapolation, and
   :func:`shares_history` (the CLI's "related") needs both: the observed correlation
   above every shift *and* that tail at most :data:`HISTORY_P`;
5. optionally, an empirical background of correlations between independently seeded runs
   (:func:`background`) is reported beside the null.

The p-value is under the hypothesis that the two runs' residual fluctuations are
independent. It says nothing about weights: a fine-tune logged from step 0 on new data
shares no history with its parent and will *not* be flagged here.
"""

from __future__ import annotations

import csv
import io
import json
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelkinError
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.numerics import norm_sf
from modelkin.forensics.stats import ASYMPTOTIC_FLOOR, METHOD_MC

#: Largest curve file read (bytes) and most points kept: loss logs are small.
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_POINTS = 5_000_000
#: Fewest aligned points for a test.
MIN_POINTS = 20
#: Asymptotic tail (fitted normal) at or below which, with the observed correlation above
#: every circular shift, two runs are said to share their training history.
HISTORY_P = 1e-6
TEST_NAME = "loss_curve_shape"

_STEP_KEYS = (
    "step",
    "steps",
    "global_step",
    "_step",
    "iter",
    "iteration",
    "iterations",
    "train/global_step",
    "trainer/global_step",
)
_TOKEN_KEYS = (
    "tokens",
    "token",
    "num_tokens",
    "tokens_seen",
    "consumed_tokens",
    "train/tokens",
    "num_input_tokens_seen",
)
_LOSS_KEYS = (
    "loss",
    "train_loss",
    "train/loss",
    "training_loss",
    "lm_loss",
    "lm loss",
    "value",
    "losses",
)


@dataclass(frozen=True)
class Curve:
    """One loss curve: ``loss`` against ``steps`` and/or ``tokens`` (sorted, unique x)."""

    loss: np.ndarray
    steps: np.ndarray | None
    tokens: np.ndarray | None
    source: str
    tag: str | None = None
    dropped: int = 0  # rows with a non-finite loss that were left out

    def __len__(self) -> int:
        return len(self.loss)


MEANING = (
    "Correlation of the two loss curves' fluctuations around their trend, after aligning "
    "them by training step or tokens. Runs that shared batches (a resumed or copied run) "
    "spike and plateau together; independent runs do not. A small p-value means the "
    "fluctuations are far more alike than independent runs' would be."
)
LIMITS = (
    "Needs at least 20 overlapping points. Detects shared training history, not shared "
    "weights: a fine-tune logged on new data from step 0 looks independent. Two runs that "
    "read identical batches in identical order from different initialisations also "
    "correlate (shared data pipeline). Logs can be fabricated. The p-value never goes "
    "below 1/(#shifts + 1); the normal tail fitted to the shifts is an asymptotic "
    "extrapolation, shown beside it."
)


# -- reading ---------------------------------------------------------------------------


def _finish(
    source: str,
    steps: list[float] | None,
    tokens: list[float] | None,
    loss: list[float],
    tag: str | None,
) -> Curve:
    if not loss:
        raise ModelkinError(source, "no loss values found")
    y = np.asarray(loss, dtype=np.float64)
    xs = [np.asarray(v, dtype=np.float64) if v is not None else None for v in (steps, tokens)]
    ok = np.isfinite(y)
    for x in xs:
        if x is not None:
            ok &= np.isfinite(x)
    dropped = int((~ok).sum())
    y = y[ok]
    xs = [x[ok] if x is not None else None for x in xs]
    if len(y) == 0:
        raise ModelkinError(source, "every loss value is missing or non-finite")
    key = xs[0] if xs[0] is not None else xs[1]
    if key is None:
        key = np.arange(len(y), dtype=np.float64)
        xs[0] = key
    # sort by x; where a step repeats (a resumed log), the last logged value wins
    order = np.argsort(key, kind="stable")
    rev = order[::-1]
    _, first_in_rev = np.unique(key[rev], return_index=True)
    keep = np.sort(rev[first_in_rev])
    keep = keep[np.argsort(key[keep], kind="stable")]
    steps_a, tokens_a = (x[keep] if x is not None else None for x in xs)
    return Curve(y[keep], steps_a, tokens_a, source, tag, dropped)


def _pick(names: Sequence[str], wanted: Iterable[str], contains: str | None = None) -> int | None:
    low = [n.strip().lower() for n in names]
    for w in wanted:
        if w in low:
            return low.index(w)
    if contains:
        hits = [i for i, n in enumerate(low) if contains in n]
        if len(hits) == 1:
            return hits[0]
    return None


def _num(v: Any, where: str) -> float:
    if v is None or (isinstance(v, str) and v.strip() == ""):
        return math.nan
    if isinstance(v, bool):
        raise ModelkinError(where, f"expected a number, got {v!r}")
    try:
        return float(v)
    except (TypeError, ValueError) as exc:
        raise ModelkinError(where, f"expected a number, got {str(v)[:40]!r}") from exc


def _read_csv(text: str, source: str) -> Curve:
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    except csv.Error as exc:
        raise ModelkinError(source, f"malformed CSV: {exc}") from exc
    if not rows:
        raise ModelkinError(source, "empty CSV")
    if len(rows) > MAX_POINTS:
        raise ModelkinError(source, f"more than {MAX_POINTS} rows")
    head = rows[0]
    try:
        [float(c) for c in head]
        numeric_head = True
    except ValueError:
        numeric_head = False
    if numeric_head:  # no header: loss | step,loss | step,tokens,loss
        width = len(head)
        names = {1: ["loss"], 2: ["step", "loss"], 3: ["step", "tokens", "loss"]}.get(width)
        if names is None:
            raise ModelkinError(source, f"headerless CSV with {width} columns; add a header")
        body = rows
    else:
        names, body = head, rows[1:]
    si = _pick(names, _STEP_KEYS)
    ti = _pick(names, _TOKEN_KEYS, contains="token")
    li = _pick(names, _LOSS_KEYS, contains="loss")
    if li is None:
        raise ModelkinError(source, f"no loss column among {names!r} (name one 'loss')")
    steps: list[float] | None = [] if si is not None else None
    tokens: list[float] | None = [] if ti is not None else None
    loss: list[float] = []
    for n, r in enumerate(body, start=2 if not numeric_head else 1):
        where = f"{source}: row {n}"
        if len(r) != len(names):
            raise ModelkinError(where, f"has {len(r)} fields, header has {len(names)}")
        loss.append(_num(r[li], where))
        if steps is not None and si is not None:
            steps.append(_num(r[si], where))
        if tokens is not None and ti is not None:
            tokens.append(_num(r[ti], where))
    return _finish(source, steps, tokens, loss, names[li])


def _read_json(text: str, source: str) -> Curve:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ModelkinError(source, f"malformed JSON: {exc}") from exc
    if isinstance(data, Mapping):
        keys = list(data)
        li = _pick(keys, _LOSS_KEYS, contains="loss")
        if li is None or not isinstance(data[keys[li]], list):
            raise ModelkinError(source, "JSON object needs a list under 'loss'")
        loss_v = data[keys[li]]
        cols: list[list[float] | None] = []
        for ki in (_pick(keys, _STEP_KEYS), _pick(keys, _TOKEN_KEYS, contains="token")):
            if ki is None:
                cols.append(None)
                continue
            v = data[keys[ki]]
            if not isinstance(v, list) or len(v) != len(loss_v):
                raise ModelkinError(source, f"{keys[ki]!r} must be a list as long as the loss")
            cols.append([_num(x, f"{source}: {keys[ki]}[{i}]") for i, x in enumerate(v)])
        if len(loss_v) > MAX_POINTS:
            raise ModelkinError(source, f"more than {MAX_POINTS} points")
        loss = [_num(x, f"{source}: loss[{i}]") for i, x in enumerate(loss_v)]
        return _finish(source, cols[0], cols[1], loss, keys[li])
    if isinstance(data, list):
        if len(data) > MAX_POINTS:
            raise ModelkinError(source, f"more than {MAX_POINTS} points")
        if not data or not all(isinstance(d, Mapping) for d in data):
            raise ModelkinError(source, "JSON list must hold objects like {step, loss}")
        keys = list(data[0])
        li = _pick(keys, _LOSS_KEYS, contains="loss")
        if li is None:
            raise ModelkinError(source, f"no loss key among {keys!r}")
        si, ti = _pick(keys, _STEP_KEYS), _pick(keys, _TOKEN_KEYS, contains="token")
        steps: list[float] | None = [] if si is not None else None
        tokens: list[float] | None = [] if ti is not None else None
        loss = []
        for i, d in enumerate(data):
            where = f"{source}: item {i}"
            loss.append(_num(d.get(keys[li]), where))
            if steps is not None and si is not None:
                steps.append(_num(d.get(keys[si]), where))
            if tokens is not None and ti is not None:
                tokens.append(_num(d.get(keys[ti]), where))
        return _finish(source, steps, tokens, loss, keys[li])
    raise ModelkinError(source, "JSON must be a list of points or an object of lists")


# -- TensorBoard event files -----------------------------------------------------------


def _crc32c_table() -> list[int]:
    poly = 0x82F63B78  # Castagnoli polynomial, reflected (RFC 3720 appendix B.4)
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C of ``data`` (the checksum TFRecord framing uses)."""
    crc = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: rotate right by 15 bits and add 0xa282ead8."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(buf: bytes, pos: int, where: str) -> tuple[int, int]:
    out = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ModelkinError(where, "truncated or oversized protobuf varint")
        b = buf[pos]
        pos += 1
        out |= (b & 0x7F) << shift
        if not b & 0x80:
            return out, pos
        shift += 7


def _fields(buf: bytes, where: str) -> list[tuple[int, int, Any]]:
    """Decode one protobuf message level: ``(field number, wire type, value)``."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos, where)
        num, wt = key >> 3, key & 7
        v: Any
        if wt == 0:
            v, pos = _varint(buf, pos, where)
        elif wt == 1:
            if pos + 8 > len(buf):
                raise ModelkinError(where, "truncated protobuf fixed64")
            v, pos = buf[pos : pos + 8], pos + 8
        elif wt == 2:
            n, pos = _varint(buf, pos, where)
            if pos + n > len(buf):
                raise ModelkinError(where, "protobuf length runs past the record")
            v, pos = buf[pos : pos + n], pos + n
        elif wt == 5:
            if pos + 4 > len(buf):
                raise ModelkinError(where, "truncated protobuf fixed32")
            v, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ModelkinError(where, f"unsupported protobuf wire type {wt}")
        out.append((num, wt, v))
    return out


def _tensor_scalar(buf: bytes, where: str) -> float | None:
    """A scalar from a TensorProto (dtype 1 = float, 2 = double)."""
    dtype = 1
    vals: list[float] = []
    content = b""
    for num, wt, v in _fields(buf, where):
        if num == 1 and wt == 0:
            dtype = v
        elif num == 4 and wt == 2:
            content = v
        elif num == 5 and wt in (2, 5):  # float_val, packed (2) or single fixed32 (5)
            vals += list(struct.unpack(f"<{len(v) // 4}f", v[: len(v) // 4 * 4]))
        elif num == 6 and wt in (1, 2):  # double_val
            vals += list(struct.unpack(f"<{len(v) // 8}d", v[: len(v) // 8 * 8]))
    if vals:
        return float(vals[0])
    if content:
        if dtype == 1 and len(content) >= 4:
            return float(struct.unpack("<f", content[:4])[0])
        if dtype == 2 and len(content) >= 8:
            return float(struct.unpack("<d", content[:8])[0])
    return None


def read_tfevents(path: Path, tag: str | None = None) -> Curve:
    """Scalars of one tag from a TensorBoard event file (TFRecord framing: uint64 length,
    masked CRC-32C of the length, data, masked CRC-32C of the data; each record an
    ``Event`` protobuf whose ``summary.value`` holds ``tag`` and ``simple_value`` or a
    scalar ``tensor``). Every CRC is checked. Without ``tag``, the only tag containing
    "loss" is used."""
    src = str(path)
    raw = _read_bytes(Path(path))
    by_tag: dict[str, dict[int, float]] = {}
    pos = 0
    rec = 0
    while pos < len(raw):
        where = f"{src}: record {rec}"
        if pos + 12 > len(raw):
            raise ModelkinError(where, "truncated record header")
        head = raw[pos : pos + 8]
        (n,) = struct.unpack("<Q", head)
        (hcrc,) = struct.unpack("<I", raw[pos + 8 : pos + 12])
        if masked_crc32c(head) != hcrc:
            raise ModelkinError(where, "length checksum mismatch (not a TFRecord file?)")
        if n > len(raw) - pos - 16:
            raise ModelkinError(where, f"record length {n} runs past the end of the file")
        data = raw[pos + 12 : pos + 12 + n]
        (dcrc,) = struct.unpack("<I", raw[pos + 12 + n : pos + 16 + n])
        if masked_crc32c(data) != dcrc:
            raise ModelkinError(where, "data checksum mismatch (corrupted record)")
        pos += 16 + n
        rec += 1
        step = 0
        summary = None
        for num, wt, v in _fields(data, where):
            if num == 2 and wt == 0:
                step = v - (1 << 64) if v >= 1 << 63 else v
            elif num == 5 and wt == 2:
                summary = v
        if summary is None:
            continue
        for num, wt, v in _fields(summary, where):
            if num != 1 or wt != 2:
                continue
            vtag, val = None, None
            for fnum, fwt, fv in _fields(v, where):
                if fnum == 1 and fwt == 2:
                    vtag = fv.decode("utf-8", errors="replace")
                elif fnum == 2 and fwt == 5:
                    val = float(struct.unpack("<f", fv)[0])
                elif fnum == 8 and fwt == 2:
                    val = _tensor_scalar(fv, where)
            if vtag is not None and val is not None:
                by_tag.setdefault(vtag, {})[step] = val
    if not by_tag:
        raise ModelkinError(src, "no scalar summaries in this event file")
    if tag is None:
        losses = [t for t in by_tag if "loss" in t.lower()]
        if len(losses) != 1:
            raise ModelkinError(
                src, f"choose a tag with --tag; scalar tags: {', '.join(sorted(by_tag))}"
            )
        tag = losses[0]
    if tag not in by_tag:
        raise ModelkinError(src, f"no tag {tag!r}; scalar tags: {', '.join(sorted(by_tag))}")
    pts = sorted(by_tag[tag].items())
    return _finish(src, [float(s) for s, _ in pts], None, [v for _, v in pts], tag)


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelkinError(
                path, f"{size} bytes; loss-curve files are capped at {MAX_FILE_BYTES}"
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelkinError(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise ModelkinError(path, "is a directory, expected a loss-curve file") from exc
    except OSError as exc:
        raise ModelkinError(path, f"cannot read: {exc}") from exc


def read_curve(path: Path | str, tag: str | None = None) -> Curve:
    """Read a loss curve from CSV, JSON or a TensorBoard event file (detected by name
    ``*tfevents*`` or by content)."""
    p = Path(path)
    raw = _read_bytes(p)
    looks_tfrecord = len(raw) >= 12 and masked_crc32c(raw[:8]) == struct.unpack("<I", raw[8:12])[0]
    if "tfevents" in p.name or looks_tfrecord:
        return read_tfevents(p, tag)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ModelkinError(p, "not UTF-8 text, nor a TensorBoard event file") from exc
    if p.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
        return _read_json(text, str(p))
    return _read_csv(text, str(p))


# -- statistics (pure) -------------------------------------------------------------------


def _axis(c: Curve, by: str) -> np.ndarray:
    x = c.steps if by == "step" else c.tokens
    if x is None:
        raise ModelkinError(c.source, f"curve has no {by} column to align by")
    return x


def align(a: Curve, b: Curve, by: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Both curves on common x points of their overlap: ``(x, loss_a, loss_b, by)``.

    The curve with fewer points in the overlap provides the grid; the other is linearly
    interpolated onto it."""
    if by == "auto":
        if a.steps is not None and b.steps is not None:
            by = "step"
        elif a.tokens is not None and b.tokens is not None:
            by = "tokens"
        else:
            raise ModelkinError(b.source, "curves share neither a step nor a tokens axis")
    if by not in ("step", "tokens"):
        raise ModelkinError(by, "align by 'step', 'tokens' or 'auto'")
    xa, xb = _axis(a, by), _axis(b, by)
    lo, hi = max(xa[0], xb[0]), min(xa[-1], xb[-1])
    ina = (xa >= lo) & (xa <= hi)
    inb = (xb >= lo) & (xb <= hi)
    if ina.sum() <= inb.sum():
        x = xa[ina]
        return x, a.loss[ina], np.interp(x, xb, b.loss), by
    x = xb[inb]
    return x, np.interp(x, xa, a.loss), b.loss[inb], by


def _running_median(y: np.ndarray, window: int) -> np.ndarray:
    half = window // 2
    padded = np.pad(y, half, mode="reflect")
    view = np.lib.stride_tricks.sliding_window_view(padded, window)
    return np.asarray(np.median(view, axis=1))


def residuals(loss: np.ndarray, window: int | None = None) -> np.ndarray:
    """Standardised fluctuations of ``log(loss)`` around its running-median trend."""
    y = np.log(loss) if np.all(loss > 0) else np.asarray(loss, dtype=np.float64)
    n = len(y)
    if window is None:
        window = max(5, n // 25)
    window = min(window | 1, (n - 1) | 1 if n > 2 else 1)
    r = y - _running_median(y, window) if window > 1 else y - y.mean()
    sd = r.std()
    return (r - r.mean()) / sd if sd > 0 else r - r.mean()


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = a.std(), b.std()
    if sa == 0 or sb == 0:
        return 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


def compare_curves(
    a: Curve,
    b: Curve,
    by: str = "auto",
    background: Sequence[float] | None = None,
    max_shifts: int = 2000,
) -> Evidence:
    """Test whether curves ``a`` and ``b`` share their fluctuations (see module doc).

    ``background``: correlations measured between independently seeded runs (e.g. from
    :func:`background`), reported as an empirical reference; the p-value itself comes
    from the circular-shift null."""
    x, ya, yb, by = align(a, b, by)
    n = len(x)
    base: dict[str, Any] = {
        "aligned_by": by,
        "points": n,
        "a": a.source,
        "b": b.source,
        "a_tag": a.tag,
        "b_tag": b.tag,
    }
    if n < MIN_POINTS:
        return Evidence(
            TEST_NAME,
            None,
            None,
            {"kind": "circular_shift", "draws": 0},
            {
                **base,
                "reason": f"only {n} overlapping points (need {MIN_POINTS})",
                "skipped": f"only {n} overlapping points (need {MIN_POINTS})",
            },
            meaning=MEANING,
            limits=LIMITS,
        )
    ra, rb = residuals(ya), residuals(yb)
    r = _corr(ra, rb)
    margin = max(3, n // 20)
    shifts = np.arange(margin, n - margin + 1)
    if len(shifts) > max_shifts:
        shifts = shifts[np.linspace(0, len(shifts) - 1, max_shifts).astype(int)]
    null = np.array([_corr(ra, np.roll(rb, int(s))) for s in shifts])
    mu, sd = float(null.mean()), float(null.std())
    sd = max(sd, 1.0 / math.sqrt(n))  # never narrower than white noise would give
    p_emp = (1 + int((null >= r).sum())) / (1 + len(null))
    p_tail = max(ASYMPTOTIC_FLOOR, norm_sf((r - mu) / sd))
    details = {
        **base,
        "x_range": [float(x[0]), float(x[-1])],
        "p_empirical": p_emp,
        "p_normal_tail": p_tail,
        "p_normal_tail_note": "asymptotic extrapolation beyond the shifts (floor 1e-16)",
        "z": (r - mu) / sd,
    }
    if background is not None and len(background):
        bg = np.asarray(background, dtype=np.float64)
        details["background"] = {
            "runs": len(bg),
            "max": float(bg.max()),
            "mean": float(bg.mean()),
            "exceeded_by": int((bg >= r).sum()),
        }
    return Evidence(
        TEST_NAME,
        r,
        float(min(1.0, p_emp)),
        {
            "kind": "circular_shift",
            "draws": len(null),
            "mean": mu,
            "std": sd,
            "quantiles": {str(q): float(np.quantile(null, q)) for q in (0.5, 0.99)},
        },
        details,
        plot={"x": x.tolist(), "residual_a": ra.tolist(), "residual_b": rb.tolist(), "x_label": by},
        meaning=MEANING,
        limits=LIMITS,
        p_floor=1.0 / (1 + len(null)),
        p_method=f"{METHOD_MC} ({len(null)} circular shifts)",
    )


def shares_history(ev: Evidence) -> bool | None:
    """The related rule of the curve test: the observed residual correlation exceeds every
    circular shift (p at its Monte Carlo floor) and the fitted normal tail is at most
    :data:`HISTORY_P`. None when the test could not run."""
    if ev.p_value is None or ev.p_floor is None:
        return None
    tail = ev.details.get("p_normal_tail")
    return ev.p_value <= ev.p_floor and isinstance(tail, float) and tail <= HISTORY_P


def background(curves: Sequence[Curve], by: str = "auto") -> list[float]:
    """Residual correlations of every pair of ``curves`` (independently seeded runs):
    the empirical distribution that unrelated runs produce."""
    out = []
    for i in range(len(curves)):
        for j in range(i + 1, len(curves)):
            x, ya, yb, _ = align(curves[i], curves[j], by)
            if len(x) >= MIN_POINTS:
                out.append(_corr(residuals(ya), residuals(yb)))
    return out


def compare_curve_files(
    a: Path | str,
    b: Path | str,
    by: str = "auto",
    tag: str | None = None,
    background_files: Sequence[Path | str] = (),
) -> Evidence:
    """:func:`compare_curves` on two files; ``background_files`` are curves of
    independently seeded runs for the empirical reference."""
    bg = background([read_curve(f, tag) for f in background_files]) if background_files else None
    return compare_curves(read_curve(a, tag), read_curve(b, tag), by, bg)
