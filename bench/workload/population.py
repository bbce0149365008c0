"""Accounts and their principals: IAM users, the root user, roles and who assumes them, AWS
services and external partners, drawn in a fixed order from the world's random stream.
"""

from __future__ import annotations

import numpy as np

from bench.workload.population_tables import (
    APP_NAMES,
    BUCKET_PURPOSES,
    CI_PREFIXES,
    COMPANY_WORDS,
    FIRST_NAMES,
    FUNCTION_SUFFIXES,
    HOSTING_PREFIXES,
    HUMAN_ROLES,
    ISP_PREFIXES,
    LAST_INITIALS,
    POOL_OF,
    PROFILE_OF,
    RATES,
    REGION_INDEX,
    REGION_WEIGHTS,
    REGIONS,
)
from bench.workload.registry import _P, _Account, _Registry
from bench.workload.templates import _iso


class _Population(_Registry):
    """Draws each account and its principals (called once per account, in order)."""

    # -- accounts -------------------------------------------------------------------------------
    def _account(self, a: int, acct_id: str) -> None:
        r = self.r
        region = r.choices(range(len(REGIONS)), REGION_WEIGHTS)[0]
        reg = REGIONS[region]
        countries = [reg.country]
        if r.random() < 0.2:
            countries.append(r.choice([c for c in ISP_PREFIXES if c != reg.country]))
        scale = float(np.exp(r.gauss(0.0, 1.0) - 0.5))
        acct = _Account(a, acct_id, region, reg.tz, countries, r.choice(COMPANY_WORDS), scale)
        self.accounts.append(acct)
        acct.first = len(self.ps)
        second = REGION_INDEX["us-east-1"] if reg.name != "us-east-1" else REGION_INDEX["us-west-2"]
        for purpose in r.sample(BUCKET_PURPOSES, r.randint(2, 5)):
            bregion = region if r.random() < 0.85 else second
            name = f"{acct.company}-{purpose}-{''.join(r.choices('abcdefghijklmnopqrstuvwxyz0123456789', k=8))}"  # noqa: E501
            acct.buckets.append((name, bregion))
        acct.office_ips = self.draw_ips(ISP_PREFIXES[reg.country], r.randint(1, 2), reg.country)
        acct.vpc = self._hexid("vpc-")
        acct.subnets = [self._hexid("subnet-") for _ in range(r.randint(2, 4))]
        acct.amis = [self._hexid("ami-") for _ in range(r.randint(1, 3))]

        used_names: set[str] = set()
        for _ in range(r.randint(2, 6)):
            acct.humans.append(self._human(acct, used_names).idx)
        for _ in range(r.choices((0, 1, 2), (0.3, 0.5, 0.2))[0]):
            acct.ci.append(self._ci(acct, used_names).idx)
        self._root(acct)
        if r.random() < 0.6:
            self._cloudtrail_service(acct)
        if r.random() < 0.2:
            self._external(acct)
        for role in r.sample(HUMAN_ROLES, r.randint(1, 3)):
            self._human_role(acct, role)
        if acct.ci and r.random() < 0.7:
            self._deploy_role(acct)
        n_instance = r.choices((0, 1, 2), (0.3, 0.45, 0.25))[0]
        for _ in range(n_instance):
            self._instance_role(acct)
        if n_instance:
            self._asg_role(acct)
        for _ in range(r.choices((0, 1, 2, 3), (0.3, 0.3, 0.25, 0.15))[0]):
            self._lambda_role(acct)
        if r.random() < 0.7:
            self._config_role(acct)
        if a > 0 and r.random() < 0.5:
            self._audit_role(acct)

    def _new(self, acct: _Account, kind: str, label: str, key: str, name: str,
             arn: str | None, home: str | None = None) -> _P:  # fmt: skip
        r = self.r
        reg = acct.region
        regions, region_w = [reg], [1.0]
        if kind in ("human", "role-human", "ci", "role-deploy") and r.random() < 0.35:
            other = (
                REGION_INDEX["us-east-1"]
                if REGIONS[reg].name != "us-east-1"
                else (REGION_INDEX["us-west-2"])
            )
            regions, region_w = [reg, other], [0.85, 0.15]
        rate = RATES[kind] * acct.scale * float(np.exp(r.gauss(0.0, 1.0) - 0.5))
        p = _P(
            idx=len(self.ps),
            kind=kind,
            label=label,
            key=key,
            name=name,
            arn=arn,
            account=acct.idx,
            home=home or acct.id,
            profile=PROFILE_OF.get(kind, "flat"),
            rate=rate,
            regions=regions,
            region_w=region_w,
            err=min(0.2, r.betavariate(2.0, 55.0)),
            country=acct.countries[0],
        )
        if kind in ("human", "role-human"):
            p.buckets = r.sample(range(len(acct.buckets)), min(len(acct.buckets), r.randint(1, 3)))
        else:
            p.buckets = [r.randrange(len(acct.buckets))]
        self.ps.append(p)
        return p

    def _user_name(self, used: set[str]) -> str:
        r = self.r
        while True:
            name = f"{r.choice(FIRST_NAMES)}.{r.choice(LAST_INITIALS)}"
            if r.random() < 0.3:
                name = name.replace(".", "")
            if name not in used:
                used.add(name)
                return name

    def _iam_user(self, acct: _Account, kind: str, name: str) -> _P:
        pid = self._id("AIDA")
        arn = f"arn:aws:iam::{acct.id}:user/{name}"
        p = self._new(acct, kind, "AwsUser", pid, name, arn)
        p.ui = (
            f'{{"type":"IAMUser","principalId":"{pid}","arn":"{arn}","accountId":"{acct.id}",'
            f'"accessKeyId":"{self._id("AKIA", 16)}","userName":"{name}"}}'
        ).encode()
        return p

    def _human(self, acct: _Account, used: set[str]) -> _P:
        r = self.r
        p = self._iam_user(acct, "human", self._user_name(used))
        p.country = r.choices(acct.countries, (0.8, 0.2)[: len(acct.countries)])[0]
        ips: list[int] = []
        weights: list[float] = []
        if p.country == acct.countries[0]:
            ips += acct.office_ips
            weights += [3.0 / len(acct.office_ips)] * len(acct.office_ips)
        home = self.draw_ips(ISP_PREFIXES[p.country], r.randint(1, 2), p.country)
        ips += home
        weights += [1.0] * len(home)
        if r.random() < 0.15 and p.country in HOSTING_PREFIXES:  # a VPN
            ips += self.draw_ips(HOSTING_PREFIXES[p.country], 1, p.country)
            weights.append(0.5)
        p.ips, p.ip_w = ips, weights
        kinds = ["cli", "browser"] + r.sample(["boto3", "terraform"], r.randint(0, 1))
        self._uas(p, kinds, [1.0, 0.6, 0.3][: len(kinds)])
        self._api_set(p, "human")
        return p

    def _ci(self, acct: _Account, used: set[str]) -> _P:
        r = self.r
        name = r.choice(("github-actions", "jenkins", "terraform-ci", "gitlab-runner", "deployer"))
        while name in used:
            name += "-2"
        used.add(name)
        p = self._iam_user(acct, "ci", name)
        if r.random() < 0.7:
            p.ips = self.draw_ips(CI_PREFIXES, r.randint(3, 6), None)
        else:  # self-hosted runners in the account's region
            p.ips = self.draw_ips((REGIONS[acct.region].aws,), r.randint(1, 3), None)
        p.ip_w = [1.0] * len(p.ips)
        kinds = r.sample(["gha", "terraform", "cli"], r.randint(1, 2))
        self._uas(p, kinds, [1.0, 0.5][: len(kinds)])
        self._api_set(p, "ci")
        return p

    def _root(self, acct: _Account) -> None:
        arn = f"arn:aws:iam::{acct.id}:root"
        p = self._new(acct, "root", "AwsUser", acct.id, "root", arn)
        p.ui = (
            f'{{"type":"Root","principalId":"{acct.id}","arn":"{arn}","accountId":"{acct.id}",'
            f'"accessKeyId":"{self._id("ASIA", 16)}","sessionContext":{{"sessionIssuer":{{}},'
            '"webIdFederationData":{},"attributes":{"creationDate":"'
            f'{_iso(self.t0)}","mfaAuthenticated":"true"}}}}}}'
        ).encode()
        p.ips, p.ip_w = list(acct.office_ips), [1.0] * len(acct.office_ips)
        self._uas(p, ["browser"], [1.0])
        self._api_set(p, "root")

    def _service(self, acct: _Account, service: str) -> int:
        found = acct.services.get(service)
        if found is not None:
            return found
        p = self._new(acct, "service", "AwsService", service, service, None)
        p.ui = f'{{"type":"AWSService","invokedBy":"{service}"}}'.encode()
        p.ips, p.ip_w = [self._ip(service)], [1.0]
        p.uas, p.ua_w = [self._ua(service)], [1.0]
        acct.services[service] = p.idx
        return p.idx

    def _cloudtrail_service(self, acct: _Account) -> None:
        service = "cloudtrail.amazonaws.com"
        p = self._new(acct, "cloudtrail-service", "AwsService", service, service, None)
        p.ui = f'{{"type":"AWSService","invokedBy":"{service}"}}'.encode()
        p.ips, p.ip_w = [self._ip(service)], [1.0]
        p.uas, p.ua_w = [self._ua(service)], [1.0]
        p.err = 0.002
        self._api_set(p, "cloudtrail-service")

    def _external(self, acct: _Account) -> None:
        r = self.r
        ext_id = str(r.randrange(10**11, 10**12))
        pid = self._id("AIDA")
        p = self._new(acct, "external", "AwsUser", pid, f"partner-{ext_id}", None, home=ext_id)
        p.ui = f'{{"type":"AWSAccount","principalId":"{pid}","accountId":"{ext_id}"}}'.encode()
        p.country = r.choice(list(ISP_PREFIXES))
        p.ips = self.draw_ips(ISP_PREFIXES[p.country], r.randint(1, 3), p.country)
        p.ip_w = [1.0] * len(p.ips)
        self._uas(p, [r.choice(("cli", "java", "boto3"))], [1.0])
        self._api_set(p, "external")

    def _role(self, acct: _Account, kind: str, name: str, path: str = "/",
              invoked_by: str | None = None, instance: bool = False) -> _P:  # fmt: skip
        pid = self._id("AROA")
        arn = f"arn:aws:iam::{acct.id}:role{path}{name}"
        p = self._new(acct, kind, "AwsRole", pid, name, arn)
        p.role_pid, p.role_name = pid, name
        issuer = (
            f'{{"type":"Role","principalId":"{pid}","arn":"{arn}","accountId":"{acct.id}",'
            f'"userName":"{name}"}}'
        )
        tail = ',"ec2RoleDelivery":"2.0"' if instance else ""
        invoked = f',"invokedBy":"{invoked_by}"' if invoked_by else ""
        fmt = (
            f'{{"type":"AssumedRole","principalId":"{pid}:%b","arn":"arn:aws:sts::{acct.id}:'
            f'assumed-role/{name}/%b","accountId":"{acct.id}","accessKeyId":"%b",'
            f'"sessionContext":{{"sessionIssuer":{issuer},"webIdFederationData":{{}},'
            f'"attributes":{{"creationDate":"%b","mfaAuthenticated":"false"}}{tail}}}{invoked}}}'
        )
        p.ui_fmt = fmt.encode()
        pool = POOL_OF.get(kind)
        if pool:
            self._api_set(p, pool)
        return p

    def _human_role(self, acct: _Account, name: str) -> None:
        r = self.r
        p = self._role(acct, "role-human", name)
        p.lanes = r.randint(1, 2)
        p.lane_style = r.choice(("user", "prefix"))
        p.lane_name = "botocore-session-"
        p.session_hours = (1, 1, 1, 2, 4, 8, 12)
        p.assumers = r.sample(acct.humans, min(len(acct.humans), r.randint(1, 3)))

    def _deploy_role(self, acct: _Account) -> None:
        p = self._role(acct, "role-deploy", self.r.choice(("DeployRole", "GitHubActionsDeploy")))
        p.lanes, p.lane_style, p.lane_name = 1, "prefix", "deploy-"
        p.session_hours = (1, 1, 2)
        p.assumers = list(acct.ci)

    def _audit_role(self, acct: _Account) -> None:
        p = self._role(acct, "role-audit", "SecurityAudit")
        p.lanes, p.lane_style, p.lane_name = 1, "prefix", "SecurityAudit-"
        p.session_hours = (1, 1, 2, 4)
        p.assumers = [-1]  # the first account's auditors, linked once they exist

    def _link_auditors(self) -> None:
        auditors = self.accounts[0].humans[:2]
        for p in self.ps:
            if p.kind == "role-audit":
                p.assumers = list(auditors)

    def _instance_role(self, acct: _Account) -> None:
        r = self.r
        app = r.choice(APP_NAMES)
        p = self._role(acct, "role-instance", f"{app}-ec2-role", instance=True)
        p.lanes = r.randint(1, 4)
        p.lane_style = "instance"
        p.session_hours = (1, 2, 3, 4, 5, 6)
        p.assumers = [self._service(acct, "ec2.amazonaws.com")]
        self._uas(p, ["ssm", r.choice(("java", "go", "boto3"))], [0.4, 1.0])

    def _asg_role(self, acct: _Account) -> None:
        svc = "autoscaling.amazonaws.com"
        p = self._role(
            acct,
            "role-autoscaling",
            "AWSServiceRoleForAutoScaling",
            path=f"/aws-service-role/{svc}/",
            invoked_by=svc,
        )
        p.lanes, p.lane_style, p.lane_name = 1, "fixed", "AutoScaling"
        p.session_hours = (1, 2, 4, 6)
        p.assumers = [self._service(acct, svc)]
        p.ips, p.ip_w = [self._ip(svc)], [1.0]
        p.uas, p.ua_w = [self._ua(svc)], [1.0]
        p.extra_apis.add("ec2.amazonaws.com:RunInstances")
        acct.asg_role = p.idx

    def _lambda_role(self, acct: _Account) -> None:
        r = self.r
        fn = f"{r.choice(APP_NAMES)}-{r.choice(FUNCTION_SUFFIXES)}"
        p = self._role(acct, "role-lambda", f"{fn}-role")
        p.lanes, p.lane_style, p.lane_name = 1, "fixed", fn
        p.session_hours = (1, 2, 4, 8, 12)
        p.assumers = [self._service(acct, "lambda.amazonaws.com")]
        p.ips = self.draw_ips((REGIONS[acct.region].aws,), r.randint(4, 10), None)
        p.ip_w = [1.0] * len(p.ips)
        self._uas(p, ["lambda"], [1.0])

    def _config_role(self, acct: _Account) -> None:
        svc = "config.amazonaws.com"
        p = self._role(
            acct, "role-config", "AWSServiceRoleForConfig", path=f"/aws-service-role/{svc}/",
            invoked_by=svc,
        )  # fmt: skip
        p.lanes, p.lane_style, p.lane_name = 1, "fixed", "AWSConfig-Describe"
        p.session_hours = (1, 2, 4, 6)
        p.assumers = [self._service(acct, svc)]
        p.ips, p.ip_w = [self._ip(svc)], [1.0]
        p.uas, p.ua_w = [self._ua(svc)], [1.0]
        p.err = min(p.err, 0.01)
