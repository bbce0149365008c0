"""Static tables the population is drawn from: regions and their offices, address ranges by
country and kind, names, attacker user agents, API pools, rates and profiles per archetype.
"""

from __future__ import annotations

from typing import Final, NamedTuple

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
