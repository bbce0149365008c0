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

Layout (each layer of the world subclasses the one before, so `_World` is their union):
- tables: `api_catalog` (services, errors, APIs), `population_tables` (regions, address ranges,
  names, API pools and rates per archetype), `seasonality` (hour grid, weekly profiles, weighted
  choice), `templates` (record templates and byte helpers);
- the world: `registry` (principals, accounts, interned IPs, user agents and API templates) <
  `population` (accounts and their principals) < `session_tables` (lanes, sessions, instances,
  flattened tables) < `truth` (result types, anomalies, ground truth) < `records` (session
  identities, AssumeRole and RunInstances records) < `engine` (the hourly event engine) <
  `world` (`_World`, `principals`, `generate`, `load_truth`);
- `writer` (gzip files in CloudTrail's S3 layout) and `__main__` (the CLI).
"""

# Re-exported: the public names of the former single module `bench/workload.py`.
from bench.workload.api_catalog import (
    APIS,
    DENIED,
    ERROR_OVERRIDES,
    ERROR_SETS,
    SERVICES,
    R,
    Service,
    W,
)
from bench.workload.population_tables import (
    APP_NAMES,
    BUCKET_PURPOSES,
    CI_PREFIXES,
    COMPANY_WORDS,
    FIRST_NAMES,
    FOREIGN_PREFIXES,
    FUNCTION_SUFFIXES,
    HOSTING_PREFIXES,
    HUMAN_ROLES,
    INSTANCE_TYPES,
    ISP_PREFIXES,
    LAST_INITIALS,
    POOL_OF,
    POOL_SIZES,
    POOLS,
    PROFILE_OF,
    RATES,
    REGION_INDEX,
    REGION_WEIGHTS,
    REGIONS,
    UA_ANOMALIES,
    Region,
)
from bench.workload.seasonality import (
    CHUNK_EVENTS,
    DEFAULT_START,
    HOUR,
    PROFILES,
    WINDOW,
    Arr,
    hourly_factor,
)
from bench.workload.truth import (
    ANOMALY_KINDS,
    Anomaly,
    AnomalyKind,
    GenerateResult,
    InjectedAnomaly,
    PrincipalTruth,
    random_anomalies,
)
from bench.workload.world import MANIFEST_FILE, TRUTH_FILE, generate, load_truth, principals
from bench.workload.writer import GZIP_LEVEL, SMALL_BODY

__all__ = [
    "ANOMALY_KINDS",
    "APIS",
    "APP_NAMES",
    "Anomaly",
    "AnomalyKind",
    "Arr",
    "BUCKET_PURPOSES",
    "CHUNK_EVENTS",
    "CI_PREFIXES",
    "COMPANY_WORDS",
    "DEFAULT_START",
    "DENIED",
    "ERROR_OVERRIDES",
    "ERROR_SETS",
    "FIRST_NAMES",
    "FOREIGN_PREFIXES",
    "FUNCTION_SUFFIXES",
    "GZIP_LEVEL",
    "GenerateResult",
    "HOSTING_PREFIXES",
    "HOUR",
    "HUMAN_ROLES",
    "INSTANCE_TYPES",
    "ISP_PREFIXES",
    "InjectedAnomaly",
    "LAST_INITIALS",
    "MANIFEST_FILE",
    "POOLS",
    "POOL_OF",
    "POOL_SIZES",
    "PROFILES",
    "PROFILE_OF",
    "PrincipalTruth",
    "R",
    "RATES",
    "REGIONS",
    "REGION_INDEX",
    "REGION_WEIGHTS",
    "Region",
    "SERVICES",
    "SMALL_BODY",
    "Service",
    "TRUTH_FILE",
    "UA_ANOMALIES",
    "W",
    "WINDOW",
    "generate",
    "hourly_factor",
    "load_truth",
    "principals",
    "random_anomalies",
]
