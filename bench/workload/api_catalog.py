"""The API catalog: AWS services as CloudTrail records them, their error sets, and every API
the workload calls with its request and response JSON.
"""

from __future__ import annotations

from typing import Final, NamedTuple


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
