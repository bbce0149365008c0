"""Role sessions and the special records they cause: AssumeRole when a session starts,
RunInstances when an instance behind an instance profile launches, and error fields.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np

from bench.workload.population_tables import REGIONS
from bench.workload.registry import _P
from bench.workload.templates import _B32_TABLE, _expiration, _iso
from bench.workload.truth import _GroundTruth


class _Records(_GroundTruth):
    """Session identities and the records rendered one at a time (not vectorized)."""

    # set by the event engine's run(); declared here because these methods use them
    sr: random.Random
    ui_cache: dict[int, bytes]

    # -- sessions and special records ------------------------------------------------------------
    def _session_name(self, s: int) -> str:
        role = self.ps[int(self.lane_p[self.sess_lane[s]])]
        style = role.lane_style
        if style == "user":
            return self.ps[int(self.sess_assumer[s])].name
        if style == "prefix":
            return f"{role.lane_name}{int(self.sess_created[s])}"
        if style == "fixed":
            return role.lane_name
        return self.inst_id[int(self.sess_inst[s])]

    def _session_key(self, s: int) -> str:
        role = self.ps[int(self.lane_p[self.sess_lane[s]])]
        return f"{role.role_pid}:{self._session_name(s)}"

    def _akid(self, s: int) -> str:
        digest = hashlib.blake2b(s.to_bytes(8, "little"), digest_size=16, key=self.key).digest()
        return "ASIA" + digest.translate(_B32_TABLE).decode()

    def _session_ui(self, s: int) -> bytes:
        cached = self.ui_cache.get(s)
        if cached is None:
            if len(self.ui_cache) > 100_000:
                self.ui_cache.clear()
            role = self.ps[int(self.lane_p[self.sess_lane[s]])]
            name = self._session_name(s).encode()
            created = _iso(int(self.sess_created[s])).encode()
            cached = role.ui_fmt % (name, name, self._akid(s).encode(), created)
            self.ui_cache[s] = cached
        return cached

    def _error(self, entry: int, who: int, sess: int, denied: bool, pick: float) -> bytes:
        e = self.entries[entry]
        k = e.denied
        if not denied:
            total = sum(w for _, _, w in e.errors)
            acc = 0.0
            for k, (_, _, w) in enumerate(e.errors):  # noqa: B007
                acc += w / total
                if pick < acc:
                    break
        code, message, _ = e.errors[k]
        if "{" in message:
            p = self.ps[who]
            if sess >= 0:
                acct = self.accounts[p.account].id
                arn = f"arn:aws:sts::{acct}:assumed-role/{p.role_name}/{self._session_name(sess)}"
            else:
                arn = p.arn or p.key
            message = message.format(arn=arn, action=e.action)
        if code is None:
            return f'"errorMessage":"{message}",'.encode()
        return f'"errorCode":"{code}","errorMessage":"{message}",'.encode()

    def _uuid(self) -> str:
        h = f"{self.sr.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def _announce(
        self, s: int, when: int, hour: int, out: list[tuple[int, int, int, bytes]]
    ) -> None:
        self.sess_created[s] = when
        role = self.ps[int(self.lane_p[self.sess_lane[s]])]
        self.sessions_started[role.idx] += 1
        inst = int(self.sess_inst[s])
        if inst >= 0 and not self.inst_launched[inst]:
            self.inst_launched[inst] = True
            if self.inst_start[inst] >= self.t0:
                self._launch(inst, role, max(hour, when - self.sr.randint(30, 240)), hour, out)
        assumer = self.ps[int(self.sess_assumer[s])]
        self.counts[assumer.idx] += 1
        region = role.regions[0]
        record = self._assume_role(s, role, assumer, when, region)
        out.append((role.account, region, when - hour, record))

    def _assume_role(self, s: int, role: _P, assumer: _P, when: int, region: int) -> bytes:
        acct = self.accounts[role.account].id
        name = self._session_name(s)
        rname = REGIONS[region].name
        extra = tls = ""
        if assumer.kind == "service":
            ui = (assumer.ui or b"").decode()
            ip = ua = assumer.key
            extra = f',"sharedEventID":"{self._uuid()}"'
        else:
            ip = self.ips[self.sr.choices(assumer.ips, assumer.ip_w)[0]]
            ua = self.uas[self.sr.choices(assumer.uas, assumer.ua_w)[0]]
            if assumer.account != role.account:  # cross-account: seen as AWSAccount here
                home = self.accounts[assumer.account].id
                ui = f'{{"type":"AWSAccount","principalId":"{assumer.key}","accountId":"{home}"}}'
                extra = f',"sharedEventID":"{self._uuid()}"'
            else:
                ui = (assumer.ui or b"").decode()
            tls = (
                ',"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256",'
                f'"clientProvidedHostHeader":"sts.{rname}.amazonaws.com"}}'
            )
        akid = self._akid(s)
        token = f"{self.token[0]}{akid}{self.token[1]}"
        return (
            f'{{"eventVersion":"1.08","userIdentity":{ui},"eventTime":"{_iso(when)}",'
            f'"eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"{rname}",'
            f'"sourceIPAddress":"{ip}","userAgent":"{ua}","requestParameters":{{"roleArn":'
            f'"{role.arn}","roleSessionName":"{name}","durationSeconds":3600}},'
            f'"responseElements":{{"credentials":{{"accessKeyId":"{akid}",'
            f'"sessionToken":"{token}","expiration":"{_expiration(when + 3600)}"}},'
            f'"assumedRoleUser":{{"assumedRoleId":"{role.role_pid}:{name}","arn":'
            f'"arn:aws:sts::{acct}:assumed-role/{role.role_name}/{name}"}}}},'
            f'"requestID":"{self._uuid()}","eventID":"{self._uuid()}","readOnly":true,'
            f'"resources":[{{"accountId":"{acct}","type":"AWS::IAM::Role","ARN":"{role.arn}"}}],'
            f'"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{acct}"'
            f'{extra},"eventCategory":"Management"{tls}}}'
        ).encode()

    def _launch(self, inst: int, role: _P, when: int, hour: int,
                out: list[tuple[int, int, int, bytes]]) -> None:  # fmt: skip
        acct = self.accounts[role.account]
        asg = self.ps[acct.asg_role]
        lane = int(self.p_lane0[asg.idx])
        s = int(np.searchsorted(self.sess_key, (lane << 40) + when, side="right")) - 1
        if self.sess_created[s] == 0:
            self._announce(s, max(hour, when - self.sr.randint(1, 30)), hour, out)
        self.counts[asg.idx] += 1
        itype, ami, subnet, eni, private = self.inst_meta[inst]
        iid = self.inst_id[inst]
        region = asg.regions[0]
        rname = REGIONS[region].name
        profile = f"arn:aws:iam::{acct.id}:instance-profile/{role.role_name}"
        request = self._uuid()
        dns = f"ip-{private.replace('.', '-')}.{rname}.compute.internal"
        ms = when * 1000
        sg = "sg-" + iid[2:]
        record = (
            f'{{"eventVersion":"1.09","userIdentity":{self._session_ui(s).decode()},'
            f'"eventTime":"{_iso(when)}","eventSource":"ec2.amazonaws.com",'
            f'"eventName":"RunInstances","awsRegion":"{rname}",'
            '"sourceIPAddress":"autoscaling.amazonaws.com","userAgent":"autoscaling.amazonaws.com",'
            '"requestParameters":{"instancesSet":{"items":[{"minCount":1,"maxCount":1}]},'
            f'"launchTemplate":{{"launchTemplateId":"lt-{iid[2:]}","version":"1"}},'
            f'"subnetId":"{subnet}","instanceType":"{itype}","iamInstanceProfile":{{"arn":'
            f'"{profile}"}},"clientToken":"fleet-{self._uuid()}"}},'
            f'"responseElements":{{"requestId":"{request}","reservationId":"r-{iid[2:]}",'
            f'"ownerId":"{acct.id}","groupSet":{{}},"instancesSet":{{"items":[{{"instanceId":'
            f'"{iid}","imageId":"{ami}","instanceState":{{"code":0,"name":"pending"}},'
            f'"privateDnsName":"{dns}","amiLaunchIndex":0,"productCodes":{{}},'
            f'"instanceType":"{itype}","launchTime":{ms},"placement":{{"availabilityZone":'
            f'"{rname}a","tenancy":"default"}},"monitoring":{{"state":"disabled"}},'
            f'"subnetId":"{subnet}","vpcId":"{acct.vpc}","privateIpAddress":"{private}",'
            '"stateReason":{"code":"pending","message":"pending"},"architecture":"x86_64",'
            '"rootDeviceType":"ebs","rootDeviceName":"/dev/xvda","blockDeviceMapping":{},'
            '"virtualizationType":"hvm","hypervisor":"xen","groupSet":{"items":[{"groupId":'
            f'"{sg}","groupName":"default"}}]}},"sourceDestCheck":true,'
            f'"networkInterfaceSet":{{"items":[{{"networkInterfaceId":"{eni}","subnetId":'
            f'"{subnet}","vpcId":"{acct.vpc}","ownerId":"{acct.id}","status":"in-use",'
            f'"privateIpAddress":"{private}","sourceDestCheck":true,"interfaceType":"interface",'
            f'"attachment":{{"attachmentId":"eni-attach-{eni[4:]}","deviceIndex":0,'
            f'"networkCardIndex":0,"status":"attaching","attachTime":{ms},'
            f'"deleteOnTermination":true}}}}]}},"iamInstanceProfile":{{"arn":"{profile}",'
            f'"id":"AIPA{role.role_pid[4:]}"}},"ebsOptimized":false,"enaSupport":true}}]}},'
            f'"requesterId":"{asg.role_pid}"}},"requestID":"{request}","eventID":'
            f'"{self._uuid()}","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,'
            f'"recipientAccountId":"{acct.id}","eventCategory":"Management"}}'
        )
        out.append((acct.idx, region, when - hour, record.encode()))
