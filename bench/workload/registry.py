"""The world's principals and accounts (`_P`, `_Account`) and its interned values: ids,
geolocated IP addresses, user agents and API record templates.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench.workload.api_catalog import APIS, ERROR_OVERRIDES, ERROR_SETS, SERVICES
from bench.workload.population_tables import POOL_SIZES, POOLS, REGION_INDEX, REGIONS
from bench.workload.seasonality import HOUR, _Groups, _zipf
from bench.workload.templates import _B32, _B64, _Entry, _entry_format
from loaders.geo import GeoIndex, default_index

# ----------------------------------------------------------------------- principals and accounts


@dataclass(slots=True, eq=False)
class _P:
    idx: int
    kind: str
    label: str
    key: str
    name: str
    arn: str | None
    account: int  # index of the account whose trail records its calls
    home: str
    profile: str
    rate: float
    regions: list[int]
    region_w: list[float]
    ui: bytes | None = None  # static userIdentity JSON; None for roles (per session)
    ui_fmt: bytes = b""  # roles: %b slots for session name (twice), access key, creation date
    entries: list[int] = field(default_factory=list)
    entry_w: list[float] = field(default_factory=list)
    ips: list[int] = field(default_factory=list)
    ip_w: list[float] = field(default_factory=list)
    uas: list[int] = field(default_factory=list)
    ua_w: list[float] = field(default_factory=list)
    err: float = 0.0
    country: str = ""
    # roles
    role_pid: str = ""
    role_name: str = ""
    lanes: int = 0
    lane_style: str = ""  # user, prefix, fixed, instance
    lane_name: str = ""
    session_hours: tuple[int, ...] = ()
    assumers: list[int] = field(default_factory=list)
    extra_apis: set[str] = field(default_factory=set)
    buckets: list[int] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Account:
    idx: int
    id: str
    region: int
    tz: float
    countries: list[str]
    company: str
    scale: float
    buckets: list[tuple[str, int]] = field(default_factory=list)  # (name, region)
    office_ips: list[int] = field(default_factory=list)
    vpc: str = ""
    subnets: list[str] = field(default_factory=list)
    amis: list[str] = field(default_factory=list)
    humans: list[int] = field(default_factory=list)
    ci: list[int] = field(default_factory=list)
    services: dict[str, int] = field(default_factory=dict)
    asg_role: int = -1
    first: int = 0  # first principal index recorded in this account's trail


class _Registry:
    """The world's random streams and interned values, shared by every layer above."""

    def __init__(self, accounts: int, seed: int, t0: int, hours: int) -> None:
        if accounts < 1:
            raise ValueError("accounts must be >= 1")
        self.seed = seed
        self.t0 = t0
        self.hours = hours
        self.t1 = t0 + hours * HOUR
        self.r = random.Random(f"gumshoe-workload-{seed}")
        self.key = hashlib.sha256(f"gumshoe-workload-{seed}".encode()).digest()
        self.token = (
            "IQoJb3JpZ2luX2VjE" + "".join(self.r.choices(_B64, k=180)),
            "".join(self.r.choices(_B64, k=200)) + "=",
        )
        self.nr = np.random.default_rng([seed, 1])
        self.geo: GeoIndex = default_index()
        self.ips: list[str] = []
        self.ip_index: dict[str, int] = {}
        self.ip_info: dict[str, tuple[str, int, str]] = {}
        self.uas: list[str] = []
        self.ua_index: dict[str, int] = {}
        self.entries: list[_Entry] = []
        self.entry_index: dict[tuple[str, str | None], int] = {}
        self.api_specs = {f"{s}:{n}": (s, n, fl, pa, re) for s, n, fl, pa, re in APIS}
        self.pools: dict[tuple[str, ...], list[str]] = {}
        self.ps: list[_P] = []
        self.accounts: list[_Account] = []
        self.ip_groups = _Groups()
        self.ua_groups = _Groups()
        self.region_groups = _Groups()
        self.entry_groups = _Groups()

    # -- ids, IPs, user agents ------------------------------------------------------------------
    def _id(self, prefix: str, n: int = 17) -> str:
        return prefix + "".join(self.r.choices(_B32, k=n))

    def _hexid(self, prefix: str, n: int = 17) -> str:
        return prefix + "".join(self.r.choices("0123456789abcdef", k=n))

    def _ip(self, text: str) -> int:
        i = self.ip_index.get(text)
        if i is None:
            i = self.ip_index[text] = len(self.ips)
            self.ips.append(text)
        return i

    def _ua(self, text: str) -> int:
        i = self.ua_index.get(text)
        if i is None:
            i = self.ua_index[text] = len(self.uas)
            self.uas.append(text)
        return i

    def draw_ips(self, prefixes: tuple[str, ...], count: int, country: str | None) -> list[int]:
        """`count` unused public addresses from `prefixes` that geolocate to `country`."""
        pool = self.pools.setdefault(prefixes, [])
        out: list[int] = []
        refills = 0
        while len(out) < count:
            if not pool:
                refills += 1
                if refills > 50:
                    raise RuntimeError(f"no usable addresses in {prefixes} for {country}")
                self._refill(pool, prefixes, country)
                continue
            text = pool.pop()
            if text not in self.ip_index:
                out.append(self._ip(text))
        return out

    def _refill(self, pool: list[str], prefixes: tuple[str, ...], country: str | None) -> None:
        nets = [ipaddress.ip_network(p) for p in prefixes]
        cands = []
        for _ in range(256):
            net = self.r.choice(nets)
            host = net.network_address + self.r.randrange(1, net.num_addresses - 1)
            if str(host).endswith((".0", ".255")):
                continue
            cands.append(str(host))
        for text, info in zip(cands, self.geo.lookup_many(cands), strict=True):
            if info.kind != "public" or info.asn is None or info.country is None:
                continue
            if country is not None and info.country != country:
                continue
            self.ip_info[text] = (info.country, info.asn, info.aso or "")
            pool.append(text)

    # -- API entries ----------------------------------------------------------------------------
    def entry(self, api: str, bucket: tuple[str, int, str] | None = None) -> int:
        """The template index of `api` (S3 bucket and object calls: per bucket)."""
        ck = (api, bucket[0] if bucket else None)
        found = self.entry_index.get(ck)
        if found is not None:
            return found
        prefix, name, flags, params, resp = self.api_specs[api]
        svc = SERVICES[prefix]
        read_only = "r" in flags
        region = REGION_INDEX[svc.region] if svc.region else -1
        host: str | None = svc.host
        additional = resources = ""
        event_type = "AwsApiCall"
        data_event = False
        if prefix == "s3":
            additional = (
                '"additionalEventData":{"SignatureVersion":"SigV4","CipherSuite":'
                '"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":'
                '"AuthHeader","x-amz-id-2":"Zm9vYmFyYmF6cXV4L2V4YW1wbGUvaWQyL3ZhbHVlPT0=",'
                '"bytesTransferredOut":542},'
            )
            if bucket is None:  # ListBuckets
                host = "s3.amazonaws.com"
                region = REGION_INDEX["us-east-1"]
            else:
                bname, bregion, owner = bucket
                rname = REGIONS[bregion].name
                host = f"{bname}.s3.{rname}.amazonaws.com"
                region = bregion
                key = f"{self.r.choice(('data', 'exports', 'app', 'tmp'))}/{self.r.randint(2019, 2025)}/part-{self.r.randint(0, 9999):04d}.json"  # noqa: E501
                params = params.replace("%k", key)
                params = f'{{"bucketName":"{bname}","Host":"{host}",' + params[1:]
                bucket_res = f'{{"accountId":"{owner}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::{bname}"}}'  # noqa: E501
                if "o" in flags:
                    data_event = True
                    resources = f'"resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::{bname}/{key}"}},{bucket_res}],'  # noqa: E501
                else:
                    resources = f'"resources":[{bucket_res}],'
        if "c" in flags:
            event_type = "AwsConsoleSignIn"
            additional = (
                '"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home?'
                'hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_1f2e3d4c5b6a7980",'
                '"MobileVersion":"No","MFAUsed":"Yes"},'
            )
        fmt = _entry_format(
            svc,
            name,
            params,
            read_only,
            event_type=event_type,
            data_event=data_event,
            additional=additional,
            resources=resources,
            host=host,
        )
        errors = ERROR_OVERRIDES.get(api) or ERROR_SETS[svc.errors]
        denied = next(
            (
                i
                for i, (code, _, _) in enumerate(errors)
                if code is None or "Denied" in code or "Unauthorized" in code
            ),
            0,
        )
        resp_fail = b'{"ConsoleLogin":"Failure"}' if "c" in flags else b"null"
        e = _Entry(
            api=f"{svc.source}:{name}",
            fmt=fmt,
            resp_ok=resp.encode(),
            resp_fail=resp_fail,
            region=region,
            s3=prefix == "s3",
            errors=errors,
            denied=denied,
            action=f"{svc.action}:{name}",
        )
        idx = self.entry_index[ck] = len(self.entries)
        self.entries.append(e)
        return idx

    def _api_set(self, p: _P, pool_name: str) -> None:
        pool = POOLS[pool_name]
        lo, hi = POOL_SIZES[pool_name]
        chosen = self.r.sample(pool, min(len(pool), self.r.randint(lo, hi)))
        weights = _zipf(len(chosen))
        acct = self.accounts[p.account]
        for api, w in zip(chosen, weights, strict=True):
            _, name, flags, _, _ = self.api_specs[api]
            if "w" in flags:
                w *= 0.3
            if "c" in flags:
                w = 0.02
            if "b" in flags or "o" in flags:
                for b in p.buckets:
                    bname, bregion = acct.buckets[b]
                    p.entries.append(self.entry(api, (bname, bregion, acct.id)))
                    p.entry_w.append(w / len(p.buckets))
            else:
                p.entries.append(self.entry(api))
                p.entry_w.append(w)

    # -- user agents ----------------------------------------------------------------------------
    def _ua_text(self, kind: str) -> str:
        r = self.r
        if kind == "cli":
            os_ = r.choice(("macos#23.4.0", "macos#24.1.0", "linux#6.5.0-1018-aws",
                            "linux#6.8.0-45-generic", "windows#10"))  # fmt: skip
            cmd = r.choice(("ec2.describe-instances", "s3.ls", "sts.get-caller-identity",
                            "logs.tail", "iam.list-roles", "cloudformation.deploy"))  # fmt: skip
            return (
                f"aws-cli/2.{r.randint(13, 22)}.{r.randint(0, 40)}"
                f" md/awscrt#0.19.{r.randint(1, 19)} ua/2.0 os/{os_} md/arch#x86_64"
                f" lang/python#3.11.{r.randint(6, 9)}"
                f" md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off"
                f" md/command#{cmd}"
            )
        if kind == "browser":
            return r.choice(
                (
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"
                    f" (KHTML, like Gecko) Chrome/{r.randint(118, 131)}.0.0.0 Safari/537.36",
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like"
                    f" Gecko) Chrome/{r.randint(118, 131)}.0.0.0 Safari/537.36 Edg/"
                    f"{r.randint(118, 131)}.0.0.0",
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:"
                    f"{r.randint(115, 133)}.0) Gecko/20100101 Firefox/{r.randint(115, 133)}.0",
                )
            )
        if kind == "boto3":
            v = f"1.34.{r.randint(10, 160)}"
            return (
                f"Boto3/{v} md/Botocore#{v} ua/2.0 os/linux#6.5.0-{r.randint(1000, 1030)}-aws"
                f" md/arch#x86_64 lang/python#3.{r.randint(10, 12)}.{r.randint(1, 9)}"
                f" md/pyimpl#CPython cfg/retry-mode#legacy Botocore/{v}"
            )
        if kind == "terraform":
            return (
                f"APN/1.0 HashiCorp/1.0 Terraform/1.{r.randint(5, 9)}.{r.randint(0, 6)}"
                " (+https://www.terraform.io) terraform-provider-aws/5."
                f"{r.randint(30, 80)}.0 (+https://registry.terraform.io/providers/hashicorp/aws)"
                f" aws-sdk-go-v2/1.{r.randint(24, 32)}.{r.randint(0, 9)} ua/2.0 os/linux"
                f" lang/go#1.22.{r.randint(1, 8)} md/GOOS#linux md/GOARCH#amd64"
            )
        if kind == "gha":
            return (
                f"aws-cli/2.{r.randint(13, 22)}.{r.randint(0, 40)}"
                f" md/awscrt#0.19.{r.randint(1, 19)} ua/2.0"
                f" os/linux#6.5.0-{r.randint(1010, 1025)}-azure md/arch#x86_64"
                " lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe"
                " md/distrib#ubuntu.22 md/prompt#off md/command#cloudformation.deploy"
            )
        if kind == "ssm":
            return (
                f"aws-sdk-go/1.44.{r.randint(100, 330)} (go1.21.{r.randint(1, 9)}; linux; amd64)"
                f" amazon-ssm-agent/3.3.{r.randint(100, 999)}.0"
            )
        if kind == "java":
            return (
                f"aws-sdk-java/2.25.{r.randint(1, 60)} Linux/5.10.{r.randint(200, 230)}-"
                f"{r.randint(100, 230)}.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0."
                f"{r.randint(8, 12)}+7-LTS Java/17.0.{r.randint(8, 12)} vendor/Amazon.com_Inc."
                " io/sync http/Apache cfg/retry-mode/legacy"
            )
        if kind == "go":
            return (
                f"aws-sdk-go-v2/1.{r.randint(24, 32)}.{r.randint(0, 9)} os/linux"
                f" lang/go#1.22.{r.randint(1, 8)} md/GOOS#linux md/GOARCH#amd64"
                f" api/s3#1.{r.randint(40, 60)}.{r.randint(0, 9)}"
            )
        if kind == "lambda":
            v = f"1.34.{r.randint(10, 160)}"
            return (
                f"Boto3/{v} md/Botocore#{v} ua/2.0 os/linux#5.10.{r.randint(200, 230)}-"
                f"{r.randint(190, 230)}.744.amzn2.x86_64 md/arch#x86_64 lang/python#3.12."
                f"{r.randint(1, 5)} md/pyimpl#CPython exec-env/AWS_Lambda_python3.12"
                f" cfg/retry-mode#legacy Botocore/{v}"
            )
        raise ValueError(kind)

    def _uas(self, p: _P, kinds: Sequence[str], weights: Sequence[float]) -> None:
        p.uas = [self._ua(self._ua_text(k)) for k in kinds]
        p.ua_w = list(weights)
