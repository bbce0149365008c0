"""Writes the gzip and Parquet fixtures of this folder (synthetic data, see README.md)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

HERE = Path(__file__).parent
S3 = "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/03/05"
NAME = "111122223333_vpcflowlogs_eu-west-1_fl-0123456789abcdef0_20240305T1005Z_0a1b2c3d.log.gz"
V5 = """\
flow-direction srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status \
instance-id interface-id account-id vpc-id subnet-id region version
ingress 203.0.113.9 10.1.2.3 51000 443 6 10 4000 1709633100 1709633160 ACCEPT OK \
i-0abc1234def567890 eni-0aaa1111bbb22223c 111122223333 vpc-0f1e2d3c subnet-0a1b2c3d - 5
egress 10.1.2.3 203.0.113.9 443 51000 6 8 9000 1709633100 1709633160 ACCEPT OK \
i-0abc1234def567890 eni-0aaa1111bbb22223c 111122223333 vpc-0f1e2d3c subnet-0a1b2c3d - 5
ingress 203.0.113.9 10.1.2.3 51000 443 6 2 800 1709633400 1709633460 ACCEPT OK \
i-0abc1234def567890 eni-0aaa1111bbb22223c 111122223333 vpc-0f1e2d3c subnet-0a1b2c3d - 5
ingress 2001:db8::77 2001:db8:1::10 40000 22 6 3 180 1709633100 1709633160 REJECT OK \
i-0abc1234def567890 eni-0aaa1111bbb22223c 111122223333 vpc-0f1e2d3c subnet-0a1b2c3d - 5
- - - - - - - - 1709633100 1709633160 - NODATA - eni-0ccc3333ddd44445e 111122223333 - - - 5
- - - - - - - - 1709633100 1709633160 - SKIPDATA - eni-0ccc3333ddd44445e 111122223333 - - - 5
egress 10.1.9.9 198.51.100.53 33333 53 17 1 70 1709636700 1709636760 ACCEPT OK \
- eni-0eee5555fff66667a 111122223333 vpc-0f1e2d3c subnet-0a1b2c3d - 5
"""


def main() -> None:
    (HERE / S3).mkdir(parents=True, exist_ok=True)
    data = gzip.compress(V5.encode(), mtime=0)
    (HERE / S3 / NAME).write_bytes(data)
    (HERE / "corrupt.log.gz").write_bytes(data[: len(data) - 20])
    table = pa.table(
        {
            "version": pa.array([3, 3, 3], pa.int32()),
            "account_id": ["111122223333"] * 3,
            "interface_id": ["eni-0bbb2222ccc33334d"] * 3,
            "srcaddr": ["10.1.5.5", "192.0.2.44", "10.1.5.5"],
            "dstaddr": ["192.0.2.44", "10.1.5.5", "198.51.100.8"],
            "srcport": pa.array([49152, 443, 49153], pa.int32()),
            "dstport": pa.array([443, 49152, 80], pa.int32()),
            "protocol": pa.array([6, 6, 6], pa.int32()),
            "packets": pa.array([5, 4, 1], pa.int64()),
            "bytes": pa.array([500, 4000, 60], pa.int64()),
            "start": pa.array([1709640000, 1709640000, 1709640030], pa.int64()),
            "end": pa.array([1709640060, 1709640060, 1709640090], pa.int64()),
            "action": ["ACCEPT", "ACCEPT", "REJECT"],
            "log_status": ["OK", "OK", "OK"],
            "vpc_id": ["vpc-0f1e2d3c"] * 3,
            "subnet_id": ["subnet-0a1b2c3d"] * 3,
            "instance_id": ["i-0bbb2222ccc333344"] * 3,
        }
    )
    pq.write_table(table, HERE / "v3_instance.parquet", compression="gzip")
    whole = (HERE / "v3_instance.parquet").read_bytes()
    (HERE / "corrupt.parquet").write_bytes(whole[:200] + whole[-300:])


if __name__ == "__main__":
    main()
