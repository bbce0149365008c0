"""A deterministic, realistic multi-account CloudTrail workload, written as CloudTrail delivers it.

`generate()` writes gzip files in CloudTrail's S3 layout,
`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<16
alnum>.json.gz`, each `{"Records":[...]}` for one account, region and 5-minute delivery window
(files exist only for windows with events), and returns the ground truth: every principal with
its normal rate, IPs (with country and ASN as `loaders.geo` sees them), user agents, APIs and
regions, and every injected anomaly with its hours and new values.

The population depends only on (`accounts`, `seed`): per account IAM users (people with office
and home IPs, CI users on runner IPs), the root user, roles assumed by users (sessions of 1-12 h
named after the user or `botocore-session-<epoch>`), by CI users, by an auditor in the first
account (cross-account: the AssumeRole is an `AWSAccount` event in the role's account), by
ec2.amazonaws.com (instance profiles: session name = instance id, instances launched by the
autoscaling service-linked role with RunInstances), by lambda.amazonaws.com and by
config.amazonaws.com; AWSService callers (cloudtrail.amazonaws.com using KMS) and external
partners reading a bucket (`AWSAccount` events). Every principal has a heavy-tailed mean rate,
a stable skewed set of APIs (Describe/List/Get dominate), a few IPs and user agents, an error
rate (2-5 % overall) and a seasonality: office hours in its account's time zone with quiet
weekends (people), workdays plus nightly jobs (CI), or flat (services and service roles).
Hourly counts are Poisson.

Anomalies (`Anomaly`) are drawn from their own random stream, so the normal API calls are the same
with or without them (session-start events may move earlier when an anomaly opens a session).

Speed: the per-event work is vectorized with numpy and records are rendered by one
`bytes.__mod__` per event from per-API templates (no json.dumps per event); output is
compressed with isal at level 1. Memory is bounded by one hour of events (split by accounts
above `CHUNK_EVENTS`) plus the population.

CLI: `python -m bench.workload OUT_DIR --accounts 1000 --days 30 --events 10000000 --seed 1`.
The ground truth goes to `OUT_DIR/.truth.json` (hidden files are not loaded by `gumshoe load`).
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import operator
import os
import queue
import random
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from isal import igzip

from loaders.geo import GeoIndex, default_index

# ----------------------------------------------------------------------------- static tables


class Region(NamedTuple):
    name: str
    tz: float  # UTC offset of the account's offices (no daylight saving time)
    country: str  # office country of accounts homed here
    aws: str  # a public EC2/Lambda prefix of the region


REGIONS: Final = (
    Region("us-east-1", -5, "US", "3.80.0.0/12"),
    Region("us-east-2", -5, "US", "3.128.0.0/13"),
    Region("us-west-2", -8, "US", "44.224.0.0/11"),
    Region("eu-west-1", 0, "GB", "34.240.0.0/13"),
    Region("eu-central-1", 1, "DE", "3.120.0.0/14"),
    Region("eu-west-3", 1, "FR", "15.236.0.0/15"),
    Region("ap-northeast-1", 9, "JP", "13.112.0.0/14"),
    Region("ap-southeast-2", 10, "AU", "3.104.0.0/14"),
    Region("ap-south-1", 5.5, "IN", "13.232.0.0/14"),
    Region("sa-east-1", -3, "BR", "18.228.0.0/16"),
    Region("ca-central-1", -5, "CA", "3.96.0.0/15"),
)
REGION_WEIGHTS: Final = (30, 8, 14, 10, 9, 3, 7, 5, 6, 3, 5)
REGION_INDEX: Final = {r.name: i for i, r in enumerate(REGIONS)}

# Eyeball ISPs per office country (residential and business lines; several ASNs per country).
ISP_PREFIXES: Final[dict[str, tuple[str, ...]]] = {
    "US": ("73.0.0.0/8", "99.0.0.0/10", "24.24.0.0/13", "71.160.0.0/11"),
    "GB": ("86.128.0.0/10", "82.0.0.0/14"),
    "DE": ("79.192.0.0/10", "88.64.0.0/12", "78.34.0.0/15"),
    "FR": ("90.0.0.0/9", "82.64.0.0/14", "93.0.0.0/11"),
    "JP": ("153.128.0.0/10", "126.0.0.0/8", "106.128.0.0/11"),
    "AU": ("1.120.0.0/13", "49.176.0.0/12"),
    "IN": ("49.32.0.0/12", "122.160.0.0/12", "106.51.0.0/16"),
    "BR": ("177.32.0.0/12",),
    "CA": ("70.48.0.0/13", "99.224.0.0/11", "24.64.0.0/13"),
}
# Hosting and VPN providers: a new autonomous system within a familiar country.
HOSTING_PREFIXES: Final[dict[str, tuple[str, ...]]] = {
    "US": ("159.89.0.0/16", "45.33.0.0/17", "45.32.0.0/16"),
    "DE": ("78.46.0.0/15", "217.160.0.0/16"),
    "FR": ("51.68.0.0/16", "51.15.0.0/16"),
    "JP": ("153.120.0.0/14",),
}
# Where attackers' traffic comes from in the samples: countries no office is in.
FOREIGN_PREFIXES: Final[dict[str, tuple[str, ...]]] = {
    "RU": ("95.24.0.0/13",),
    "CN": ("116.224.0.0/12", "123.112.0.0/12"),
    "VN": ("27.64.0.0/12",),
    "NG": ("102.89.0.0/16",),
    "RO": ("185.244.214.0/24",),
    "UA": ("46.211.0.0/16",),
    "TR": ("78.160.0.0/11",),
    "ID": ("36.64.0.0/11",),
    "PK": ("39.32.0.0/11",),
}
# CI runners: GitHub-hosted runners (Azure) and GitHub itself.
CI_PREFIXES: Final = ("20.42.0.0/15", "52.160.0.0/11", "140.82.112.0/20")

FIRST_NAMES: Final = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yuki", "zoe",
    "amit", "priya", "chen", "mei", "kenji", "hiro", "lars", "ingrid", "sofia", "mateo", "lucas",
    "emma", "noah", "liam", "ava", "mia", "omar", "fatima", "ravi", "anya", "tomas", "elena",
    "jonas", "clara", "felix", "nina", "marco", "giulia", "pierre", "camille", "oscar", "maja",
)  # fmt: skip
LAST_INITIALS: Final = "abcdefghijklmnoprstw"
COMPANY_WORDS: Final = (
    "acme", "globex", "initech", "umbrella", "hooli", "vandelay", "wayne", "stark", "tyrell",
    "cyberdyne", "soylent", "aperture", "wonka", "gringotts", "oceanic", "massive", "pied",
    "dunder", "monarch", "nakatomi", "blueth", "prestige", "sirius", "virtucon", "zorg",
)  # fmt: skip
BUCKET_PURPOSES: Final = (
    "logs", "assets", "backups", "data", "artifacts", "uploads", "reports", "static", "exports",
    "terraform-state", "ml-datasets", "media",
)  # fmt: skip
APP_NAMES: Final = (
    "orders", "billing", "search", "checkout", "catalog", "auth", "reporting", "ingest", "web",
    "api", "worker", "etl", "notifications", "inventory", "pricing",
)  # fmt: skip
FUNCTION_SUFFIXES: Final = (
    "processor", "handler", "sync", "resizer", "exporter", "notifier", "cleanup", "scheduler",
)  # fmt: skip
HUMAN_ROLES: Final = ("Admin", "PowerUser", "ReadOnly", "Developer", "DataEngineer", "Support")
INSTANCE_TYPES: Final = ("t3.micro", "t3.medium", "m5.large", "m6i.xlarge", "c6g.large", "r5.large")

# user agents: pieces varied per principal (versions), then fixed for its lifetime
UA_ANOMALIES: Final = (
    "python-requests/2.31.0",
    "curl/8.5.0",
    "aws-cli/1.18.69 Python/2.7.18 Linux/5.15.0-kali3-amd64 botocore/1.17.69",
    "Boto3/1.28.0 Python/3.11.4 Linux/6.3.0-kali1-amd64 Botocore/1.31.0",
    "Go-http-client/1.1",
    "S3 Browser 11.5.7 https://s3browser.com",
    "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
    "aws-sdk-go/1.44.318 (go1.20.6; linux; amd64) Pacu/1.5.2",
    "stratus-red-team_0b5f7a33-51e6-4e52-9d2a-1b4b1f7e5d21",
    "TruffleHog",
)


class Service(NamedTuple):
    source: str  # eventSource
    host: str | None  # tlsDetails.clientProvidedHostHeader ("{r}" = region), None: no TLS details
    version: str  # eventVersion
    region: str | None  # global services record one region
    errors: str  # error set
    action: str  # IAM action prefix


SERVICES: Final[dict[str, Service]] = {
    "ec2": Service("ec2.amazonaws.com", "ec2.{r}.amazonaws.com", "1.10", None, "ec2", "ec2"),
    "iam": Service("iam.amazonaws.com", "iam.amazonaws.com", "1.08", "us-east-1", "iam", "iam"),
    "sts": Service("sts.amazonaws.com", "sts.{r}.amazonaws.com", "1.08", None, "query", "sts"),
    "s3": Service("s3.amazonaws.com", "s3", "1.09", None, "s3", "s3"),
    "lambda": Service(
        "lambda.amazonaws.com", "lambda.{r}.amazonaws.com", "1.08", None, "json", "lambda"
    ),
    "logs": Service("logs.amazonaws.com", "logs.{r}.amazonaws.com", "1.08", None, "json", "logs"),
    "monitoring": Service(
        "monitoring.amazonaws.com", "monitoring.{r}.amazonaws.com", "1.08", None, "query",
        "cloudwatch",
    ),
    "cloudformation": Service(
        "cloudformation.amazonaws.com", "cloudformation.{r}.amazonaws.com", "1.08", None, "query",
        "cloudformation",
    ),
    "rds": Service("rds.amazonaws.com", "rds.{r}.amazonaws.com", "1.08", None, "query", "rds"),
    "kms": Service("kms.amazonaws.com", "kms.{r}.amazonaws.com", "1.08", None, "json", "kms"),
    "ssm": Service("ssm.amazonaws.com", "ssm.{r}.amazonaws.com", "1.08", None, "json", "ssm"),
    "secretsmanager": Service(
        "secretsmanager.amazonaws.com", "secretsmanager.{r}.amazonaws.com", "1.08", None, "json",
        "secretsmanager",
    ),
    "dynamodb": Service(
        "dynamodb.amazonaws.com", "dynamodb.{r}.amazonaws.com", "1.08", None, "json", "dynamodb"
    ),
    "ecr": Service("ecr.amazonaws.com", "api.ecr.{r}.amazonaws.com", "1.08", None, "json", "ecr"),
    "ecs": Service("ecs.amazonaws.com", "ecs.{r}.amazonaws.com", "1.08", None, "json", "ecs"),
    "elasticloadbalancing": Service(
        "elasticloadbalancing.amazonaws.com", "elasticloadbalancing.{r}.amazonaws.com", "1.08",
        None, "query", "elasticloadbalancing",
    ),
    "autoscaling": Service(
        "autoscaling.amazonaws.com", "autoscaling.{r}.amazonaws.com", "1.08", None, "query",
        "autoscaling",
    ),
    "cloudtrail": Service(
        "cloudtrail.amazonaws.com", "cloudtrail.{r}.amazonaws.com", "1.08", None, "json",
        "cloudtrail",
    ),
    "route53": Service(
        "route53.amazonaws.com", "route53.amazonaws.com", "1.08", "us-east-1", "json", "route53"
    ),
    "sns": Service("sns.amazonaws.com", "sns.{r}.amazonaws.com", "1.08", None, "query", "sns"),
    "config": Service(
        "config.amazonaws.com", "config.{r}.amazonaws.com", "1.08", None, "json", "config"
    ),
    "guardduty": Service(
        "guardduty.amazonaws.com", "guardduty.{r}.amazonaws.com", "1.08", None, "json",
        "guardduty",
    ),
    "organizations": Service(
        "organizations.amazonaws.com", "organizations.us-east-1.amazonaws.com", "1.08",
        "us-east-1", "json", "organizations",
    ),
    "signin": Service("signin.amazonaws.com", None, "1.08", "us-east-1", "signin", "signin"),
}  # fmt: skip

DENIED = "User: {arn} is not authorized to perform: {action} because no identity-based policy allows the {action} action"  # noqa: E501
ERROR_SETS: Final[dict[str, tuple[tuple[str | None, str, int], ...]]] = {
    "ec2": (
        (
            "Client.UnauthorizedOperation",
            "You are not authorized to perform this operation. " + DENIED,
            6,
        ),
        ("Client.RequestLimitExceeded", "Request limit exceeded.", 2),
    ),
    "iam": (
        ("AccessDenied", DENIED, 6),
        ("NoSuchEntityException", "The role with name app-role cannot be found.", 1),
        ("ThrottlingException", "Rate exceeded", 1),
    ),
    "json": (("AccessDeniedException", DENIED, 6), ("ThrottlingException", "Rate exceeded", 2)),
    "query": (("AccessDenied", DENIED, 6), ("Throttling", "Rate exceeded", 2)),
    "s3": (("AccessDenied", "Access Denied", 1),),
    "signin": ((None, "Failed authentication", 1),),
}
ERROR_OVERRIDES: Final[dict[str, tuple[tuple[str | None, str, int], ...]]] = {
    "s3:GetBucketPolicy": (
        ("NoSuchBucketPolicy", "The bucket policy does not exist", 6),
        ("AccessDenied", "Access Denied", 1),
    ),
    "s3:GetBucketTagging": (
        ("NoSuchTagSet", "The TagSet does not exist", 6),
        ("AccessDenied", "Access Denied", 1),
    ),
    "s3:GetObject": (
        ("NoSuchKey", "The specified key does not exist.", 3),
        ("AccessDenied", "Access Denied", 1),
    ),
    "s3:HeadObject": (
        ("NoSuchKey", "The specified key does not exist.", 3),
        ("AccessDenied", "Access Denied", 1),
    ),
    "ssm:GetParameter": (
        ("ParameterNotFound", "", 3),
        ("AccessDeniedException", DENIED, 2),
        ("ThrottlingException", "Rate exceeded", 1),
    ),
    "kms:Decrypt": (
        ("AccessDeniedException", DENIED, 3),
        ("ThrottlingException", "Rate exceeded", 1),
    ),
    "secretsmanager:GetSecretValue": (
        ("AccessDeniedException", DENIED, 3),
        ("ResourceNotFoundException", "Secrets Manager can't find the specified secret.", 1),
    ),
}

R, W = "r", "w"  # readOnly true / false
# (service, name, flags, requestParameters, responseElements); flags: r/w readOnly,
# b bucket-scoped S3 call, o S3 object (data event), c console sign-in, s attacker favourite.
APIS: Final[tuple[tuple[str, str, str, str, str], ...]] = (
    ("ec2", "DescribeInstances", "r", '{"instancesSet":{},"filterSet":{}}', "null"),
    ("ec2", "DescribeInstanceStatus", "r",
     '{"instancesSet":{},"filterSet":{},"includeAllInstances":false}', "null"),
    ("ec2", "DescribeSecurityGroups", "r",
     '{"securityGroupSet":{},"securityGroupIdSet":{},"filterSet":{}}', "null"),
    ("ec2", "DescribeVpcs", "r", '{"vpcSet":{},"filterSet":{}}', "null"),
    ("ec2", "DescribeSubnets", "r", '{"subnetSet":{},"filterSet":{}}', "null"),
    ("ec2", "DescribeVolumes", "r", '{"volumeSet":{},"filterSet":{}}', "null"),
    ("ec2", "DescribeSnapshots", "r",
     '{"snapshotSet":{},"ownersSet":{"items":[{"owner":"self"}]},"sharedUsersSet":{},'
     '"filterSet":{}}', "null"),
    ("ec2", "DescribeImages", "r",
     '{"executableBySet":{},"imagesSet":{},"ownersSet":{"items":[{"owner":"self"}]},'
     '"filterSet":{}}', "null"),
    ("ec2", "DescribeRegions", "r", '{"regionSet":{},"allRegions":false}', "null"),
    ("ec2", "DescribeAddresses", "r",
     '{"publicIpsSet":{},"allocationIdsSet":{},"filterSet":{}}', "null"),
    ("ec2", "DescribeNetworkInterfaces", "r", '{"networkInterfaceIdSet":{},"filterSet":{}}',
     "null"),
    ("ec2", "DescribeTags", "r",
     '{"filterSet":{"items":[{"name":"resource-type","valueSet":{"items":[{"value":"instance"}]}}'
     ']}}', "null"),
    ("ec2", "DescribeLaunchTemplates", "r", '{"DescribeLaunchTemplatesRequest":""}', "null"),
    ("ec2", "DescribeAvailabilityZones", "r",
     '{"availabilityZoneSet":{},"availabilityZoneIdSet":{}}', "null"),
    ("ec2", "DescribeKeyPairs", "r", '{"keySet":{},"filterSet":{}}', "null"),
    ("ec2", "CreateTags", "w",
     '{"resourcesSet":{"items":[{"resourceId":"i-0a1b2c3d4e5f67890"}]},"tagSet":{"items":'
     '[{"key":"Owner","value":"platform"}]}}',
     '{"requestId":"c7e6b2b4-4a0e-4f5e-9a0e-2f4b1d3c5e6f","_return":true}'),
    ("ec2", "StopInstances", "w",
     '{"instancesSet":{"items":[{"instanceId":"i-0a1b2c3d4e5f67890"}]},"force":false}',
     '{"requestId":"5d1e1b0e-3f4a-4c55-8d2e-8f1f5c1a9b27","instancesSet":{"items":[{"instanceId":'
     '"i-0a1b2c3d4e5f67890","currentState":{"code":64,"name":"stopping"},"previousState":'
     '{"code":16,"name":"running"}}]}}'),
    ("ec2", "StartInstances", "w",
     '{"instancesSet":{"items":[{"instanceId":"i-0a1b2c3d4e5f67890"}]}}',
     '{"requestId":"0a8c7b3e-2d1f-4e6a-9b5c-7d3e1f2a4b6c","instancesSet":{"items":[{"instanceId":'
     '"i-0a1b2c3d4e5f67890","currentState":{"code":0,"name":"pending"},"previousState":'
     '{"code":80,"name":"stopped"}}]}}'),
    ("ec2", "AuthorizeSecurityGroupIngress", "w",
     '{"groupId":"sg-0f1e2d3c4b5a69788","ipPermissions":{"items":[{"ipProtocol":"tcp",'
     '"fromPort":443,"toPort":443,"groups":{},"ipRanges":{"items":[{"cidrIp":"10.0.0.0/16"}]},'
     '"ipv6Ranges":{},"prefixListIds":{}}]}}',
     '{"requestId":"9b1f0c2e-6a7d-4e3b-8c5f-1a2b3c4d5e6f","_return":true}'),
    ("ec2", "GetPasswordData", "rs", '{"instanceId":"i-0a1b2c3d4e5f67890"}', "null"),
    ("ec2", "CreateKeyPair", "ws", '{"keyName":"backup","keyType":"rsa","keyFormat":"pem"}',
     '{"requestId":"2c4e6a8b-1d3f-4a5c-9e7b-0f1a2b3c4d5e","keyName":"backup",'
     '"keyFingerprint":"1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca:9f:f5:f1:6f",'
     '"keyPairId":"key-0f1e2d3c4b5a69788","keyMaterial":"<sensitiveDataRemoved>"}'),
    ("ec2", "ModifySnapshotAttribute", "ws",
     '{"snapshotId":"snap-0f1e2d3c4b5a69788","createVolumePermission":{"add":{"items":'
     '[{"userId":"999988887777"}]}},"attributeType":"CREATE_VOLUME_PERMISSION"}',
     '{"requestId":"7e5c3a1b-9d8f-4e6c-b2a0-1f3e5d7c9b8a","_return":true}'),
    ("ec2", "ModifyInstanceAttribute", "ws",
     '{"instanceId":"i-0a1b2c3d4e5f67890","userData":"<sensitiveDataRemoved>"}',
     '{"requestId":"3b5d7f9a-1c2e-4a6b-8d0f-2e4c6a8b0d1f","_return":true}'),
    ("iam", "ListUsers", "r", "null", "null"),
    ("iam", "GetUser", "r", '{"userName":"deploy"}', "null"),
    ("iam", "ListRoles", "r", "null", "null"),
    ("iam", "GetRole", "r", '{"roleName":"app-role"}', "null"),
    ("iam", "ListAttachedRolePolicies", "r", '{"roleName":"app-role"}', "null"),
    ("iam", "ListRolePolicies", "r", '{"roleName":"app-role"}', "null"),
    ("iam", "ListPolicies", "r", '{"scope":"Local","onlyAttached":false}', "null"),
    ("iam", "GetPolicy", "r", '{"policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}', "null"),
    ("iam", "GetPolicyVersion", "r",
     '{"policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess","versionId":"v112"}', "null"),
    ("iam", "ListAccessKeys", "r", '{"userName":"deploy"}', "null"),
    ("iam", "GetAccountSummary", "r", "null", "null"),
    ("iam", "ListMFADevices", "r", "null", "null"),
    ("iam", "ListGroups", "r", "null", "null"),
    ("iam", "GetAccountPasswordPolicy", "r", "null", "null"),
    ("iam", "ListInstanceProfiles", "r", "null", "null"),
    ("iam", "CreateAccessKey", "ws", '{"userName":"deploy"}',
     '{"accessKey":{"accessKeyId":"AKIA2Q7ZPLKX4N6EXMPL","status":"Active","userName":"deploy",'
     '"createDate":"Mar 3, 2025 10:00:00 AM"}}'),
    ("iam", "CreateUser", "ws", '{"userName":"support-temp"}',
     '{"user":{"path":"/","userName":"support-temp","userId":"AIDA2Q7ZPLKXSUPPORT01",'
     '"createDate":"Mar 3, 2025 10:00:00 AM"}}'),
    ("iam", "AttachUserPolicy", "ws",
     '{"userName":"support-temp","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}',
     "null"),
    ("iam", "CreateLoginProfile", "ws",
     '{"userName":"support-temp","passwordResetRequired":false}',
     '{"loginProfile":{"userName":"support-temp","createDate":"Mar 3, 2025 10:00:00 AM",'
     '"passwordResetRequired":false}}'),
    ("iam", "PutUserPolicy", "ws",
     '{"userName":"support-temp","policyName":"inline","policyDocument":"{\\"Version\\":'
     '\\"2012-10-17\\",\\"Statement\\":[{\\"Effect\\":\\"Allow\\",\\"Action\\":\\"*\\",'
     '\\"Resource\\":\\"*\\"}]}"}', "null"),
    ("sts", "GetCallerIdentity", "r", "null", "null"),
    ("sts", "GetSessionToken", "rs", '{"durationSeconds":129600}',
     '{"credentials":{"accessKeyId":"ASIA2Q7ZPLKX7SESSION","sessionToken":"<sensitiveDataRemoved>"'
     ',"expiration":"Mar 5, 2025, 10:00:00 PM"}}'),
    ("s3", "ListBuckets", "r", '{"Host":"s3.amazonaws.com"}', "null"),
    ("s3", "GetBucketAcl", "rb", '{"acl":""}', "null"),
    ("s3", "GetBucketLocation", "rb", '{"location":""}', "null"),
    ("s3", "GetBucketPolicy", "rb", '{"policy":""}', "null"),
    ("s3", "GetBucketVersioning", "rb", '{"versioning":""}', "null"),
    ("s3", "GetBucketEncryption", "rb", '{"encryption":""}', "null"),
    ("s3", "GetBucketTagging", "rb", '{"tagging":""}', "null"),
    ("s3", "GetBucketPublicAccessBlock", "rb", '{"publicAccessBlock":""}', "null"),
    ("s3", "GetBucketLogging", "rb", '{"logging":""}', "null"),
    ("s3", "GetObject", "ro", '{"key":"%k"}', "null"),
    ("s3", "HeadObject", "ro", '{"key":"%k"}', "null"),
    ("s3", "ListObjects", "ro", '{"prefix":"","delimiter":"/","encoding-type":"url"}', "null"),
    ("s3", "PutObject", "wo", '{"key":"%k"}', '{"x-amz-server-side-encryption":"AES256"}'),
    ("s3", "PutBucketPolicy", "wbs", '{"policy":""}', "null"),
    ("s3", "PutBucketAcl", "wbs", '{"acl":""}', "null"),
    ("s3", "DeleteBucketPolicy", "wbs", '{"policy":""}', "null"),
    ("lambda", "ListFunctions20150331", "r", "null", "null"),
    ("lambda", "GetFunction20150331v2", "r", '{"functionName":"orders-processor"}', "null"),
    ("lambda", "GetFunctionConfiguration20150331v2", "r", '{"functionName":"orders-processor"}',
     "null"),
    ("lambda", "ListEventSourceMappings20150331", "r", "null", "null"),
    ("lambda", "UpdateFunctionCode20150331v2", "w",
     '{"functionName":"orders-processor","publish":false,"dryRun":false}',
     '{"functionName":"orders-processor","runtime":"python3.12","handler":"app.handler",'
     '"codeSize":48211,"timeout":30,"memorySize":512,"version":"$LATEST","state":"Active"}'),
    ("logs", "DescribeLogGroups", "r", '{"limit":50}', "null"),
    ("logs", "DescribeLogStreams", "r",
     '{"logGroupName":"/aws/lambda/orders-processor","orderBy":"LastEventTime",'
     '"descending":true,"limit":50}', "null"),
    ("logs", "FilterLogEvents", "r",
     '{"logGroupName":"/aws/lambda/orders-processor","interleaved":true,"limit":10000}', "null"),
    ("logs", "GetLogEvents", "r",
     '{"logGroupName":"/app/web","logStreamName":"web-1","startFromHead":false}', "null"),
    ("logs", "CreateLogStream", "w", '{"logGroupName":"/app/web","logStreamName":"web-2"}',
     "null"),
    ("logs", "DeleteLogGroup", "ws", '{"logGroupName":"/aws/cloudtrail/org"}', "null"),
    ("monitoring", "DescribeAlarms", "r", '{"maxRecords":100}', "null"),
    ("monitoring", "GetMetricData", "r",
     '{"metricDataQueries":[{"id":"m1","metricStat":{"metric":{"namespace":"AWS/EC2",'
     '"metricName":"CPUUtilization"},"period":300,"stat":"Average"}}]}', "null"),
    ("monitoring", "ListMetrics", "r", '{"namespace":"AWS/EC2"}', "null"),
    ("monitoring", "PutMetricAlarm", "w",
     '{"alarmName":"high-cpu","metricName":"CPUUtilization","namespace":"AWS/EC2",'
     '"statistic":"Average","period":300,"evaluationPeriods":2,"threshold":80.0,'
     '"comparisonOperator":"GreaterThanThreshold"}', "null"),
    ("cloudformation", "DescribeStacks", "r", "null", "null"),
    ("cloudformation", "ListStacks", "r",
     '{"stackStatusFilter":["CREATE_COMPLETE","UPDATE_COMPLETE"]}', "null"),
    ("cloudformation", "DescribeStackEvents", "r", '{"stackName":"app-stack"}', "null"),
    ("cloudformation", "GetTemplate", "r", '{"stackName":"app-stack"}', "null"),
    ("cloudformation", "DescribeChangeSet", "r",
     '{"changeSetName":"deploy","stackName":"app-stack"}', "null"),
    ("cloudformation", "CreateChangeSet", "w",
     '{"stackName":"app-stack","changeSetName":"deploy","changeSetType":"UPDATE",'
     '"capabilities":["CAPABILITY_IAM"]}',
     '{"id":"arn:aws:cloudformation:us-east-1:123456789012:changeSet/deploy/8d8b7a3e-5c1f",'
     '"stackId":"arn:aws:cloudformation:us-east-1:123456789012:stack/app-stack/1c2d3e4f"}'),
    ("cloudformation", "ExecuteChangeSet", "w",
     '{"changeSetName":"deploy","stackName":"app-stack"}', "null"),
    ("rds", "DescribeDBInstances", "r", "null", "null"),
    ("rds", "DescribeDBClusters", "r", "null", "null"),
    ("rds", "DescribeDBSnapshots", "r", '{"snapshotType":"manual"}', "null"),
    ("kms", "ListKeys", "r", "null", "null"),
    ("kms", "ListAliases", "r", "null", "null"),
    ("kms", "DescribeKey", "r", '{"keyId":"alias/app"}', "null"),
    ("kms", "Decrypt", "r",
     '{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{"aws:lambda:'
     'FunctionArn":"orders-processor"}}', "null"),
    ("kms", "GenerateDataKey", "r", '{"keyId":"alias/app","keySpec":"AES_256"}', "null"),
    ("kms", "Encrypt", "w", '{"keyId":"alias/app","encryptionAlgorithm":"SYMMETRIC_DEFAULT"}',
     "null"),
    ("kms", "ScheduleKeyDeletion", "ws", '{"keyId":"alias/app","pendingWindowInDays":7}',
     '{"keyState":"PendingDeletion","pendingWindowInDays":7}'),
    ("kms", "DisableKey", "ws", '{"keyId":"alias/app"}', "null"),
    ("ssm", "GetParameter", "r", '{"name":"/app/config/db_host","withDecryption":false}', "null"),
    ("ssm", "GetParameters", "r", '{"names":["/app/config/db_host"],"withDecryption":true}',
     "null"),
    ("ssm", "GetParametersByPath", "r",
     '{"path":"/app/config","recursive":true,"withDecryption":true}', "null"),
    ("ssm", "DescribeInstanceInformation", "r", '{"maxResults":50}', "null"),
    ("ssm", "UpdateInstanceInformation", "w",
     '{"agentVersion":"3.2.1705.0","platformType":"Linux","platformName":"Amazon Linux",'
     '"agentName":"amazon-ssm-agent"}', "null"),
    ("ssm", "ListAssociations", "r", '{"maxResults":50}', "null"),
    ("ssm", "PutParameter", "w",
     '{"name":"/app/config/feature_flags","type":"String","overwrite":true}',
     '{"version":7,"tier":"Standard"}'),
    ("ssm", "SendCommand", "ws",
     '{"documentName":"AWS-RunShellScript","instanceIds":["i-0a1b2c3d4e5f67890"],'
     '"parameters":"HIDDEN_DUE_TO_SECURITY_REASONS"}', "null"),
    ("secretsmanager", "ListSecrets", "r", '{"maxResults":100}', "null"),
    ("secretsmanager", "DescribeSecret", "r", '{"secretId":"prod/app/db"}', "null"),
    ("secretsmanager", "GetSecretValue", "rs", '{"secretId":"prod/app/db"}', "null"),
    ("dynamodb", "ListTables", "r", "null", "null"),
    ("dynamodb", "DescribeTable", "r", '{"tableName":"orders"}', "null"),
    ("dynamodb", "DescribeContinuousBackups", "r", '{"tableName":"orders"}', "null"),
    ("ecr", "GetAuthorizationToken", "r", "null", "null"),
    ("ecr", "DescribeRepositories", "r", "null", "null"),
    ("ecr", "DescribeImages", "r", '{"repositoryName":"app","maxResults":100}', "null"),
    ("ecs", "ListClusters", "r", "null", "null"),
    ("ecs", "DescribeClusters", "r", '{"clusters":["prod"]}', "null"),
    ("ecs", "ListServices", "r", '{"cluster":"prod"}', "null"),
    ("ecs", "DescribeServices", "r", '{"cluster":"prod","services":["web"]}', "null"),
    ("ecs", "DescribeTaskDefinition", "r", '{"taskDefinition":"web"}', "null"),
    ("ecs", "RegisterTaskDefinition", "w", '{"family":"web","networkMode":"awsvpc"}', "null"),
    ("ecs", "UpdateService", "w",
     '{"cluster":"prod","service":"web","taskDefinition":"web","forceNewDeployment":true}',
     "null"),
    ("elasticloadbalancing", "DescribeLoadBalancers", "r", "null", "null"),
    ("elasticloadbalancing", "DescribeTargetGroups", "r", "null", "null"),
    ("elasticloadbalancing", "DescribeTargetHealth", "r",
     '{"targetGroupArn":"arn:aws:elasticloadbalancing:tg/web/6d0ecf831eec9f09"}', "null"),
    ("elasticloadbalancing", "DescribeListeners", "r", "null", "null"),
    ("autoscaling", "DescribeAutoScalingGroups", "r", '{"maxRecords":100}', "null"),
    ("autoscaling", "DescribeScalingActivities", "r", '{"autoScalingGroupName":"web-asg"}',
     "null"),
    ("cloudtrail", "DescribeTrails", "r", '{"includeShadowTrails":true}', "null"),
    ("cloudtrail", "GetTrailStatus", "r", '{"name":"org-trail"}', "null"),
    ("cloudtrail", "LookupEvents", "r", '{"maxResults":50}', "null"),
    ("cloudtrail", "GetEventSelectors", "r", '{"trailName":"org-trail"}', "null"),
    ("cloudtrail", "StopLogging", "ws", '{"name":"org-trail"}', "null"),
    ("cloudtrail", "DeleteTrail", "ws", '{"name":"org-trail"}', "null"),
    ("cloudtrail", "PutEventSelectors", "ws",
     '{"trailName":"org-trail","eventSelectors":[{"readWriteType":"WriteOnly",'
     '"includeManagementEvents":false}]}', "null"),
    ("route53", "ListHostedZones", "r", "null", "null"),
    ("route53", "ListResourceRecordSets", "r", '{"hostedZoneId":"Z0123456789ABCDEFGHIJ"}',
     "null"),
    ("route53", "ChangeResourceRecordSets", "w",
     '{"hostedZoneId":"Z0123456789ABCDEFGHIJ","changeBatch":{"changes":[{"action":"UPSERT",'
     '"resourceRecordSet":{"name":"api.example.com","type":"CNAME","tTL":300}}]}}',
     '{"changeInfo":{"id":"/change/C2682N5HXP0BZ4","status":"PENDING"}}'),
    ("sns", "ListTopics", "r", "null", "null"),
    ("sns", "GetTopicAttributes", "r", '{"topicArn":"alerts"}', "null"),
    ("sns", "ListSubscriptions", "r", "null", "null"),
    ("config", "DescribeConfigRules", "r", "null", "null"),
    ("config", "DescribeConfigurationRecorders", "r", "null", "null"),
    ("config", "DescribeComplianceByConfigRule", "r", "null", "null"),
    ("config", "StopConfigurationRecorder", "ws", '{"configurationRecorderName":"default"}',
     "null"),
    ("guardduty", "ListDetectors", "r", "null", "null"),
    ("guardduty", "GetDetector", "r", '{"detectorId":"12abc34d567e8fa901bc2d34e56789f0"}',
     "null"),
    ("guardduty", "ListFindings", "r", '{"detectorId":"12abc34d567e8fa901bc2d34e56789f0"}',
     "null"),
    ("guardduty", "DeleteDetector", "ws", '{"detectorId":"12abc34d567e8fa901bc2d34e56789f0"}',
     "null"),
    ("organizations", "DescribeOrganization", "r", "null", "null"),
    ("organizations", "ListAccounts", "rs", "null", "null"),
    ("signin", "ConsoleLogin", "wc", "null", '{"ConsoleLogin":"Success"}'),
)  # fmt: skip

# API pools by archetype ("service:Name"); a principal draws a stable subset with skewed weights.
_EC2_READS = tuple(
    f"ec2:{n}"
    for n in (
        "DescribeInstances", "DescribeInstanceStatus", "DescribeSecurityGroups", "DescribeVpcs",
        "DescribeSubnets", "DescribeVolumes", "DescribeSnapshots", "DescribeImages",
        "DescribeRegions", "DescribeAddresses", "DescribeNetworkInterfaces", "DescribeTags",
        "DescribeLaunchTemplates", "DescribeAvailabilityZones", "DescribeKeyPairs",
    )
)  # fmt: skip
_IAM_READS = tuple(
    f"iam:{n}"
    for n in (
        "ListUsers", "GetUser", "ListRoles", "GetRole", "ListAttachedRolePolicies",
        "ListRolePolicies", "ListPolicies", "GetPolicy", "GetPolicyVersion", "ListAccessKeys",
        "GetAccountSummary", "ListMFADevices", "ListGroups", "GetAccountPasswordPolicy",
        "ListInstanceProfiles",
    )
)  # fmt: skip
_S3_BUCKET_READS = tuple(
    f"s3:{n}"
    for n in (
        "GetBucketAcl", "GetBucketLocation", "GetBucketPolicy", "GetBucketVersioning",
        "GetBucketEncryption", "GetBucketTagging", "GetBucketPublicAccessBlock",
        "GetBucketLogging",
    )
)  # fmt: skip
_OTHER_READS = (
    "lambda:ListFunctions20150331", "lambda:GetFunction20150331v2",
    "lambda:GetFunctionConfiguration20150331v2", "lambda:ListEventSourceMappings20150331",
    "logs:DescribeLogGroups", "logs:DescribeLogStreams", "monitoring:DescribeAlarms",
    "monitoring:ListMetrics", "cloudformation:DescribeStacks", "cloudformation:ListStacks",
    "rds:DescribeDBInstances", "rds:DescribeDBClusters", "rds:DescribeDBSnapshots",
    "kms:ListKeys", "kms:ListAliases", "kms:DescribeKey", "dynamodb:ListTables",
    "dynamodb:DescribeTable", "dynamodb:DescribeContinuousBackups", "ecr:DescribeRepositories",
    "ecs:ListClusters", "ecs:DescribeClusters", "ecs:ListServices", "ecs:DescribeServices",
    "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeListeners", "autoscaling:DescribeAutoScalingGroups",
    "cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors",
    "route53:ListHostedZones", "sns:ListTopics", "sns:GetTopicAttributes",
    "sns:ListSubscriptions", "secretsmanager:ListSecrets", "ssm:DescribeInstanceInformation",
)  # fmt: skip

POOLS: Final[dict[str, tuple[str, ...]]] = {
    "human": _EC2_READS
    + _IAM_READS[:10]
    + ("s3:ListBuckets",)
    + _S3_BUCKET_READS[:4]
    + ("s3:GetObject", "s3:ListObjects", "s3:PutObject", "sts:GetCallerIdentity")
    + _OTHER_READS
    + (
        "logs:FilterLogEvents", "logs:GetLogEvents", "monitoring:GetMetricData",
        "cloudformation:DescribeStackEvents", "cloudformation:GetTemplate",
        "ssm:GetParameter", "ssm:GetParametersByPath", "cloudtrail:LookupEvents",
        "route53:ListResourceRecordSets", "secretsmanager:DescribeSecret",
        "elasticloadbalancing:DescribeTargetHealth", "ec2:CreateTags", "ec2:StopInstances",
        "ec2:StartInstances", "ec2:AuthorizeSecurityGroupIngress",
        "lambda:UpdateFunctionCode20150331v2", "ssm:PutParameter", "monitoring:PutMetricAlarm",
        "route53:ChangeResourceRecordSets", "ecs:UpdateService", "signin:ConsoleLogin",
    ),
    "ci": (
        "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
        "cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet",
        "cloudformation:DescribeChangeSet", "cloudformation:GetTemplate", "s3:PutObject",
        "s3:GetObject", "s3:ListObjects", "s3:HeadObject", "ecr:GetAuthorizationToken",
        "ecr:DescribeImages", "ecr:DescribeRepositories", "ecs:UpdateService",
        "ecs:DescribeServices", "ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition",
        "lambda:UpdateFunctionCode20150331v2", "lambda:GetFunction20150331v2",
        "sts:GetCallerIdentity", "iam:GetRole", "ec2:DescribeImages", "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs", "ssm:GetParameter",
    ),
    "instance": (
        "ssm:UpdateInstanceInformation", "ssm:GetParameters", "ssm:ListAssociations",
        "s3:GetObject", "s3:PutObject", "s3:HeadObject", "s3:ListObjects",
        "secretsmanager:GetSecretValue", "kms:Decrypt", "kms:GenerateDataKey",
        "logs:CreateLogStream", "logs:DescribeLogStreams", "ec2:DescribeTags",
        "ec2:DescribeInstances", "ecr:GetAuthorizationToken", "dynamodb:DescribeTable",
        "sts:GetCallerIdentity",
    ),
    "lambda": (
        "s3:GetObject", "s3:PutObject", "dynamodb:DescribeTable", "kms:Decrypt",
        "kms:GenerateDataKey", "secretsmanager:GetSecretValue", "ssm:GetParameter",
        "sts:GetCallerIdentity", "sns:ListTopics",
    ),
    "config": _EC2_READS + _IAM_READS + _S3_BUCKET_READS + _OTHER_READS
    + ("config:DescribeConfigRules", "config:DescribeConfigurationRecorders",
       "config:DescribeComplianceByConfigRule", "guardduty:ListDetectors",
       "guardduty:GetDetector"),
    "audit": _IAM_READS + _EC2_READS[:8] + ("s3:ListBuckets",) + _S3_BUCKET_READS
    + ("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors",
       "cloudtrail:LookupEvents", "guardduty:ListDetectors", "guardduty:GetDetector",
       "guardduty:ListFindings", "config:DescribeConfigRules",
       "config:DescribeComplianceByConfigRule", "kms:ListKeys", "kms:DescribeKey",
       "organizations:DescribeOrganization"),
    "external": ("s3:GetObject", "s3:PutObject", "s3:ListObjects", "s3:HeadObject"),
    "root": (
        "signin:ConsoleLogin", "iam:GetAccountSummary", "iam:ListUsers",
        "iam:GetAccountPasswordPolicy", "iam:ListMFADevices", "ec2:DescribeRegions",
        "s3:ListBuckets",
    ),
    "cloudtrail-service": ("kms:GenerateDataKey", "kms:DescribeKey"),
}  # fmt: skip
# (min, max) size of a principal's API set per archetype
POOL_SIZES: Final[dict[str, tuple[int, int]]] = {
    "human": (8, 28),
    "ci": (5, 14),
    "instance": (3, 9),
    "lambda": (2, 6),
    "config": (25, 60),
    "audit": (12, 30),
    "external": (2, 4),
    "root": (3, 6),
    "cloudtrail-service": (1, 2),
}


# ----------------------------------------------------------------------------- public types

Arr = npt.NDArray[Any]
HOUR: Final = 3600
WINDOW: Final = 300
CHUNK_EVENTS: Final = 100_000
DEFAULT_START: Final = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
TRUTH_FILE: Final = ".truth.json"
MANIFEST_FILE: Final = ".workload.json"
GZIP_LEVEL: Final = 1

AnomalyKind = Literal[
    "volume_spike", "failed_burst", "new_geolocation", "new_aso", "new_user_agent", "new_api"
]
ANOMALY_KINDS: Final[tuple[AnomalyKind, ...]] = (
    "volume_spike", "failed_burst", "new_geolocation", "new_aso", "new_user_agent", "new_api",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Extra activity of one principal during `hours` hours from `start_hour` (hours after start).

    `principal` is a `PrincipalTruth.key` (an AWS service, shared by accounts, needs
    `<account>/<key>`). Every hour gets `max(1, round(magnitude * mean_rate))` extra events:
    - volume_spike: with the principal's usual APIs, IPs and user agents;
    - failed_burst: likewise, all denied (AccessDenied, Client.UnauthorizedOperation, ...);
    - new_geolocation: from one IP in a country the principal never uses;
    - new_aso: from one IP of an autonomous system it never uses, in its main country if possible;
    - new_user_agent: with a user agent it never uses;
    - new_api: calling one or two APIs it never calls (IAM, KMS, CloudTrail, S3 policy...).
    """

    kind: AnomalyKind
    principal: str
    start_hour: int
    hours: int = 1
    magnitude: float = 5.0


@dataclass(slots=True)
class PrincipalTruth:
    key: str  # the vertex key in the behavior graph
    label: str  # AwsUser, AwsRole (activity of its sessions), AwsService
    kind: str  # archetype: human, ci, root, external, role-human, role-instance, service...
    account: str  # the account whose trail records its calls
    home_account: str  # the account it belongs to (differs for external partners)
    name: str
    arn: str | None
    profile: str  # seasonality: human, ci or flat
    tz_offset: float
    mean_rate: float  # expected normal events per hour, averaged over a week
    expected_events: float  # expected normal events over the whole workload
    events: int = 0  # events written (normal traffic, session starts, launches)
    anomalous_events: int = 0
    sessions: int = 0  # role sessions started during the workload (roles only)
    ips: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    asns: list[int] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    apis: list[str] = field(default_factory=list)  # "<eventSource>:<eventName>"
    regions: list[str] = field(default_factory=list)
    error_rate: float = 0.0


@dataclass(slots=True)
class InjectedAnomaly:
    kind: AnomalyKind
    principal: str
    label: str
    account: str
    start_hour: int
    hours: list[int]  # epoch seconds of each UTC hour with injected events
    events_per_hour: list[int]
    expected_per_hour: list[float]  # the principal's normal expectation in those hours
    magnitude: float
    ips: list[str] = field(default_factory=list)  # new values (only those the kind introduces)
    countries: list[str] = field(default_factory=list)
    asns: list[int] = field(default_factory=list)
    asos: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    apis: list[str] = field(default_factory=list)
    error_codes: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)  # role sessions that made the calls


@dataclass(slots=True)
class GenerateResult:
    out_dir: str
    accounts: list[str]
    start: int  # epoch seconds
    end: int
    seed: int
    files: int = 0
    events: int = 0
    bytes: int = 0  # compressed bytes written
    raw_bytes: int = 0  # JSON bytes before compression
    seconds: float = 0.0
    principals: list[PrincipalTruth] = field(default_factory=list)
    anomalies: list[InjectedAnomaly] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def principal(self, key: str) -> PrincipalTruth:
        for p in self.principals:
            if p.key == key or f"{p.account}/{p.key}" == key:
                return p
        raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__dataclass_fields__}
        out["principals"] = [_shallow(p) for p in self.principals]
        out["anomalies"] = [_shallow(a) for a in self.anomalies]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GenerateResult:
        data = dict(data)
        data["principals"] = [PrincipalTruth(**p) for p in data.get("principals", [])]
        data["anomalies"] = [InjectedAnomaly(**a) for a in data.get("anomalies", [])]
        return cls(**data)


def _shallow(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in obj.__dataclass_fields__}


# ----------------------------------------------------------------------------- seasonality

_DAY = np.array(
    [0.02, 0.015, 0.01, 0.01, 0.01, 0.02, 0.06, 0.2, 0.6, 1.0, 1.0, 1.0,
     0.7, 0.95, 1.0, 1.0, 0.9, 0.6, 0.35, 0.2, 0.15, 0.1, 0.06, 0.04]
)  # fmt: skip
PROFILES: Final = ("human", "ci", "flat")


def _week(profile: str) -> Arr:
    """168 hourly factors from Monday 00:00 local time, averaging 1."""
    if profile == "flat":
        return np.ones(168)
    if profile == "human":
        week = np.concatenate([_DAY] * 5 + [_DAY * 0.12] * 2)
    else:  # ci: workday pushes plus nightly jobs every day
        day = 0.15 + 0.85 * _DAY
        night = np.zeros(24)
        night[2] = 2.5
        week = np.concatenate([day + night] * 5 + [day * 0.25 + night] * 2)
    return np.asarray(week / week.mean())


_WEEKS: Final = {p: _week(p) for p in PROFILES}


def hourly_factor(profile: str, tz_offset: float, hours: Arr) -> Arr:
    """Seasonal factor (weekly mean 1) at UTC hour starts `hours` (epoch seconds)."""
    local = np.asarray(hours, dtype=np.int64) + int(tz_offset * 3600)
    return np.asarray(_WEEKS[profile][(local // HOUR + 72) % 168])  # 1970-01-01 was a Thursday


# ----------------------------------------------------------------------------- small helpers

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32_TABLE: Final = bytes(ord(_B32[i % 32]) for i in range(256))
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", np.uint8)
_UPPER_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)
_UUID_POS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
_MMSS = np.array([f"{s // 60:02d}:{s % 60:02d}Z".encode() for s in range(HOUR)], dtype=object)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _expiration(ts: int) -> str:
    t = time.gmtime(ts)
    h12 = t.tm_hour % 12 or 12
    ampm = "AM" if t.tm_hour < 12 else "PM"
    return f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday}, {t.tm_year}, {h12}:{t.tm_min:02d}:{t.tm_sec:02d} {ampm}"  # noqa: E501


def _uuid_rows(rng: np.random.Generator, n: int) -> Arr:
    """n random version-4 UUIDs as an (n, 36) array of ASCII bytes."""
    nib = rng.integers(0, 16, size=(n, 32), dtype=np.uint8)
    nib[:, 12] = 4
    nib[:, 16] = 8 | (nib[:, 16] & 3)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, _UUID_POS] = _HEX[nib]
    return out


def _rows_to_bytes(rows: Arr) -> list[bytes]:
    width = rows.shape[1]
    return list(np.ascontiguousarray(rows).view(f"S{width}").ravel().tolist())


class _Groups:
    """Weighted choice sets, flattened so that a vectorized searchsorted picks in all at once."""

    def __init__(self) -> None:
        self.keys: list[float] = []
        self.vals: list[int] = []
        self.members: list[tuple[list[int], list[float]]] = []

    def add(self, vals: Sequence[int], weights: Sequence[float]) -> int:
        g = len(self.members)
        total = float(sum(weights))
        acc = 0.0
        for v, w in zip(vals, weights, strict=True):
            acc += w
            self.keys.append(g + acc / total)
            self.vals.append(v)
        self.keys[-1] = float(g + 1)
        self.members.append((list(vals), list(weights)))
        return g

    def arrays(self) -> tuple[Arr, Arr]:
        return np.array(self.keys, dtype=np.float64), np.array(self.vals, dtype=np.int64)


def _choose(keys: Arr, vals: Arr, group: Arr, u: Arr) -> Arr:
    return np.asarray(vals[np.searchsorted(keys, group + u * 0.9999999, side="right")])


def _zipf(n: int, s: float = 1.1) -> list[float]:
    return [1.0 / (i + 1) ** s for i in range(n)]


class _Entry(NamedTuple):
    api: str
    fmt: bytes
    resp_ok: bytes
    resp_fail: bytes
    region: int  # fixed region index, or -1: the caller's
    s3: bool  # S3 request ids
    errors: tuple[tuple[str | None, str, int], ...]
    denied: int  # index of the access-denied error
    action: str


def _literal(s: str) -> str:
    return s.replace("%", "%%")


def _entry_format(
    svc: Service,
    name: str,
    params: str,
    read_only: bool,
    *,
    event_type: str = "AwsApiCall",
    data_event: bool = False,
    additional: str = "",
    resources: str = "",
    host: str | None,
) -> bytes:
    """A record template; its %b slots take: userIdentity, hour prefix, MM:SSZ, region, source
    IP, user agent, error fields, responseElements, requestID, eventID, recipient, TLS region."""
    mgmt = "false" if data_event else "true"
    category = "Data" if data_event else "Management"
    ro = "true" if read_only else "false"
    parts = [
        _literal(f'{{"eventVersion":"{svc.version}","userIdentity":'), "%b",
        _literal(',"eventTime":"'), "%b%b",
        _literal(f'","eventSource":"{svc.source}","eventName":"{name}","awsRegion":"'), "%b",
        _literal('","sourceIPAddress":"'), "%b", _literal('","userAgent":"'), "%b",
        _literal('",'), "%b",
        _literal(f'"requestParameters":{params},"responseElements":'), "%b",
        _literal("," + additional + '"requestID":"'), "%b",
        _literal('","eventID":"'), "%b",
        _literal(
            f'","readOnly":{ro},{resources}"eventType":"{event_type}","managementEvent":{mgmt},'
            '"recipientAccountId":"'
        ), "%b",
        _literal(f'","eventCategory":"{category}"'),
    ]  # fmt: skip
    if host is None:
        parts.append("%.0b")
    else:
        pre, sep, post = host.partition("{r}")
        tls = ',"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256",'
        parts.append(_literal(tls + '"clientProvidedHostHeader":"' + pre))
        parts.append("%b" if sep else "%.0b")
        parts.append(_literal(post + '"}'))
    parts.append("}")
    return "".join(parts).encode()


# ----------------------------------------------------------------------------- population


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


RATES: Final[dict[str, float]] = {
    "human": 10.0, "ci": 6.0, "root": 0.03, "external": 2.0, "role-human": 12.0,
    "role-deploy": 5.0, "role-audit": 4.0, "role-instance": 15.0, "role-lambda": 8.0,
    "role-config": 12.0, "role-autoscaling": 0.0, "service": 0.0, "cloudtrail-service": 5.0,
}  # fmt: skip
PROFILE_OF: Final[dict[str, str]] = {
    "human": "human", "root": "human", "external": "human", "role-human": "human",
    "ci": "ci", "role-deploy": "ci", "role-audit": "ci",
}  # fmt: skip
POOL_OF: Final[dict[str, str]] = {
    "human": "human", "root": "root", "external": "external", "role-human": "human",
    "ci": "ci", "role-deploy": "ci", "role-audit": "audit", "role-instance": "instance",
    "role-lambda": "lambda", "role-config": "config", "cloudtrail-service": "cloudtrail-service",
}  # fmt: skip


class _World:
    """The population, its templates and choice tables; then the event engine (`run`)."""

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
        used_ids: set[str] = set()
        for a in range(accounts):
            acct_id = ""
            while not acct_id or acct_id in used_ids:
                acct_id = str(self.r.randrange(10**11, 10**12))
            used_ids.add(acct_id)
            self._account(a, acct_id)
        self._link_auditors()
        self._finish()

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

    # -- anomalies --------------------------------------------------------------------------------
    def plan(self, anomalies: Sequence[Anomaly]) -> None:
        ar = random.Random(f"gumshoe-anomalies-{self.seed}")
        self.plans: list[_Plan] = []
        self.plan_hours: dict[int, list[int]] = {}
        for a in anomalies:
            if a.kind not in ANOMALY_KINDS:
                raise ValueError(f"unknown anomaly kind {a.kind!r} (one of {ANOMALY_KINDS})")
            if a.hours < 1 or a.start_hour < 0 or a.start_hour + a.hours > self.hours:
                raise ValueError(f"{a}: hours outside the workload's {self.hours} hours")
            p = self.find(a.principal)
            ips, uas, apis = self.sets(p)
            acct = self.accounts[p.account]
            per_hour = max(1, round(a.magnitude * p.rate))
            hidx = list(range(a.start_hour, a.start_hour + a.hours))
            truth = InjectedAnomaly(
                kind=a.kind,
                principal=p.key,
                label=p.label,
                account=acct.id,
                start_hour=a.start_hour,
                hours=[self.t0 + h * HOUR for h in hidx],
                events_per_hour=[per_hour] * a.hours,
                expected_per_hour=[round(self.expected(p, h), 4) for h in hidx],
                magnitude=a.magnitude,
            )
            plan = _Plan(a, p.idx, per_hour, truth)
            if a.kind == "new_geolocation":
                seen = {self.ip_info[self.ips[i]][0] for i in ips if self.ips[i] in self.ip_info}
                country = ar.choice([c for c in FOREIGN_PREFIXES if c not in seen])
                plan.ip = self.draw_ips(FOREIGN_PREFIXES[country], 1, country)[0]
            elif a.kind == "new_aso":
                plan.ip = self._new_aso(p, ips, ar)
            elif a.kind == "new_user_agent":
                known = {self.uas[i] for i in uas}
                plan.ua = self._ua(ar.choice([u for u in UA_ANOMALIES if u not in known]))
                truth.user_agents = [self.uas[plan.ua]]
            elif a.kind == "new_api":
                cands = sorted(
                    api
                    for api, (s, n, flags, _, _) in self.api_specs.items()
                    if "s" in flags and f"{SERVICES[s].source}:{n}" not in apis
                )
                bucket = acct.buckets[p.buckets[0]]
                for api in ar.sample(cands, ar.randint(1, 2)):
                    scoped = "b" in self.api_specs[api][2]
                    plan.entries.append(
                        self.entry(api, (bucket[0], bucket[1], acct.id) if scoped else None)
                    )
                truth.apis = sorted({self.entries[e].api for e in plan.entries})
            elif a.kind == "failed_burst":
                plan.failed = True
                codes = set()
                for e in p.entries:
                    ent = self.entries[e]
                    codes.add(ent.errors[ent.denied][0] or ent.errors[ent.denied][1])
                truth.error_codes = sorted(codes)
            if plan.ip >= 0:
                c, asn, aso = self.ip_info[self.ips[plan.ip]]
                truth.ips, truth.countries, truth.asns, truth.asos = (
                    [self.ips[plan.ip]],
                    [c],
                    [asn],
                    [aso],
                )
            self.plans.append(plan)
            for h in hidx:
                self.plan_hours.setdefault(h, []).append(len(self.plans) - 1)
        self._refresh_tables()

    def _new_aso(self, p: _P, ips: set[int], ar: random.Random) -> int:
        known = {self.ip_info[self.ips[i]][1] for i in ips if self.ips[i] in self.ip_info}
        country = p.country
        options = [(pre, country) for pre in HOSTING_PREFIXES.get(country, ())]
        options += [(pre, country) for pre in ISP_PREFIXES.get(country, ())]
        ar.shuffle(options)
        options += [(pre, "US") for pre in HOSTING_PREFIXES["US"]]
        for prefix, c in options:
            for ip in self.draw_ips((prefix,), 8, c):
                if self.ip_info[self.ips[ip]][1] not in known:
                    return ip
        raise RuntimeError(f"no new autonomous system found for {p.key}")

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

    # -- ground truth -----------------------------------------------------------------------------
    def truths(self) -> list[PrincipalTruth]:
        totals = self.season.sum(axis=1)
        counts = getattr(self, "counts", None)
        out = []
        for p in self.ps:
            ips, uas, apis = self.sets(p)
            infos = [self.ip_info[self.ips[i]] for i in ips if self.ips[i] in self.ip_info]
            acct = self.accounts[p.account]
            out.append(
                PrincipalTruth(
                    key=p.key,
                    label=p.label,
                    kind=p.kind,
                    account=acct.id,
                    home_account=p.home,
                    name=p.name,
                    arn=p.arn,
                    profile=p.profile,
                    tz_offset=acct.tz,
                    mean_rate=round(p.rate, 6),
                    expected_events=round(float(self.base[p.idx] * totals[self.p_group[p.idx]]), 3),
                    events=int(counts[p.idx]) if counts is not None else 0,
                    anomalous_events=int(self.anomalous[p.idx]) if counts is not None else 0,
                    sessions=int(self.sessions_started[p.idx]) if counts is not None else 0,
                    ips=sorted(self.ips[i] for i in ips),
                    countries=sorted({c for c, _, _ in infos}),
                    asns=sorted({asn for _, asn, _ in infos}),
                    user_agents=sorted(self.uas[i] for i in uas),
                    apis=sorted(apis),
                    regions=sorted({REGIONS[r].name for r in p.regions}),
                    error_rate=round(p.err, 5),
                )
            )
        return out


@dataclass(slots=True, eq=False)
class _Plan:
    anomaly: Anomaly
    p: int
    per_hour: int
    truth: InjectedAnomaly
    ip: int = -1
    ua: int = -1
    failed: bool = False
    entries: list[int] = field(default_factory=list)


SMALL_BODY: Final = 32 << 10  # smaller bodies: level 0 (isal's level >= 1 costs ~18 us a call)


class _Writer:
    """Gzip files in CloudTrail's S3 key layout under `root`."""

    def __init__(
        self, root: Path, seed: int, level: int, accounts: Sequence[str], thread: bool = False
    ) -> None:
        self.root = str(root)
        self.level = level
        self.accounts = list(accounts)
        self.rng = np.random.default_rng([seed, 6])
        self.heads: dict[tuple[int, int, int], bytes] = {}
        self.files = 0
        self.bytes = 0
        self.raw = 0
        self.events = 0
        self._error: BaseException | None = None
        self._queue: queue.Queue[tuple[int, list[int], Sequence[bytes], list[int]] | None] | None
        self._queue = None
        if thread:
            self._queue = queue.Queue(maxsize=2)
            self._thread = threading.Thread(target=self._drain, name="workload-io", daemon=True)
            self._thread.start()

    def submit(self, hour: int, keys: list[int], records: Sequence[bytes], cuts: list[int]) -> None:
        if self._queue is None:
            self.write_many(hour, keys, records, cuts)
            return
        if self._error is not None:
            raise self._error
        self._queue.put((hour, keys, records, cuts))

    def _drain(self) -> None:
        assert self._queue is not None
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.write_many(*item)
                except BaseException as e:  # re-raised by submit() or close()
                    self._error = e

    def close(self) -> None:
        if self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = None
        if self._error is not None:
            raise self._error

    def _head(self, account: int, region: int, day: int) -> bytes:
        """`<folder>/<account>_CloudTrail_<region>_` for one account, region and UTC day."""
        t = time.gmtime(day * 86400)
        acct, rname = self.accounts[account], REGIONS[region].name
        folder = (
            f"{self.root}/AWSLogs/{acct}/CloudTrail/{rname}/"
            f"{t.tm_year:04d}/{t.tm_mon:02d}/{t.tm_mday:02d}"
        )
        os.makedirs(folder, exist_ok=True)
        head = self.heads[(account, region, day)] = f"{folder}/{acct}_CloudTrail_{rname}_".encode()
        return head

    def write_many(
        self,
        hour: int,
        keys: list[int],
        records: Sequence[bytes],
        cuts: list[int],
    ) -> None:
        """One file per run of equal keys ((account * regions + region) * 12 + window)."""
        per_hour = HOUR // WINDOW
        suffixes = _rows_to_bytes(_ALNUM[self.rng.integers(0, 62, size=(len(keys), 16))])
        stamps: dict[int, tuple[int, bytes]] = {}
        lo = 0
        for key, hi, suffix in zip(keys, cuts, suffixes, strict=True):
            window = key % per_hour
            acct_region = key // per_hour
            stamp = stamps.get(window)
            if stamp is None:
                end = hour + (window + 1) * WINDOW
                stamp = stamps[window] = (
                    end // 86400,
                    time.strftime("%Y%m%dT%H%MZ_", time.gmtime(end)).encode(),
                )
            ck = (acct_region // len(REGIONS), acct_region % len(REGIONS), stamp[0])
            head = self.heads.get(ck) or self._head(*ck)
            chunk = records[lo:hi]
            body = b'{"Records":[' + b",".join(chunk) + b"]}"
            level = 0 if len(body) < SMALL_BODY else self.level
            data = igzip.compress(body, compresslevel=level, mtime=0)
            fd = os.open(
                head + stamp[1] + suffix + b".json.gz", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644
            )
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            self.files += 1
            self.bytes += len(data)
            self.raw += len(body)
            self.events += hi - lo
            lo = hi


# ----------------------------------------------------------------------------- public API


def _hour_start(start: datetime) -> int:
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    ts = int(start.timestamp())
    return ts - ts % HOUR


def principals(
    *, accounts: int, days: int, events: int | None = None, start: datetime = DEFAULT_START,
    seed: int = 0,
) -> list[PrincipalTruth]:  # fmt: skip
    """The population `generate` would use (no events, nothing written)."""
    world = _World(accounts, seed, _hour_start(start), days * 24)
    if events is not None:
        world.scale_to(events)
    return world.truths()


def random_anomalies(
    population: Sequence[PrincipalTruth], *, days: int, count: int, seed: int = 0,
    kinds: Sequence[AnomalyKind] = ANOMALY_KINDS,
) -> list[Anomaly]:  # fmt: skip
    """`count` anomalies on random busy-enough people, CI users and roles, after the first day."""
    r = random.Random(f"gumshoe-random-anomalies-{seed}")
    eligible = [
        p
        for p in population
        if p.kind in ("human", "ci", "role-human", "role-deploy", "role-instance", "role-lambda")
        and p.mean_rate >= 0.5
    ]
    if not eligible:
        raise ValueError("no principal is busy enough for anomalies")
    hours = days * 24
    if hours < 30:
        raise ValueError("random anomalies need at least two days")
    magnitudes = {"volume_spike": 8.0, "failed_burst": 3.0}
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        p = r.choice(eligible)
        length = r.randint(1, 3)
        out.append(
            Anomaly(
                kind=kind,
                principal=p.key,
                start_hour=r.randint(24, hours - length),
                hours=length,
                magnitude=magnitudes.get(kind, 0.5),
            )
        )
    return out


def generate(
    out_dir: Path,
    *,
    accounts: int,
    days: int,
    events: int | None = None,
    start: datetime = DEFAULT_START,
    seed: int = 0,
    anomalies: list[Anomaly] | None = None,
    overwrite: bool = False,
    compresslevel: int = GZIP_LEVEL,
    io_thread: bool = False,
) -> GenerateResult:
    """Write the workload under `out_dir/AWSLogs` and its ground truth to `out_dir/.truth.json`.

    `events` (approximate: session starts and launches come on top, typically +5-8 %) scales
    every principal's rate; None keeps the natural rates (heavy-tailed: median account about 60,
    mean about 110 events per hour). The same arguments always produce the same files;
    `io_thread` compresses and writes files in a second thread (the default uses one).
    """
    out = Path(out_dir)
    logs = out / "AWSLogs"
    if logs.exists() and any(logs.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{logs} is not empty (pass overwrite=True to replace it)")
        shutil.rmtree(logs)
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    t0 = _hour_start(start)
    world = _World(accounts, seed, t0, days * 24)
    if events is not None:
        world.scale_to(events)
    world.plan(anomalies or [])
    writer = _Writer(out, seed, compresslevel, [a.id for a in world.accounts], io_thread)
    try:
        world.run(writer)
    finally:
        writer.close()
    result = GenerateResult(
        out_dir=str(out),
        accounts=[a.id for a in world.accounts],
        start=t0,
        end=world.t1,
        seed=seed,
        files=writer.files,
        events=writer.events,
        bytes=writer.bytes,
        raw_bytes=writer.raw,
        principals=world.truths(),
        anomalies=[plan.truth for plan in world.plans],
        params={
            "accounts": accounts,
            "days": days,
            "events": events,
            "start": _iso(t0),
            "seed": seed,
            "anomalies": [asdict(a) for a in anomalies or []],
            "compresslevel": compresslevel,
        },
    )
    result.seconds = round(time.perf_counter() - began, 3)
    (out / TRUTH_FILE).write_text(json.dumps(result.to_json(), separators=(",", ":")))
    summary = {k: v for k, v in result.to_json().items() if k not in ("principals", "anomalies")}
    (out / MANIFEST_FILE).write_text(json.dumps(summary, indent=1))
    return result


def load_truth(out_dir: Path) -> GenerateResult:
    """The ground truth `generate` wrote to `out_dir`."""
    data = json.loads((Path(out_dir) / TRUTH_FILE).read_text())
    return GenerateResult.from_json(data)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.workload", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--accounts", type=int, default=10)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--events", type=int, default=None, help="approximate total (scales rates)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", default=DEFAULT_START.strftime("%Y-%m-%d"), help="UTC date")
    ap.add_argument("--anomalies", type=int, default=0, help="inject N random anomalies")
    ap.add_argument("--overwrite", action="store_true", help="replace OUT_DIR/AWSLogs")
    ap.add_argument(
        "--io-thread", action="store_true", help="compress and write files in a second thread"
    )
    args = ap.parse_args(argv)
    start = datetime.fromisoformat(args.start)
    injected = None
    if args.anomalies:
        population = principals(
            accounts=args.accounts, days=args.days, events=args.events, start=start, seed=args.seed
        )
        injected = random_anomalies(
            population, days=args.days, count=args.anomalies, seed=args.seed
        )
    result = generate(
        args.out_dir,
        accounts=args.accounts,
        days=args.days,
        events=args.events,
        start=start,
        seed=args.seed,
        anomalies=injected,
        overwrite=args.overwrite,
        io_thread=args.io_thread,
    )
    print(
        f"{result.events:,} events in {result.files:,} files "
        f"({result.bytes / 1e6:,.1f} MB gzip, {result.raw_bytes / 1e6:,.1f} MB JSON,"
        f" {result.raw_bytes / max(result.events, 1):,.0f} B/event) from {len(result.principals):,}"
        f" principals in {len(result.accounts):,} accounts; {result.seconds:,.1f} s"
        f" ({result.events_per_second:,.0f} events/s); {len(result.anomalies)} anomalies;"
        f" truth in {Path(result.out_dir) / TRUTH_FILE}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
