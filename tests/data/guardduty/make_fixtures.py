"""Writes the synthetic GuardDuty fixtures of this folder (run from the repository root)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ACCOUNT = "111122223333"


def finding(fid: str, kind: str, updated: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schemaVersion": "2.0",
        "accountId": ACCOUNT,
        "region": "us-east-1",
        "partition": "aws",
        "id": fid,
        "arn": f"arn:aws:guardduty:us-east-1:{ACCOUNT}:detector/d1/finding/{fid}",
        "type": kind,
        "severity": 5,
        "createdAt": "2024-05-01T10:00:00.000Z",
        "updatedAt": updated,
        "title": f"Synthetic {kind}",
        "description": "Synthetic finding for gumshoe's tests.",
    }
    return {**base, **extra}


def service(first: str, last: str, count: int, action: dict[str, Any]) -> dict[str, Any]:
    return {
        "serviceName": "guardduty",
        "action": action,
        "eventFirstSeen": first,
        "eventLastSeen": last,
        "count": count,
        "archived": False,
        "resourceRole": "TARGET",
        "additionalInfo": {"sample": False},
    }


SESSION = finding(
    "f0000000000000000000000000000001",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    "2024-05-01T11:30:00.000Z",
    resource={
        "resourceType": "AccessKey",
        "accessKeyDetails": {
            "accessKeyId": "ASIAEXAMPLEEXAMPLE01",
            "principalId": "AROAEXAMPLEROLE00001:i-0abc1234def567890",
            "userName": "web-role",
            "userType": "AssumedRole",
        },
    },
    service=service(
        "2024-05-01T10:05:00Z",
        "2024-05-01T11:20:00Z",
        3,
        {"awsApiCallAction": {"api": "ListBuckets", "remoteIpDetails": {"ipAddressV4": "8.8.8.8"}}},
    ),
)
EKS = finding(
    "f0000000000000000000000000000002",
    "Execution:Kubernetes/ExecInKubeSystemPod",
    "2024-05-01T12:00:00.000Z",
    resource={
        "resourceType": "EKSCluster",
        "eksClusterDetails": {
            "name": "prod",
            "arn": f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/prod",
        },
        "kubernetesDetails": {
            "kubernetesWorkloadDetails": {
                "name": "coredns-1",
                "type": "pods",
                "namespace": "kube-system",
            }
        },
    },
    service=service(
        "2024-05-01T11:59:00Z",
        "2024-05-01T11:59:30Z",
        1,
        {"kubernetesApiCallAction": {"remoteIpDetails": {"ipAddressV6": "2001:4860:4860::8888"}}},
    ),
)
PROBE = finding(
    "f0000000000000000000000000000003",
    "Recon:EC2/PortProbeUnprotectedPort",
    "2024-05-01T13:00:00.000Z",
    resource={
        "resourceType": "Instance",
        "instanceDetails": {
            "instanceId": "i-0abc1234def567890",
            "instanceType": "t3.micro",
            "networkInterfaces": [
                {
                    "networkInterfaceId": "eni-0aaa1111bbb22223c",
                    "vpcId": "vpc-1",
                    "subnetId": "subnet-1",
                }
            ],
        },
    },
    service=service(
        "2024-05-01T12:10:00Z",
        "2024-05-01T12:40:00Z",
        7,
        {
            "portProbeAction": {
                "portProbeDetails": [
                    {"remoteIpDetails": {"ipAddressV4": "1.1.1.1"}},
                    {"remoteIpDetails": {"ipAddressV4": "9.9.9.9"}},
                ]
            }
        },
    ),
)


def main() -> None:
    export = HERE / "AWSLogs" / ACCOUNT / "GuardDuty" / "us-east-1" / "2024" / "05" / "01"
    export.mkdir(parents=True, exist_ok=True)
    bad = {k: v for k, v in EKS.items() if k != "severity"} | {"id": "f-missing-severity"}
    lines = [json.dumps(SESSION), json.dumps(EKS), '{"findings":[]}', json.dumps(bad)]
    (export / "findings.jsonl.gz").write_bytes(
        gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    )
    event = {
        "version": "0",
        "id": "e0c5f1b8-0000-0000-0000-000000000000",
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": ACCOUNT,
        "time": "2024-05-01T13:00:05Z",
        "region": "us-east-1",
        "resources": [],
        "detail": PROBE,
    }
    (HERE / "eventbridge_port_probe.json").write_text(json.dumps(event, indent=2) + "\n")


if __name__ == "__main__":
    main()
