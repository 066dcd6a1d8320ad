"""The one Monte Carlo engine: null draws of fixed-margin queues and sequential p-values.

Null H0 (fixed margins): in every quarter the k_t people given the grade are a uniformly random k_t-subset
of the people eligible that quarter, independently across quarters.

Draws. Sequential sampling over person slots: slot j is taken with probability (k still to give) /
(eligible slots left), which gives exactly k_t people per (test, quarter, draw) and a uniformly random
subset; the uniforms are 16-bit (an inclusion probability is off by less than 1/65536). The random bits are
counter-based: splitmix64 of (the test's key, slot, quarter, draw index). So a test's draws depend on
its own names and the draw index only: not on the other tests, the chunking, or when a test stopped,
and the full-draw run sees the very draws the sequential run saw, only more of them.

Sequential p-values (Besag and Clifford 1991): draws come in rounds (64, 64, 128, ... up to `draws`);
a window stops once h null values are at or below the observed one, p = h / L with L the draws it took;
otherwise after all n draws p = (G + 1) / (n + 1). Both are valid p-values. Most honest queues stop after
one round, so the work goes to the few that look like rotation.

Exact p-values: where nobody repeats (T = 0) and the same people are eligible all through the window, the
p-value is the exact chance of that (statistic.no_repeat_chance) and no draws are made.

Smallest attainable p (Tarone), from the margins and the null alone: the share of the first round's draws
tied with that round's most extreme value, or the chance that nobody repeats (T = 0), whichever is smaller. A window whose smallest attainable p exceeds alpha could never be
significant; it stops after the first round and stays out of the false-discovery control.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.detectors.rotation.statistic import Expected, Tally, Windows, expected, no_repeat_chance, statistic
from analytics.detectors.rotation.subjects import Queues

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1, MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
FIRST_ROUND = 64
CELLS_PER_GROUP = 1_500_000  # tests x quarters x draws drawn together: working arrays of a few MB


def uniforms(keys: np.ndarray, slot: int, quarters: int, first_draw: int, draws: int) -> np.ndarray:
    """(len(keys), quarters, draws) 16-bit uniforms: four per splitmix64 word of (key, slot, quarter, draw // 4)."""
    t = np.arange(quarters, dtype=np.uint64)[:, None] << np.uint64(32)
    word = (np.arange(draws // 4, dtype=np.uint64) + np.uint64(first_draw // 4))[None, :]
    counter = (np.uint64(slot) << np.uint64(44)) | t | word
    z = keys[:, None, None] + counter[None] * GOLDEN
    z ^= z >> np.uint64(30)
    z *= MIX1
    z ^= z >> np.uint64(27)
    z *= MIX2
    z ^= z >> np.uint64(31)
    return z.view(np.uint16).reshape(len(keys), quarters, draws)


@dataclass
class Draws:
    """What a batch of tests needs to draw: keys, the inclusion scale per slot, and k_t."""

    keys: np.ndarray
    scale: np.ndarray  # (n, P, T) 65536 / eligible slots left from j on, 0 where slot j is not eligible
    k: np.ndarray  # (n, T)
    n_slots: np.ndarray

    @classmethod
    def of(cls, q: Queues, keys: np.ndarray) -> Draws:
        e = q.eligible
        left = np.flip(np.cumsum(np.flip(e, axis=1), axis=1, dtype=np.int32), axis=1)
        scale = np.divide(65536.0, left, out=np.zeros(left.shape), where=e).astype(np.float32)
        return cls(keys, scale, q.chosen.sum(axis=1).astype(np.float32), q.n_slots)

    def take(self, rows: np.ndarray) -> Draws:
        return Draws(self.keys[rows], self.scale[rows], self.k[rows], self.n_slots[rows])


def free_draws(d: Draws, m: np.ndarray, windows: Windows, first_draw: int, draws: int) -> tuple:
    """Null (dev, repeats) per window for draws [first_draw, first_draw + draws); tests sorted largest first."""
    n, slots, quarters = d.scale.shape
    tally = Tally(n, windows, draws, quarters)
    to_give = np.repeat(d.k[:, :, None], draws, axis=2)
    for j in range(slots):
        a = int((d.n_slots > j).sum())
        if a == 0:
            break
        u = uniforms(d.keys[:a], j, quarters, first_draw, draws)
        take = u < to_give[:a] * d.scale[:a, j, :, None]
        to_give[:a] -= take
        tally.add(take, m[:a, j])
    return tally.dev, tally.repeats()


def no_repeat_draws(q: Queues, keys: np.ndarray, m: np.ndarray, windows: Windows, draws: int) -> tuple:
    """Null draws under a declared rule, nobody given the grade two quarters running: each quarter's k_t are
    a random subset of the eligible people not given it the quarter before (of all eligible where too few
    remain, as the rule cannot then be kept). One test at a time; such units are few."""
    n, slots, quarters = q.eligible.shape
    tally = Tally(n, windows, draws, quarters)
    k = q.chosen.sum(axis=1)
    for s in range(n):  # a handful of declared units
        rng = np.random.default_rng(int(keys[s]))
        elig = q.eligible[s]
        prev = np.zeros((slots, draws), dtype=bool)
        goods = np.zeros((slots, quarters, draws), dtype=bool)
        for t in range(quarters):
            cand = elig[:, t, None] & ~prev
            short = cand.sum(axis=0) < k[s, t]
            cand[:, short] = elig[:, t, None]
            keys_t = np.where(cand, rng.random((slots, draws)), np.inf)
            rank = keys_t.argsort(axis=0).argsort(axis=0)
            goods[:, t] = cand & (rank < k[s, t])
            prev = goods[:, t]
        single = Tally(1, windows, draws, quarters)
        for j in range(slots):
            single.add(goods[None, j], m[s : s + 1, j])
        tally.dev[s], tally.within[s], tally.cross[s] = single.dev[0], single.within[0], single.cross[0]
    return tally.dev, tally.repeats()


def observed(q: Queues, m: np.ndarray, windows: Windows) -> tuple:
    """(dev, repeats) of the real grades, through the same sums as the draws (so equal configurations tie)."""
    n, slots, quarters = q.chosen.shape
    tally = Tally(n, windows, 1, quarters)
    for j in range(slots):
        a = int((q.n_slots > j).sum())
        if a == 0:
            break
        tally.add(q.chosen[:a, j, :, None], m[:a, j])
    return tally.dev, tally.repeats()


@dataclass
class Result:
    """Per test and window."""

    ex: Expected
    d: np.ndarray
    rr: np.ndarray
    reps: np.ndarray
    testable: np.ndarray  # enough quarters and people, and not the same quarters as a wider window
    p_value: np.ndarray
    p_dispersion: np.ndarray
    p_repeat: np.ndarray
    p_min: np.ndarray
    draws: np.ndarray


def schedule(total: int) -> list[int]:
    """Round sizes: 64, 64, 128, 256, ... summing to `total` (multiples of 4)."""
    total = max(4, -(-int(total) // 4) * 4)
    sizes, done = [], 0
    while done < total:
        b = min(max(FIRST_ROUND, done), total - done)
        sizes.append(b)
        done += b
    return sizes


def run(q: Queues, keys: np.ndarray, windows: Windows, cfg, no_repeat_rule: np.ndarray, sequential: bool = True):
    """Observed statistics and p-values for every test and window of q."""
    ex = expected(q, windows)
    obs_dev, obs_reps = observed(q, ex.m, windows)
    use_repeats = ~no_repeat_rule
    d_obs, rr_obs, t_obs = (x[:, :, 0] for x in statistic(obs_dev, obs_reps, ex, use_repeats))
    testable = (ex.var > 0) & (ex.informative >= cfg.min_quarters) & (ex.people >= cfg.min_people)
    for w in range(1, windows.count):  # the same quarters as a wider window: the same test, counted once
        same = (ex.first[:, :w] == ex.first[:, w : w + 1]) & (ex.last[:, :w] == ex.last[:, w : w + 1])
        testable[:, w] &= ~(same & testable[:, :w]).any(axis=1)
    n, w_count = testable.shape
    g, g1, g2, used = (np.zeros((n, w_count), dtype=np.int64) for _ in range(4))
    stop_at = np.zeros((n, w_count), dtype=np.int64)
    p_min = np.full((n, w_count), np.nan)
    # Nobody repeats, with the same people eligible throughout: the p-value is known exactly, no draws needed.
    chance = np.where(use_repeats[:, None], no_repeat_chance(q, windows), np.nan)
    exact = testable & (t_obs == 0) & (chance > 0)
    done = ~testable | exact
    h = int(cfg.stop_after) if sequential else np.iinfo(np.int64).max
    quarters = q.eligible.shape[2]
    jobs = [
        (np.flatnonzero(~no_repeat_rule), schedule(cfg.draws), h),
        (np.flatnonzero(no_repeat_rule), [cfg.draws], None),
    ]
    for rows, sizes, stop in jobs:
        if len(rows) == 0:
            continue
        sub = q.take(rows)
        draw = Draws.of(sub, keys[rows])
        first_draw = 0
        for r, b in enumerate(sizes):
            live = np.flatnonzero(~done[rows].all(axis=1))
            if len(live) == 0:
                break
            per_group = max(1, CELLS_PER_GROUP // (quarters * b))
            for start in range(0, len(live), per_group):
                part = live[start : start + per_group]
                at = rows[part]
                if stop is None:
                    dev, reps = no_repeat_draws(sub.take(part), keys[at], ex.m[at], windows, b)
                else:
                    dev, reps = free_draws(draw.take(part), ex.m[at], windows, first_draw, b)
                sub_ex = _rows(ex, at)
                d, rr, t = statistic(dev, reps, sub_ex, use_repeats[at])
                if r == 0:
                    lowest = np.nanmin(np.where(np.isnan(t), np.inf, t), axis=2)
                    tied = (t <= lowest[:, :, None]).sum(axis=2) / b
                    # T = 0 whenever nobody repeats; chance allows that with probability at most exp(-E[repeats])
                    # (sampling without replacement), a sharper bound than a round of draws can resolve.
                    no_repeat = np.where(use_repeats[at, None] & (sub_ex.repeats > 0), np.exp(-sub_ex.repeats), 1.0)
                    p_min[at] = np.minimum(tied, np.where(chance[at] > 0, chance[at], no_repeat))
                    done[at] |= p_min[at] > cfg.alpha
                live_w = ~done[at]
                exceed = t <= t_obs[at][:, :, None]
                reach = stop if stop is not None else np.iinfo(np.int64).max
                hit = (g[at][:, :, None] + np.cumsum(exceed, axis=2) >= reach) & live_w[:, :, None]
                hits = hit.any(axis=2)
                upto = np.where(hits, hit.argmax(axis=2) + 1, b)
                valid = (np.arange(b)[None, None, :] < upto[:, :, None]) & live_w[:, :, None]
                g[at] += (exceed & valid).sum(axis=2)
                g1[at] += ((d <= d_obs[at][:, :, None]) & valid).sum(axis=2)
                g2[at] += ((rr <= rr_obs[at][:, :, None]) & valid).sum(axis=2)
                used[at] += valid.sum(axis=2)
                stop_at[at] = np.where(hits & live_w, used[at], stop_at[at])
                done[at] |= hits
            first_draw += b
    stopped = stop_at > 0
    p_value = np.where(stopped, g / np.maximum(stop_at, 1), (g + 1) / (used + 1))
    untested = ~testable | (used == 0)
    nan = np.full((n, w_count), np.nan)
    p_value = np.where(exact, chance, np.where(untested, nan, p_value))
    p_min = np.where(exact, chance, p_min)
    p_disp = np.where(untested, nan, (g1 + 1) / (used + 1))
    p_rep = np.where(untested | ~use_repeats[:, None] | (ex.repeats <= 0), nan, (g2 + 1) / (used + 1))
    p_rep = np.where(exact, chance, p_rep)
    return Result(
        ex=ex, d=d_obs, rr=np.where(use_repeats[:, None], rr_obs, np.nan), reps=obs_reps[:, :, 0], testable=testable,
        p_value=p_value, p_dispersion=p_disp, p_repeat=p_rep, p_min=np.where(testable, p_min, nan), draws=used,
    )  # fmt: skip


def _rows(ex: Expected, rows: np.ndarray) -> Expected:
    return Expected(**{name: getattr(ex, name)[rows] for name in ex.__dataclass_fields__})
