"""The event engine: Poisson counts per principal and hour, vectorized draws of every event's
values, rendering by one `bytes.__mod__` per event, and hand-off to the writer.
"""

from __future__ import annotations

import operator
import random
import time
from itertools import repeat

import numpy as np

from bench.workload.population_tables import REGIONS
from bench.workload.records import _Records
from bench.workload.seasonality import CHUNK_EVENTS, HOUR, WINDOW, Arr, _choose
from bench.workload.templates import _MMSS, _UPPER_ALNUM, _rows_to_bytes, _uuid_rows
from bench.workload.writer import _Writer


class _Engine(_Records):
    """Runs the hours in order; memory is bounded by one hour (or `CHUNK_EVENTS`)."""

    # -- the event engine -------------------------------------------------------------------------
    def run(self, writer: _Writer) -> None:
        n_p = len(self.ps)
        self.counts = np.zeros(n_p, dtype=np.int64)
        self.anomalous = np.zeros(n_p, dtype=np.int64)
        self.sessions_started = np.zeros(n_p, dtype=np.int64)
        self.erng = np.random.default_rng([self.seed, 3])
        self.arng = np.random.default_rng([self.seed, 4])
        self.irng = np.random.default_rng([self.seed, 5])
        self.sr = random.Random(f"gumshoe-specials-{self.seed}")
        self.ui_cache: dict[int, bytes] = {}
        self.plan_sessions: list[set[str]] = [set() for _ in self.plans]
        first = self.acct_first
        n_acct = len(self.accounts)
        for hidx in range(self.hours):
            hour = self.t0 + hidx * HOUR
            counts = self.erng.poisson(self.base * self.season[self.p_group, hidx])
            if int(counts.sum()) <= CHUNK_EVENTS:
                self._chunk(hour, hidx, counts, 0, n_acct, writer)
                continue
            per_acct = np.add.reduceat(counts, first[:-1]).tolist()
            a = 0
            while a < n_acct:
                b, total = a + 1, per_acct[a]
                while b < n_acct and total + per_acct[b] <= CHUNK_EVENTS:
                    total += per_acct[b]
                    b += 1
                self._chunk(hour, hidx, counts, a, b, writer)
                a = b
        for plan, sessions in zip(self.plans, self.plan_sessions, strict=True):
            plan.truth.sessions = sorted(sessions)

    def _draw(self, rng: np.random.Generator, who: Arr) -> tuple[Arr, Arr, Arr, Arr]:
        n = len(who)
        t = rng.integers(0, HOUR, size=n)
        u = rng.random((6, n))  # API, lane, IP, user agent, region, error
        entry = _choose(self.ent_keys, self.ent_vals, self.p_entg[who], u[0])
        return t, u, entry, u[5] < self.p_err[who]

    def _chunk(self, hour: int, hidx: int, counts: Arr, a0: int, a1: int, writer: _Writer) -> None:
        p0, p1 = int(self.acct_first[a0]), int(self.acct_first[a1])
        who = np.repeat(np.arange(p0, p1, dtype=np.int64), counts[p0:p1])
        t, u, entry, err = self._draw(self.erng, who)
        n_normal = len(who)
        plans = [i for i in self.plan_hours.get(hidx, ()) if p0 <= self.plans[i].p < p1]
        forced_ip = forced_ua = plan_of = None
        denied = np.zeros(n_normal, dtype=bool)
        if plans:
            parts = [self._anomalous(i) for i in plans]
            who = np.concatenate([who] + [x[0] for x in parts])
            t = np.concatenate([t] + [x[1] for x in parts])
            u = np.concatenate([u] + [x[2] for x in parts], axis=1)
            entry = np.concatenate([entry] + [x[3] for x in parts])
            err = np.concatenate([err] + [x[4] for x in parts])
            denied = np.concatenate(
                [denied]
                + [
                    np.full(len(x[0]), self.plans[i].failed)
                    for i, x in zip(plans, parts, strict=True)
                ]
            )
            forced_ip = np.concatenate([np.full(n_normal, -1)] + [x[5] for x in parts])
            forced_ua = np.concatenate([np.full(n_normal, -1)] + [x[6] for x in parts])
            plan_of = np.concatenate([np.full(n_normal, -1)] + [x[7] for x in parts])
            for i in plans:
                self.anomalous[self.plans[i].p] += self.plans[i].per_hour
        n = len(who)
        specials: list[tuple[int, int, int, bytes]] = []  # account, region, second, record

        # role sessions: the lane's session at that time, announced by AssumeRole on first use
        sess = np.full(n, -1, dtype=np.int64)
        in_sess = self.p_lanes[who] > 0
        if in_sess.any():
            lanes_n = self.p_lanes[who[in_sess]]
            lane = self.p_lane0[who[in_sess]] + np.minimum(
                (u[1][in_sess] * lanes_n).astype(np.int64), lanes_n - 1
            )
            ts = t[in_sess]
            s = np.searchsorted(self.sess_key, (lane << 40) + (hour + ts), side="right") - 1
            sess[in_sess] = s
            fresh = self.sess_created[s] == 0
            if fresh.any():
                fs, ft = s[fresh], ts[fresh]
                order = np.lexsort((ft, fs))
                fs, ft = fs[order], ft[order]
                keep = np.ones(len(fs), dtype=bool)
                keep[1:] = fs[1:] != fs[:-1]
                for si, ti in zip(fs[keep].tolist(), ft[keep].tolist(), strict=True):
                    self._announce(si, hour + max(0, ti - self.sr.randint(1, 90)), hour, specials)
        if plan_of is not None and in_sess.any():
            for i, si in set(zip(plan_of[in_sess].tolist(), sess[in_sess].tolist(), strict=True)):
                if i >= 0:
                    self.plan_sessions[i].add(self._session_key(si))

        ipg = self.p_ipg[who]
        uag = self.p_uag[who]
        if in_sess.any():
            ipg[in_sess] = self.sess_ipg[sess[in_sess]]
            uag[in_sess] = self.sess_uag[sess[in_sess]]
        ip = _choose(self.ip_keys, self.ip_vals, ipg, u[2])
        ua = _choose(self.ua_keys, self.ua_vals, uag, u[3])
        if forced_ip is not None and forced_ua is not None:
            ip = np.where(forced_ip >= 0, forced_ip, ip)
            ua = np.where(forced_ua >= 0, forced_ua, ua)
        region = _choose(self.reg_keys, self.reg_vals, self.p_regg[who], u[4])
        fixed = self.e_region[entry]
        region = np.where(fixed >= 0, fixed, region)

        ui = self.p_ui[who]
        if in_sess.any():
            uniq, inv = np.unique(sess[in_sess], return_inverse=True)
            rendered = np.empty(len(uniq), dtype=object)
            rendered[:] = [self._session_ui(x) for x in uniq.tolist()]
            ui[in_sess] = rendered[inv]

        resp = self.e_ok[entry]
        errs = np.full(n, b"", dtype=object)
        failed = np.flatnonzero(err)
        if len(failed):
            resp[failed] = self.e_fail[entry[failed]]
            pick = (u[5][failed] / np.maximum(self.p_err[who[failed]], 1e-9)).tolist()
            for i, e, w, s_, d, v in zip(
                failed.tolist(),
                entry[failed].tolist(),
                who[failed].tolist(),
                sess[failed].tolist(),
                denied[failed].tolist(),
                pick,
                strict=True,
            ):
                errs[i] = self._error(e, w, s_, d, v)

        rid_rows = _uuid_rows(self.irng, n)
        s3 = self.e_s3[entry]
        k = int(s3.sum())
        if k:
            rows = np.zeros((k, 36), dtype=np.uint8)
            rows[:, :16] = _UPPER_ALNUM[self.irng.integers(0, 36, size=(k, 16))]
            rid_rows[s3] = rows
        regb = self.reg_b[region].tolist()
        prefix = time.strftime("%Y-%m-%dT%H:", time.gmtime(hour)).encode()
        records: list[bytes] = list(
            map(
                bytes.__mod__,
                self.e_fmt[entry].tolist(),
                zip(
                    ui.tolist(),
                    repeat(prefix),
                    _MMSS[t].tolist(),
                    regb,
                    self.ip_b[ip].tolist(),
                    self.ua_b[ua].tolist(),
                    errs.tolist(),
                    resp.tolist(),
                    _rows_to_bytes(rid_rows),
                    _rows_to_bytes(_uuid_rows(self.irng, n)),
                    self.acct_b[self.p_acct[who]].tolist(),
                    regb,
                ),
            )
        )
        self.counts += np.bincount(who, minlength=len(self.ps))

        accts = self.p_acct[who]
        if specials:
            accts = np.concatenate([accts, np.array([x[0] for x in specials], dtype=np.int64)])
            region = np.concatenate([region, np.array([x[1] for x in specials], dtype=np.int64)])
            t = np.concatenate([t, np.array([x[2] for x in specials], dtype=np.int64)])
            records += [x[3] for x in specials]
        if not records:
            return
        order = np.lexsort((t, region, accts))
        ordered: tuple[bytes, ...] = (
            operator.itemgetter(*order.tolist())(records) if len(records) > 1 else (records[0],)
        )
        keys = ((accts * len(REGIONS) + region) * (HOUR // WINDOW) + t // WINDOW)[order]
        ends = np.flatnonzero(keys[1:] != keys[:-1]) + 1
        writer.submit(
            hour, keys[np.concatenate(([0], ends))].tolist(), ordered, [*ends.tolist(), len(keys)]
        )

    def _anomalous(self, i: int) -> tuple[Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr]:
        plan = self.plans[i]
        rng = self.arng
        who = np.full(plan.per_hour, plan.p, dtype=np.int64)
        t, u, entry, err = self._draw(rng, who)
        if plan.entries:
            entry = np.asarray(plan.entries, dtype=np.int64)[
                rng.integers(0, len(plan.entries), size=len(who))
            ]
        if plan.failed:
            err = np.ones(len(who), dtype=bool)
        m = len(who)
        return (
            who,
            t,
            u,
            entry,
            err,
            np.full(m, plan.ip, dtype=np.int64),
            np.full(m, plan.ua, dtype=np.int64),
            np.full(m, i, dtype=np.int64),
        )
