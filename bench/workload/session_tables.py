"""Role lanes, their sessions and instances, and the flattened numpy tables the event engine
indexes; rate scaling and the per-principal lookups the ground truth needs.
"""

from __future__ import annotations

import numpy as np

from bench.workload.population import _Population
from bench.workload.population_tables import INSTANCE_TYPES, REGIONS
from bench.workload.registry import _P, _Account
from bench.workload.seasonality import HOUR, PROFILES, Arr, hourly_factor


class _SessionTables(_Population):
    """Turns the population into the arrays the vectorized engine draws from."""

    # -- lanes, sessions, instances and the flattened tables -----------------------------------
    def _finish(self) -> None:
        nr = self.nr
        ps = self.ps
        self.profile_groups = [(prof, acct.tz) for prof in PROFILES for acct in self.accounts]
        group_of = {g: i for i, g in enumerate(dict.fromkeys(self.profile_groups))}
        self.season_keys = list(group_of)
        hours = self.t0 + np.arange(self.hours, dtype=np.int64) * HOUR
        self.season = np.stack([hourly_factor(pr, tz, hours) for pr, tz in self.season_keys])
        self.p_group = np.array(
            [group_of[(p.profile, self.accounts[p.account].tz)] for p in ps], dtype=np.int64
        )
        self.base = np.array([p.rate for p in ps], dtype=np.float64)

        for p in ps:
            for a in p.assumers:
                ps[a].extra_apis.add("sts.amazonaws.com:AssumeRole")
        lane_p: list[int] = []
        sess_parts: list[tuple[Arr, Arr, Arr]] = []  # key, assumer, instance
        self.inst_id: list[str] = []
        self.inst_ip: list[int] = []
        self.inst_meta: list[tuple[str, str, str, str, str]] = []
        inst_starts: list[int] = []
        self.p_lane0 = np.full(len(ps), -1, dtype=np.int64)
        self.p_lanes = np.zeros(len(ps), dtype=np.int64)
        for p in ps:
            if not p.lanes:
                continue
            self.p_lane0[p.idx] = len(lane_p)
            self.p_lanes[p.idx] = p.lanes
            acct = self.accounts[p.account]
            for _ in range(p.lanes):
                lane = len(lane_p)
                lane_p.append(p.idx)
                lengths = np.asarray(p.session_hours, dtype=np.int64) * HOUR
                m = self.hours + 2
                ln = nr.choice(lengths, size=m) + nr.integers(-600, 600, size=m)
                ln = np.clip(ln, HOUR, 12 * HOUR)
                first = self.t0 - int(nr.integers(0, int(ln[0])))
                starts = first + np.concatenate(([0], np.cumsum(ln[:-1])))
                starts = starts[starts < self.t1]
                assumers = np.asarray(p.assumers, dtype=np.int64)
                who = assumers[nr.integers(0, len(assumers), size=len(starts))]
                inst = np.full(len(starts), -1, dtype=np.int64)
                if p.lane_style == "instance":
                    inst = self._instances(acct, starts, first, inst_starts)
                sess_parts.append((lane * (1 << 40) + starts, who, inst))
        if not sess_parts:
            raise RuntimeError("the population has no roles")
        self.lane_p = np.array(lane_p, dtype=np.int64)
        self.sess_key = np.concatenate([s[0] for s in sess_parts]).astype(np.int64)
        self.sess_lane = self.sess_key >> 40
        self.sess_assumer = np.concatenate([s[1] for s in sess_parts]).astype(np.int64)
        self.sess_inst = np.concatenate([s[2] for s in sess_parts]).astype(np.int64)
        self.sess_created = np.zeros(len(self.sess_key), dtype=np.int64)
        self.inst_start = np.array(inst_starts, dtype=np.int64)
        self.inst_launched = np.zeros(len(self.inst_id), dtype=bool)

        # choice groups: principals, then instances (one IP each)
        self.p_ipg = np.zeros(len(ps), dtype=np.int64)
        self.p_uag = np.zeros(len(ps), dtype=np.int64)
        self.p_regg = np.zeros(len(ps), dtype=np.int64)
        self.p_entg = np.zeros(len(ps), dtype=np.int64)
        for p in ps:
            self.p_ipg[p.idx] = self.ip_groups.add(
                p.ips or [self._ip("AWS Internal")], p.ip_w or [1]
            )
            self.p_uag[p.idx] = self.ua_groups.add(
                p.uas or [self._ua("AWS Internal")], p.ua_w or [1]
            )
            self.p_regg[p.idx] = self.region_groups.add(p.regions, p.region_w)
            if p.entries:
                self.p_entg[p.idx] = self.entry_groups.add(p.entries, p.entry_w)
            else:
                self.p_entg[p.idx] = self.entry_groups.add(
                    [self.entry("sts:GetCallerIdentity")], [1]
                )
        self.inst_ipg = np.array(
            [self.ip_groups.add([ip], [1.0]) for ip in self.inst_ip], dtype=np.int64
        )
        styles = np.array([ps[lp].lane_style for lp in lane_p], dtype=object)
        sess_style = styles[self.sess_lane]
        follows = (sess_style == "user") | (sess_style == "prefix")
        role_of = self.lane_p[self.sess_lane]
        self.sess_ipg = np.where(follows, self.p_ipg[self.sess_assumer], self.p_ipg[role_of])
        self.sess_uag = np.where(follows, self.p_uag[self.sess_assumer], self.p_uag[role_of])
        has_inst = self.sess_inst >= 0
        self.sess_ipg[has_inst] = self.inst_ipg[self.sess_inst[has_inst]]
        self.ip_keys, self.ip_vals = self.ip_groups.arrays()
        self.ua_keys, self.ua_vals = self.ua_groups.arrays()
        self.reg_keys, self.reg_vals = self.region_groups.arrays()
        self.ent_keys, self.ent_vals = self.entry_groups.arrays()
        self.p_acct = np.array([p.account for p in ps], dtype=np.int64)
        self.p_err = np.array([p.err for p in ps], dtype=np.float64)
        self.p_ui = np.array([p.ui for p in ps] + [None], dtype=object)[:-1]
        self.acct_b = np.array([a.id.encode() for a in self.accounts] + [None], dtype=object)[:-1]
        self.acct_first = np.array([a.first for a in self.accounts] + [len(ps)], dtype=np.int64)
        self._refresh_tables()

    def _refresh_tables(self) -> None:
        """Byte tables indexed by IP, user agent and entry (after anomalies added values)."""
        self.ip_b = np.array([s.encode() for s in self.ips] + [None], dtype=object)[:-1]
        self.ua_b = np.array([s.encode() for s in self.uas] + [None], dtype=object)[:-1]
        self.reg_b = np.array([r.name.encode() for r in REGIONS] + [None], dtype=object)[:-1]
        es = self.entries
        self.e_fmt = np.array([e.fmt for e in es] + [None], dtype=object)[:-1]
        self.e_ok = np.array([e.resp_ok for e in es] + [None], dtype=object)[:-1]
        self.e_fail = np.array([e.resp_fail for e in es] + [None], dtype=object)[:-1]
        self.e_region = np.array([e.region for e in es], dtype=np.int64)
        self.e_s3 = np.array([e.s3 for e in es], dtype=bool)

    def _instances(self, acct: _Account, starts: Arr, first: int, inst_starts: list[int]) -> Arr:
        """Instances taking turns in one instance-profile lane; the instance of each session."""
        r = self.r
        base = len(self.inst_id)
        bounds: list[int] = []
        t = first
        while t < self.t1:
            bounds.append(t)
            inst_starts.append(t)
            self.inst_id.append(self._hexid("i-"))
            self.inst_ip.append(self.draw_ips((REGIONS[acct.region].aws,), 1, None)[0])
            self.inst_meta.append(
                (
                    r.choice(INSTANCE_TYPES),
                    r.choice(acct.amis),
                    r.choice(acct.subnets),
                    self._hexid("eni-"),
                    f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(4, 250)}",
                )
            )
            life = self.t1 - first + 1 if r.random() < 0.3 else r.randint(1, 10) * 86400
            t += life + r.randint(0, 86399)
        which = np.searchsorted(np.asarray(bounds), starts, side="right") - 1
        return np.asarray(which + base, dtype=np.int64)

    # -- scaling, lookups and ground-truth sets --------------------------------------------------
    def scale_to(self, events: int) -> None:
        """Scale every rate so that the expected normal traffic totals `events`."""
        expected = float((self.base * self.season.sum(axis=1)[self.p_group]).sum())
        if expected <= 0:
            return
        factor = events / expected
        self.base *= factor
        for p in self.ps:
            p.rate *= factor

    def find(self, key: str) -> _P:
        acct_id, sep, bare = key.partition("/")
        if sep:
            found = [p for p in self.ps if p.key == bare and self.accounts[p.account].id == acct_id]
        else:
            found = [p for p in self.ps if p.key == key]
        if not found:
            raise ValueError(f"no principal {key!r} in this population")
        if len(found) > 1:
            raise ValueError(f"{key!r} names one principal per account: use <account>/{key}")
        return found[0]

    def sets(self, p: _P) -> tuple[set[int], set[int], set[str]]:
        """A principal's normal IPs, user agents and APIs (roles: over all their sessions)."""
        ips, uas = set(p.ips), set(p.uas)
        if p.lane_style in ("user", "prefix"):
            for a in p.assumers:
                ips |= set(self.ps[a].ips)
                uas |= set(self.ps[a].uas)
        elif p.lane_style == "instance":
            lanes = np.arange(self.p_lane0[p.idx], self.p_lane0[p.idx] + p.lanes)
            mine = np.isin(self.sess_lane, lanes)
            ips |= {self.inst_ip[i] for i in np.unique(self.sess_inst[mine]).tolist()}
        apis = {self.entries[e].api for e in p.entries} | p.extra_apis
        return ips, uas, apis

    def expected(self, p: _P, hidx: int) -> float:
        return float(self.base[p.idx] * self.season[self.p_group[p.idx], hidx])
